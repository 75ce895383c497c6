package protocol

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// TestIntentLengthBounds: docs/protocol.md's numbers. The shortest valid
// intent (every number that may be zero is zero, the others are 1) is 136
// bytes (72 before the 64-byte wallet proof), and no shorter byte string
// decodes; the longest is 261 bytes, 348 characters of start_param.
func TestIntentLengthBounds(t *testing.T) {
	ones := common.HexToAddress("0x1111111111111111111111111111111111111111")
	short := &Intent{ChainID: 1, From: ones, To: ones, Amount: new(big.Int), GasLimit: 1, MaxFeePerGas: new(big.Int), MaxPriorityFeePerGas: new(big.Int), Expiry: 1, WalletProof: make([]byte, WalletProofSize)}
	b, err := short.MarshalBinary()
	if err != nil || len(b) != 136 || transferV1MinLen != 72 || TransferV2MinLen != 136 {
		t.Fatalf("shortest intent: %d bytes (%v), transferV1MinLen %d; docs/protocol.md says 136 (72 + 64)", len(b), err, transferV1MinLen)
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
		MaxFeePerGas: maxU(256), MaxPriorityFeePerGas: maxU(256), Expiry: 1<<64 - 1, WalletProof: make([]byte, WalletProofSize)}
	b, err = long.MarshalBinary()
	if err != nil || len(b) != 261 || transferV1MaxLen != 197 || TransferV2MaxLen != 261 {
		t.Fatalf("longest intent: %d bytes (%v); docs/protocol.md says 261 (197 + 64)", len(b), err)
	}
	sp, err := long.EncodeStartParam()
	if err != nil || len(sp) != 348 {
		t.Fatalf("longest start_param: %d characters (%v); docs/protocol.md says 348", len(sp), err)
	}
	sp, _ = short.EncodeStartParam()
	if len(sp) != 182 {
		t.Fatalf("shortest start_param: %d characters; docs/protocol.md says 182", len(sp))
	}
}
