package protocol

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// TestTransferSelector: the hard-coded selector is keccak256 of the
// function's signature.
func TestTransferSelector(t *testing.T) {
	if got := crypto.Keccak256([]byte("transfer(address,uint256)"))[:4]; !bytes.Equal(got, TransferSelector[:]) {
		t.Fatalf("selector %x, keccak says %x", TransferSelector, got)
	}
}

// TestTransferCallData: the exact 68 bytes, byte by byte, at the edges of
// the amount's range.
func TestTransferCallData(t *testing.T) {
	to := common.HexToAddress("0x1111111111111111111111111111111111111111")
	max256 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	for _, c := range []struct {
		amount *big.Int
		want   string
	}{
		{big.NewInt(0), "a9059cbb" + "000000000000000000000000" + "1111111111111111111111111111111111111111" + "0000000000000000000000000000000000000000000000000000000000000000"},
		{big.NewInt(25_000_000), "a9059cbb" + "000000000000000000000000" + "1111111111111111111111111111111111111111" + "00000000000000000000000000000000000000000000000000000000017d7840"},
		{max256, "a9059cbb" + "000000000000000000000000" + "1111111111111111111111111111111111111111" + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	} {
		got := TransferCallData(to, c.amount)
		if hex.EncodeToString(got) != c.want || len(got) != TransferCallDataSize {
			t.Errorf("amount %s: %x, want %s", c.amount, got, c.want)
		}
	}
	for _, bad := range []*big.Int{big.NewInt(-1), new(big.Int).Lsh(big.NewInt(1), 256)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("amount %s did not panic", bad)
				}
			}()
			TransferCallData(to, bad)
		}()
	}
}

// TestIntentTransaction: a native intent is value to To with no data; a
// token intent is value 0 to the token with transfer(To, Amount).
func TestIntentTransaction(t *testing.T) {
	in := validIntent()
	if in.TxTo() != in.To || in.TxValue().Cmp(in.Amount) != 0 || in.TxData() != nil {
		t.Fatalf("native: to %s value %s data %x", in.TxTo().Hex(), in.TxValue(), in.TxData())
	}
	// TxValue is a copy: changing it does not change the intent.
	in.TxValue().SetInt64(1)
	if in.Amount.Cmp(big.NewInt(5e16)) != 0 {
		t.Fatal("TxValue aliases Amount")
	}
	token := common.HexToAddress("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238")
	in.Token = token
	if in.TxTo() != token || in.TxValue().Sign() != 0 || !bytes.Equal(in.TxData(), TransferCallData(in.To, in.Amount)) {
		t.Fatalf("token: to %s value %s data %x", in.TxTo().Hex(), in.TxValue(), in.TxData())
	}
}
