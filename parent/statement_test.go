package parent_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// TestBuildCarriesWalletProof: a built intent is version 2 and its wallet
// proof is the enclave's statement for (owner, from), which verifies with
// the enclave's identity key; ReceiveLink carries the same statement.
func TestBuildCarriesWalletProof(t *testing.T) {
	s := newStack(t)
	w := s.fundedWallet(t, 1001, big.NewInt(1e18))
	tr := s.build(t, 1001, common.HexToAddress("0x1111111111111111111111111111111111111111"), "0.01")
	in, err := protocol.DecodeStartParam(tr.StartParam)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.enclave.Signer.IdentityPublicKey()
	if err := protocol.VerifyStatement(pub, 1001, w.Address, in.WalletProof); err != nil {
		t.Fatal(err)
	}
	var stored protocol.Intent
	if err := stored.UnmarshalBinary(tr.Intent); err != nil || string(stored.WalletProof) != string(in.WalletProof) {
		t.Fatalf("stored intent %v", err)
	}

	link, err := s.svc.ReceiveLink(context.Background(), 1001)
	if err != nil {
		t.Fatal(err)
	}
	l, err := protocol.DecodeWalletLink(link)
	if err != nil || l.Owner != 1001 || l.Address != w.Address || l.Verify(ed25519.PublicKey(pub)) != nil {
		t.Fatalf("receive link %q: %+v, %v", link, l, err)
	}
	if _, err := s.svc.ReceiveLink(context.Background(), 1002); !errors.Is(err, parent.ErrNoWallet) {
		t.Fatalf("receive link without a wallet: %v", err)
	}
	// The approval of the built intent is signed: the enclave accepts the
	// proof the parent put in.
	if _, err := s.svc.Approve(context.Background(), s.enclave.InitData(1001, tr.StartParam)); err != nil {
		t.Fatal(err)
	}
}
