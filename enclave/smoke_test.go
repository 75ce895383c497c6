package enclave

import (
	"crypto/ed25519"
	"crypto/rand"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/protocol"
)

func TestSmoke(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	cfg := &Config{BotID: 42, TelegramPublicKey: pub, AllowedChainIDs: []uint64{1337}, MaxAuthAge: time.Hour, ClockSkew: time.Minute}
	s, err := NewSigner(cfg, Options{Entropy: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	s.Unlock(make([]byte, 32))
	w, err := s.CreateWallet(7)
	if err != nil {
		t.Fatal(err)
	}
	in := &protocol.Intent{ChainID: 1337, From: w.Address, To: common.HexToAddress("0x1111111111111111111111111111111111111111"), Amount: big.NewInt(5e16), Nonce: 3, GasLimit: 21000, MaxFeePerGas: big.NewInt(3e9), MaxPriorityFeePerGas: big.NewInt(1e9), Expiry: uint64(time.Now().Add(10 * time.Minute).Unix())}
	sp, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(len(sp), sp)
	initData := protocol.SignInitData(map[string]string{"user": `{"id":7,"first_name":"A"}`, "auth_date": strconv.FormatInt(time.Now().Unix(), 10), "start_param": sp}, 42, priv, "")
	sg, err := s.Approve(initData, w.Record)
	if err != nil {
		t.Fatal(err)
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(sg.RawTx); err != nil {
		t.Fatal(err)
	}
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx)
	if err != nil || from != w.Address {
		t.Fatal(from, err)
	}
}
