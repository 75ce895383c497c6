package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/testvectors"
)

// TestStatementVectors decodes every testdata/statements vector, verifies
// the decodable ones with the vector's identity key, and checks the fields
// and the signed message; valid ones re-encode to the same text.
func TestStatementVectors(t *testing.T) {
	for _, v := range testvectors.Load[testvectors.StatementVector](t, vectorsDir+"/statements") {
		t.Run(v.Name, func(t *testing.T) {
			vec := v.Vector
			pub := ed25519.PublicKey(mustHexT(t, vec.IdentityKey))
			l, err := DecodeWalletLink(vec.StartParam)
			if err == nil {
				if strconv.FormatInt(l.Owner, 10) != vec.Owner || l.Address.Hex() != vec.Address || hex.EncodeToString(l.Proof) != vec.Proof {
					t.Fatalf("decoded %+v, the vector says %s %s %s", l, vec.Owner, vec.Address, vec.Proof)
				}
				m, err := StatementMessage(l.Owner, l.Address)
				if err != nil || hex.EncodeToString(m) != vec.Message || len(m) != StatementLength {
					t.Fatalf("message %x (%v), the vector says %s", m, err, vec.Message)
				}
				err = l.Verify(pub)
				wantCode(t, err, Code(vec.Expect))
				again, err := l.EncodeStartParam()
				if err != nil || again != vec.StartParam {
					t.Fatalf("re-encoded %q, %v", again, err)
				}
				return
			}
			wantCode(t, err, Code(vec.Expect))
		})
	}
}

// TestStatementMessageLayout pins the 59-byte layout of the spec.
func TestStatementMessageLayout(t *testing.T) {
	addr := common.HexToAddress("0x00112233445566778899aabbccddeeff00112233")
	m, err := StatementMessage(0x0102030405060708, addr)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("autowallet wallet statement v1\x00\x01\x02\x03\x04\x05\x06\x07\x08"), addr[:]...)
	if !bytes.Equal(m, want) || len(m) != 59 {
		t.Fatalf("message %x", m)
	}
	for _, owner := range []int64{0, -1, math.MinInt64} {
		if _, err := StatementMessage(owner, addr); !errors.Is(err, ErrMalformedRequest) {
			t.Fatalf("owner %d: %v", owner, err)
		}
	}
	if _, err := StatementMessage(1, common.Address{}); !errors.Is(err, ErrMalformedRequest) {
		t.Fatalf("zero address: %v", err)
	}
}

// TestVerifyStatement: a proof verifies only for its key, owner and address;
// every refusal is bad_wallet_proof.
func TestVerifyStatement(t *testing.T) {
	key := testvectors.IdentityKey()
	pub := key.Public().(ed25519.PublicKey)
	addr := common.HexToAddress("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
	proof, err := SignStatement(key, 42, addr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(proof, testvectors.WalletProof(testvectors.VaultKey(), 42, addr)) {
		t.Fatal("SignStatement and the test helper disagree")
	}
	if err := VerifyStatement(pub, 42, addr, proof); err != nil {
		t.Fatal(err)
	}
	other := testvectors.IdentityKeyFor(bytes.Repeat([]byte{0xee}, 32))
	otherProof, _ := SignStatement(other, 42, addr)
	cases := map[string]error{
		"another owner":   VerifyStatement(pub, 43, addr, proof),
		"another address": VerifyStatement(pub, 42, common.HexToAddress("0x1111111111111111111111111111111111111111"), proof),
		"another key":     VerifyStatement(pub, 42, addr, otherProof),
		"short proof":     VerifyStatement(pub, 42, addr, proof[:63]),
		"no proof":        VerifyStatement(pub, 42, addr, nil),
		"short key":       VerifyStatement(pub[:31], 42, addr, proof),
		"owner zero":      VerifyStatement(pub, 0, addr, proof),
	}
	for name, err := range cases {
		if !errors.Is(err, ErrBadWalletProof) || CodeOf(err) != CodeBadWalletProof || CodeBadWalletProof.HTTPStatus() != 403 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestWalletLinkEncodeRefuses: no link that would not decode gets a text.
func TestWalletLinkEncodeRefuses(t *testing.T) {
	addr := common.HexToAddress("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
	ok := &WalletLink{Owner: 1, Address: addr, Proof: make([]byte, 64)}
	text, err := ok.EncodeStartParam()
	if err != nil || len(text) != 126 {
		t.Fatalf("%q %v", text, err)
	}
	for name, l := range map[string]*WalletLink{
		"owner zero":   {Owner: 0, Address: addr, Proof: make([]byte, 64)},
		"zero address": {Owner: 1, Proof: make([]byte, 64)},
		"short proof":  {Owner: 1, Address: addr, Proof: make([]byte, 63)},
	} {
		if _, err := l.EncodeStartParam(); !errors.Is(err, ErrMalformedIntent) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
