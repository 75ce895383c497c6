package enclave

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/attestation"
	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// TestIdentityDerivation: the identity key is a function of the vault key
// alone: two signers (two enclaves, or one before and after a restart)
// unlocked with the same vault key hold the same key, which is the spec's
// HKDF as the test vectors compute it independently; another vault key
// gives another identity; a locked signer has none.
func TestIdentityDerivation(t *testing.T) {
	f := newFixture(t)
	a := f.newSigner(f.cfg, testvectors.VaultKey())
	b := f.newSigner(f.cfg, testvectors.VaultKey())
	want := testvectors.IdentityKey().Public().(ed25519.PublicKey)
	if !bytes.Equal(a.IdentityPublicKey(), want) || !bytes.Equal(b.IdentityPublicKey(), want) {
		t.Fatalf("identities %x and %x, want %x", a.IdentityPublicKey(), b.IdentityPublicKey(), want)
	}
	other := f.newSigner(f.cfg, bytes.Repeat([]byte{0xee}, 32))
	if bytes.Equal(other.IdentityPublicKey(), want) || len(other.IdentityPublicKey()) != ed25519.PublicKeySize {
		t.Fatalf("another vault key gave identity %x", other.IdentityPublicKey())
	}
	if k := f.newSigner(f.cfg, nil).IdentityPublicKey(); k != nil {
		t.Fatalf("a locked signer has identity %x", k)
	}
	// A proof from one signer verifies against the other's key: what the
	// page pins holds for every enclave of the deployment.
	w, err := a.CreateWallet(alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := protocol.VerifyStatement(b.IdentityPublicKey(), alice, w.Address, w.Proof); err != nil {
		t.Fatal(err)
	}
	if err := protocol.VerifyStatement(other.IdentityPublicKey(), alice, w.Address, w.Proof); !errors.Is(err, protocol.ErrBadWalletProof) {
		t.Fatalf("another deployment's key verified the proof: %v", err)
	}
}

// TestApproveBadWalletProof: an intent whose proof is by another key, for
// another owner or for another address is refused with bad_wallet_proof,
// and the same intent with the right proof is signed.
func TestApproveBadWalletProof(t *testing.T) {
	f := newFixture(t)
	a, w := f.validApproval()
	if _, err := f.approve(a); err != nil {
		t.Fatal(err)
	}
	for name, proof := range map[string][]byte{
		"by another key":      testvectors.WalletProof(bytes.Repeat([]byte{0xee}, 32), alice, w.Address),
		"for another owner":   testvectors.WalletProof(testvectors.VaultKey(), bob, w.Address),
		"for another address": testvectors.WalletProof(testvectors.VaultKey(), alice, common.HexToAddress("0x3333333333333333333333333333333333333333")),
		"zero bytes":          make([]byte, 64),
	} {
		t.Run(name, func(t *testing.T) {
			in := f.intent(w.Address)
			in.WalletProof = proof
			a.startParam = f.startParam(in)
			_, err := f.approve(a)
			wantRefusal(t, err, protocol.ErrBadWalletProof)
			if protocol.CodeOf(err) != protocol.CodeBadWalletProof || protocol.CodeBadWalletProof.HTTPStatus() != 403 {
				t.Fatalf("code %s", protocol.CodeOf(err))
			}
		})
	}
}

// TestApproveRefusesWalletLink: a receive link (kind 0x02) is not a
// transfer; the enclave never signs from it.
func TestApproveRefusesWalletLink(t *testing.T) {
	f := newFixture(t)
	a, w := f.validApproval()
	link, err := (&protocol.WalletLink{Owner: alice, Address: w.Address, Proof: w.Proof}).EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	a.startParam = link
	_, err = f.approve(a)
	wantRefusal(t, err, protocol.ErrMalformedIntent)
}

// TestCreateWalletProof: the proof CreateWallet returns verifies with the
// identity key for the owner and the new address, and for nothing else.
func TestCreateWalletProof(t *testing.T) {
	f := newFixture(t)
	w := f.wallet(alice)
	pub := f.signer.IdentityPublicKey()
	if err := protocol.VerifyStatement(pub, alice, w.Address, w.Proof); err != nil {
		t.Fatal(err)
	}
	if err := protocol.VerifyStatement(pub, bob, w.Address, w.Proof); !errors.Is(err, protocol.ErrBadWalletProof) {
		t.Fatalf("verified for bob: %v", err)
	}
}

// TestStatement: a statement is made only from a record that opens under
// this vault key; refusals in the documented order.
func TestStatement(t *testing.T) {
	f := newFixture(t)
	w := f.wallet(alice)
	st, err := f.signer.Statement(w.Record)
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner != alice || common.Address(st.Address) != w.Address || protocol.VerifyStatement(f.signer.IdentityPublicKey(), alice, w.Address, st.Proof) != nil {
		t.Fatalf("statement %+v", st)
	}
	vec := vectorRecord(t)
	if st, err := f.signer.Statement(mustHex(t, vec.Record)); err != nil || common.Address(st.Address).Hex() != vec.Address ||
		!bytes.Equal(st.Proof, testvectors.WalletProof(testvectors.VaultKey(), alice, common.HexToAddress(vec.Address))) {
		t.Fatalf("vector record: %+v, %v", st, err)
	}
	for name, c := range map[string]struct {
		signer *Signer
		rec    []byte
		want   error
	}{
		"locked":             {f.newSigner(f.cfg, nil), []byte{9}, protocol.ErrVaultLocked},
		"empty":              {f.signer, nil, protocol.ErrMalformedRecord},
		"truncated":          {f.signer, w.Record[:10], protocol.ErrMalformedRecord},
		"owner rewritten":    {f.signer, withOwner(w.Record, bob), protocol.ErrRecordTampered},
		"address rewritten":  {f.signer, withAddress(w.Record, common.HexToAddress("0x33")), protocol.ErrRecordTampered},
		"flipped ciphertext": {f.signer, flipBit(w.Record, 50), protocol.ErrRecordTampered},
		"another vault key":  {f.newSigner(f.cfg, bytes.Repeat([]byte{0xee}, 32)), w.Record, protocol.ErrRecordTampered},
	} {
		t.Run(name, func(t *testing.T) {
			st, err := c.signer.Statement(c.rec)
			if st != nil {
				t.Fatalf("statement %+v", st)
			}
			wantRefusal(t, err, c.want)
		})
	}
}

// TestHTTPStatementAndWalletProof: POST /v1/wallets answers a proof and
// POST /v1/statement the same statement for the record; a tampered record
// is record_tampered in the API's error shape.
func TestHTTPStatementAndWalletProof(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	status, body := call(t, "POST", url+protocol.PathWallets, []byte(`{"owner":424242}`))
	var w protocol.CreateWalletResponse
	decodeStrict(t, body, &w)
	if status != 200 || protocol.VerifyStatement(testvectors.IdentityKey().Public().(ed25519.PublicKey), alice, common.HexToAddress(w.Address), w.Proof) != nil {
		t.Fatalf("%d %s", status, body)
	}
	req, _ := json.Marshal(protocol.StatementRequest{Record: w.Record})
	status, body = call(t, "POST", url+protocol.PathStatement, req)
	var st protocol.StatementResponse
	decodeStrict(t, body, &st)
	if status != 200 || st.Owner != alice || st.Address != w.Address || !bytes.Equal(st.Proof, w.Proof) {
		t.Fatalf("%d %s", status, body)
	}
	req, _ = json.Marshal(protocol.StatementRequest{Record: flipBit(w.Record, 50)})
	status, body = call(t, "POST", url+protocol.PathStatement, req)
	wantErrorShape(t, status, body, protocol.CodeRecordTampered)
	status, body = call(t, "GET", url+protocol.PathStatement, nil)
	wantErrorShape(t, status, body, protocol.CodeMethodNotAllowed)
}

// TestAttestationBindsIdentity: while locked a document has no public_key;
// once unlocked it binds the 32-byte identity public key.
func TestAttestationBindsIdentity(t *testing.T) {
	root, err := LoadOrCreateDevRoot(filepath.Join(t.TempDir(), "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	nsm, err := NewDevNSM(root, EncodeConfig(testConfig()), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(testConfig(), Options{Entropy: bytes.NewReader(nil), Attester: nsm})
	if err != nil {
		t.Fatal(err)
	}
	read := func() []byte {
		raw, err := s.Attest([]byte{7})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := attestation.Verify(raw, attestation.Options{Time: time.Now(), RootSHA256: nsm.Root().SHA256(), Nonce: []byte{7}, PCRs: map[int][]byte{0: nsm.PCR0()}})
		if err != nil {
			t.Fatal(err)
		}
		return doc.PublicKey
	}
	if pk := read(); len(pk) != 0 {
		t.Fatalf("locked document binds public_key %x", pk)
	}
	if err := s.Unlock(testvectors.VaultKey()); err != nil {
		t.Fatal(err)
	}
	if pk := read(); !bytes.Equal(pk, testvectors.IdentityKey().Public().(ed25519.PublicKey)) {
		t.Fatalf("unlocked document binds public_key %x", pk)
	}
}
