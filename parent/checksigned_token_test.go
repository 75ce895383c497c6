package parent

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// TestCheckSignedToken: for a token intent only value 0 to the token
// contract with exactly transfer(to, amount) passes; the native form of the
// same intent, other calldata, a value or another recipient is refused
// before broadcast.
func TestCheckSignedToken(t *testing.T) {
	key, _ := crypto.GenerateKey()
	token := common.HexToAddress("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238")
	in := protocol.Intent{ChainID: 1337, From: crypto.PubkeyToAddress(key.PublicKey), To: common.HexToAddress("0x1111111111111111111111111111111111111111"),
		Token: token, Amount: big.NewInt(25_000_000), Nonce: 3, GasLimit: 65000, MaxFeePerGas: big.NewInt(3e9), MaxPriorityFeePerGas: big.NewInt(1e9),
		Expiry: 2e9, WalletProof: make([]byte, protocol.WalletProofSize)}
	bin, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tr := storage.Transfer{ID: "x", Intent: bin}
	sign := func(edit func(*types.DynamicFeeTx)) ([]byte, common.Hash) {
		to := token
		d := &types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: in.Nonce, GasTipCap: in.MaxPriorityFeePerGas, GasFeeCap: in.MaxFeePerGas,
			Gas: in.GasLimit, To: &to, Value: new(big.Int), Data: protocol.TransferCallData(in.To, in.Amount)}
		edit(d)
		tx, err := types.SignTx(types.NewTx(d), types.LatestSignerForChainID(d.ChainID), key)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tx.MarshalBinary()
		return raw, tx.Hash()
	}
	if raw, h := sign(func(*types.DynamicFeeTx) {}); checkSigned(raw, h, tr) != nil {
		t.Fatal("the exact token transfer was refused")
	}
	cases := map[string]func(*types.DynamicFeeTx){
		"native form": func(d *types.DynamicFeeTx) { d.To, d.Value, d.Data = &in.To, in.Amount, nil },
		"value":       func(d *types.DynamicFeeTx) { d.Value = big.NewInt(1) },
		"no data":     func(d *types.DynamicFeeTx) { d.Data = nil },
		"approve":     func(d *types.DynamicFeeTx) { d.Data[0], d.Data[1], d.Data[2], d.Data[3] = 0x09, 0x5e, 0xa7, 0xb3 },
		"amount":      func(d *types.DynamicFeeTx) { d.Data = protocol.TransferCallData(in.To, big.NewInt(25_000_001)) },
		"recipient":   func(d *types.DynamicFeeTx) { d.Data = protocol.TransferCallData(common.Address{2}, in.Amount) },
		"extra byte":  func(d *types.DynamicFeeTx) { d.Data = append(d.Data, 0) },
		"other token": func(d *types.DynamicFeeTx) { a := common.Address{3}; d.To = &a },
	}
	for name, edit := range cases {
		raw, h := sign(edit)
		if err := checkSigned(raw, h, tr); !errors.Is(err, ErrEnclaveUnavailable) {
			t.Errorf("%s: %v, want refusal", name, err)
		}
	}
}
