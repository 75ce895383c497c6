package parent

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/storage"
)

// transferTopic is topic 0 of ERC-20's Transfer(address,address,uint256).
var transferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// tokenMoved reports whether a successful receipt of t moved what t says.
// A native transfer moved its value by the receipt's status alone. A token
// transfer counts only when the receipt carries the token contract's own
// Transfer event from t.From to t.To of exactly t.Amount: a token whose
// transfer returns false without reverting (allowed by ERC-20) would
// otherwise be shown "confirmed" while nothing moved.
func tokenMoved(t storage.Transfer, logs []*types.Log) bool {
	if t.Token == (common.Address{}) || t.Amount == nil {
		return true
	}
	for _, l := range logs {
		if l == nil || l.Address != t.Token || len(l.Topics) != 3 || l.Topics[0] != transferTopic || len(l.Data) != 32 {
			continue
		}
		if common.BytesToAddress(l.Topics[1].Bytes()) != t.From || common.BytesToAddress(l.Topics[2].Bytes()) != t.To {
			continue
		}
		if new(big.Int).SetBytes(l.Data).Cmp(t.Amount) == 0 {
			return true
		}
	}
	return false
}
