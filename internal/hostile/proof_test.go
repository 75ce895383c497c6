package hostile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// TestHostileWalletProof: a host crafts intents around wallet proofs it can
// get or make (another user's, another deployment's, its own key's, none,
// a receive link, a version 1 intent without proof); the real enclave
// process refuses each by reason, and signs nothing but the honest one.
// docs/threat-model.md, "Part 2: the user checks their own address".
func TestHostileWalletProof(t *testing.T) {
	wd := newWorld(t)
	w, tg := wd.w, wd.tg
	now := time.Now()

	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostProof, err := protocol.SignStatement(hostKey, alice, wd.aliceAddr)
	if err != nil {
		t.Fatal(err)
	}
	other := startEnclave(t, wd.configPath, filepath.Join(t.TempDir(), "other-vault.key"))
	otherAddr, _ := newWire(t, other.addr).createWallet(alice)
	// The other deployment's proof for alice and an address; relabelled to
	// alice's address here it is still the wrong key's.
	otherProof := proofFor(otherAddr)

	for name, proof := range map[string][]byte{
		"bob's proof for bob's wallet":      proofFor(wd.bobAddr),
		"another deployment's proof":        otherProof,
		"a proof by the host's own key":     hostProof,
		"64 zero bytes":                     make([]byte, protocol.WalletProofSize),
		"alice's proof with a bit flipped":  flip(proofFor(wd.aliceAddr)),
		"a proof for alice's other address": testvectors.WalletProof(readFile(t, wd.keyFile), alice, otherAddr),
	} {
		t.Run(name, func(t *testing.T) {
			in := transfer(wd.aliceAddr, 0)
			in.WalletProof = proof
			w.refused(protocol.CodeBadWalletProof, tg.sign(alice, startParam(t, in), now), wd.aliceRec)
		})
	}

	t.Run("receive link as an approval", func(t *testing.T) {
		link, err := (&protocol.WalletLink{Owner: alice, Address: wd.aliceAddr, Proof: proofFor(wd.aliceAddr)}).EncodeStartParam()
		if err != nil {
			t.Fatal(err)
		}
		w.refused(protocol.CodeMalformedIntent, tg.sign(alice, link, now), wd.aliceRec)
	})

	t.Run("version 1 intent", func(t *testing.T) {
		b, err := transfer(wd.aliceAddr, 0).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		v1 := bytes.Clone(b[:len(b)-protocol.WalletProofSize])
		v1[1] = protocol.TransferV1
		w.refused(protocol.CodeMalformedIntent, tg.sign(alice, base64URL(v1), now), wd.aliceRec)
	})

	if n := len(w.signatures()); n != 0 {
		t.Fatalf("%d transactions signed", n)
	}
	// The honest intent, with the proof the enclave gave, is signed.
	w.approve(tg.sign(alice, startParam(t, transfer(wd.aliceAddr, 0)), now), wd.aliceRec)
	if n := len(w.signatures()); n != 1 {
		t.Fatalf("%d transactions signed, want 1", n)
	}
}

// TestHostileIdentityAcrossRestart: the enclave process restarted with the
// same vault key shows the same identity key (health and statements), so
// the key the page pins keeps working; a proof made before the restart is
// still accepted, and one from another vault key is not.
func TestHostileIdentityAcrossRestart(t *testing.T) {
	wd := newWorld(t)
	before := healthIdentity(t, wd.enc.addr)
	if want := hex.EncodeToString(testvectors.IdentityKeyFor(readFile(t, wd.keyFile)).Public().(ed25519.PublicKey)); before != want {
		t.Fatalf("identity_key %q, want the HKDF of the vault key %q", before, want)
	}
	wd.enc.cmd.Process.Kill()
	wd.enc.cmd.Wait()
	again := startEnclave(t, wd.configPath, wd.keyFile)
	if after := healthIdentity(t, again.addr); after != before {
		t.Fatalf("identity key changed across a restart: %s -> %s", before, after)
	}
	w := newWire(t, again.addr)
	status, body := w.postJSON(protocol.PathStatement, protocol.StatementRequest{Record: wd.aliceRec})
	var st protocol.StatementResponse
	if status != 200 || json.Unmarshal(body, &st) != nil || !bytes.Equal(st.Proof, proofFor(wd.aliceAddr)) || st.Owner != alice || common.HexToAddress(st.Address) != wd.aliceAddr {
		t.Fatalf("statement after restart: %d %s", status, body)
	}
	w.approve(wd.tg.sign(alice, startParam(t, transfer(wd.aliceAddr, 0)), time.Now()), wd.aliceRec)

	other := startEnclave(t, wd.configPath, filepath.Join(t.TempDir(), "other-vault.key"))
	if id := healthIdentity(t, other.addr); id == before || len(id) != 64 {
		t.Fatalf("another vault key has identity %q", id)
	}
}

func healthIdentity(t *testing.T, addr string) string {
	t.Helper()
	resp, err := httpClient.Get("http://" + addr + protocol.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h protocol.HealthResponse
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Vault != "unlocked" {
		t.Fatalf("health %+v, %v", h, err)
	}
	return h.IdentityKey
}

func flip(b []byte) []byte {
	c := bytes.Clone(b)
	c[0] ^= 1
	return c
}
