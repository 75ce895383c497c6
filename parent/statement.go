package parent

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// walletProof is the enclave's proof that w's address is its owner's, asked
// once per wallet with /v1/statement and kept in memory. The parent cannot
// make or check one that matters (the enclave and the page verify it with
// the identity key); it only refuses an answer about another wallet, which
// would be a mix-up.
func (s *Service) walletProof(ctx context.Context, w storage.Wallet) ([]byte, error) {
	if p, ok := s.proofs.Load(w.Address); ok {
		return bytes.Clone(p.([]byte)), nil
	}
	st, err := s.enclave.Statement(ctx, w.Record)
	if err != nil {
		return nil, err
	}
	if st.Owner != w.Owner || common.HexToAddress(st.Address) != w.Address {
		return nil, fmt.Errorf("%w: the statement is for another wallet", ErrEnclaveUnavailable)
	}
	s.proofs.Store(w.Address, bytes.Clone(st.Proof))
	return st.Proof, nil
}

// ReceiveLink is the start_param of the Mini App's Receive view for the
// user's wallet (docs/protocol.md, kind 0x02): owner, address and the
// enclave's proof, which the page checks with its pinned identity key and
// the user id in its own launch data. ErrNoWallet if there is none.
func (s *Service) ReceiveLink(ctx context.Context, owner int64) (string, error) {
	w, err := s.Wallet(owner)
	if err != nil {
		return "", err
	}
	proof, err := s.walletProof(ctx, w)
	if err != nil {
		return "", err
	}
	return (&protocol.WalletLink{Owner: w.Owner, Address: w.Address, Proof: proof}).EncodeStartParam()
}
