package protocol

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// TestIntentLengthBounds: docs/protocol.md's numbers. The shortest valid
// intent (every number that may be zero is zero, the others are 1) is 72
// bytes, and no shorter byte string decodes; the longest is 197 bytes, 263
// characters of start_param.
func TestIntentLengthBounds(t *testing.T) {
	ones := common.HexToAddress("0x1111111111111111111111111111111111111111")
	short := &Intent{ChainID: 1, From: ones, To: ones, Amount: new(big.Int), GasLimit: 1, MaxFeePerGas: new(big.Int), MaxPriorityFeePerGas: new(big.Int), Expiry: 1}
	b, err := short.MarshalBinary()
	if err != nil || len(b) != 72 || transferV1MinLen != 72 {
		t.Fatalf("shortest intent: %d bytes (%v), transferV1MinLen %d; docs/protocol.md says 72", len(b), err, transferV1MinLen)
	}
	for n := range len(b) {
		var in Intent
		if err := in.UnmarshalBinary(b[:n]); !errors.Is(err, ErrMalformedIntent) {
			t.Fatalf("a %d-byte prefix: %v", n, err)
		}
	}
	maxU := func(bits uint) *big.Int {
		return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), bits), big.NewInt(1))
	}
	long := &Intent{ChainID: 1<<64 - 1, From: ones, To: ones, Token: ones, Amount: maxU(256), Nonce: 1<<64 - 1, GasLimit: 1<<64 - 1,
		MaxFeePerGas: maxU(256), MaxPriorityFeePerGas: maxU(256), Expiry: 1<<64 - 1}
	b, err = long.MarshalBinary()
	if err != nil || len(b) != 197 || transferV1MaxLen != 197 {
		t.Fatalf("longest intent: %d bytes (%v); docs/protocol.md says 197", len(b), err)
	}
	sp, err := long.EncodeStartParam()
	if err != nil || len(sp) != 263 {
		t.Fatalf("longest start_param: %d characters (%v); docs/protocol.md says 263", len(sp), err)
	}
	sp, _ = short.EncodeStartParam()
	if len(sp) != 96 {
		t.Fatalf("shortest start_param: %d characters; docs/protocol.md says 96", len(sp))
	}
}
