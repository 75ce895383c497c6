package parent_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// TestTokenMovedNeedsTheTransferEvent: a mined token transfer counts as
// confirmed only with the token contract's own Transfer event from the
// wallet to the recipient of exactly the amount; a contract that answers
// success and logs nothing (or logs something else) is "failed". The
// end-to-end positive case is TestGethTokensThroughMiniAppApproval.
func TestTokenMovedNeedsTheTransferEvent(t *testing.T) {
	token := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	from := common.HexToAddress("0x00000000000000000000000000000000000000f1")
	to := common.HexToAddress("0x00000000000000000000000000000000000000f2")
	tr := storage.Transfer{From: from, To: to, Token: token, Amount: big.NewInt(25_000_000)}
	topic := crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))
	event := func(contract, a, b common.Address, amount int64) *types.Log {
		return &types.Log{Address: contract, Topics: []common.Hash{topic, common.BytesToHash(a.Bytes()), common.BytesToHash(b.Bytes())},
			Data: common.LeftPadBytes(big.NewInt(amount).Bytes(), 32)}
	}
	other := common.HexToAddress("0x00000000000000000000000000000000000000bb")
	for _, c := range []struct {
		name string
		logs []*types.Log
		want bool
	}{
		{"the exact event", []*types.Log{event(token, from, to, 25_000_000)}, true},
		{"among other logs", []*types.Log{event(other, from, to, 25_000_000), event(token, from, to, 25_000_000)}, true},
		{"no log (returned false without reverting)", nil, false},
		{"another contract's event", []*types.Log{event(other, from, to, 25_000_000)}, false},
		{"another amount", []*types.Log{event(token, from, to, 1)}, false},
		{"another recipient", []*types.Log{event(token, from, other, 25_000_000)}, false},
		{"another sender", []*types.Log{event(token, other, to, 25_000_000)}, false},
	} {
		if got := parent.TokenMoved(tr, c.logs); got != c.want {
			t.Errorf("%s: tokenMoved = %v, want %v", c.name, got, c.want)
		}
	}
	native := storage.Transfer{From: from, To: to, Amount: big.NewInt(1)}
	if !parent.TokenMoved(native, nil) {
		t.Error("a native transfer needs no log")
	}
}
