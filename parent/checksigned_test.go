package parent

import (
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// TestCheckSigned: only the exact stored intent, signed by the transfer's
// wallet, passes; any other field or signer is refused before broadcast.
func TestCheckSigned(t *testing.T) {
	key, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	in := protocol.Intent{ChainID: 1337, From: crypto.PubkeyToAddress(key.PublicKey), To: common.HexToAddress("0x1111111111111111111111111111111111111111"),
		Amount: big.NewInt(5e16), Nonce: 3, GasLimit: 21000, MaxFeePerGas: big.NewInt(3e9), MaxPriorityFeePerGas: big.NewInt(1e9), Expiry: 2e9,
		WalletProof: make([]byte, protocol.WalletProofSize)}
	bin, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tr := storage.Transfer{ID: "x", Intent: bin}
	sign := func(k any, edit func(*types.DynamicFeeTx)) ([]byte, common.Hash) {
		to := in.To
		d := &types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: in.Nonce, GasTipCap: in.MaxPriorityFeePerGas, GasFeeCap: in.MaxFeePerGas,
			Gas: in.GasLimit, To: &to, Value: in.Amount}
		edit(d)
		tx, err := types.SignTx(types.NewTx(d), types.LatestSignerForChainID(d.ChainID), k.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tx.MarshalBinary()
		return raw, tx.Hash()
	}
	if raw, h := sign(key, func(*types.DynamicFeeTx) {}); checkSigned(raw, h, tr) != nil {
		t.Fatal("the exact intent was refused")
	}
	cases := map[string]func(*types.DynamicFeeTx){
		"amount": func(d *types.DynamicFeeTx) { d.Value = big.NewInt(6e16) },
		"recipient": func(d *types.DynamicFeeTx) {
			a := common.HexToAddress("0x2222222222222222222222222222222222222222")
			d.To = &a
		},
		"nonce":   func(d *types.DynamicFeeTx) { d.Nonce++ },
		"chain":   func(d *types.DynamicFeeTx) { d.ChainID = big.NewInt(1) },
		"gas":     func(d *types.DynamicFeeTx) { d.Gas = 50000 },
		"max fee": func(d *types.DynamicFeeTx) { d.GasFeeCap = big.NewInt(9e9) },
		"tip":     func(d *types.DynamicFeeTx) { d.GasTipCap = big.NewInt(2e9) },
		"data":    func(d *types.DynamicFeeTx) { d.Data = []byte{1} },
	}
	for name, edit := range cases {
		raw, h := sign(key, edit)
		if err := checkSigned(raw, h, tr); !errors.Is(err, ErrEnclaveUnavailable) {
			t.Errorf("%s changed: %v, want refusal", name, err)
		}
	}
	raw, h := sign(other, func(*types.DynamicFeeTx) {})
	if err := checkSigned(raw, h, tr); !errors.Is(err, ErrEnclaveUnavailable) {
		t.Errorf("signed by another key: %v, want refusal", err)
	}
	raw, _ = sign(key, func(*types.DynamicFeeTx) {})
	if err := checkSigned(raw, common.Hash{1}, tr); !errors.Is(err, ErrEnclaveUnavailable) {
		t.Errorf("wrong hash: %v, want refusal", err)
	}
}
