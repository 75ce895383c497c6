package main

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
)

// TestDevTwoChains: `autowallet dev` serves Dev L1 (1337) and Dev L2
// (31337, with an L1 data fee), each with a deployed test USDC; /faucet
// drips ETH and test USDC on both, and the service's balances show all
// four; a USDC transfer on the L2 is built with its L1 data fee.
func TestDevTwoChains(t *testing.T) {
	m := startDev(t, t.TempDir(), "-l2-block-period", "100ms")
	defer m.Close()
	nets := m.Service().Networks()
	if len(nets) != 2 || nets[0].ChainID != networks.DevL1ChainID || nets[1].ChainID != networks.DevL2ChainID ||
		nets[0].L1DataFee || !nets[1].L1DataFee || len(nets[0].Tokens) != 1 || len(nets[1].Tokens) != 1 {
		t.Fatalf("networks %+v", nets)
	}
	u := m.Emulator().User(777, "Erin", "erin")
	createWallet(t, u)
	if msg := ask(t, u, "/faucet", anyMessage); !strings.Contains(msg.Text, "dev faucet sent you") ||
		strings.Count(msg.Text, "USDC") != 2 || !strings.Contains(msg.Text, "Dev L2") {
		t.Fatalf("/faucet = %q", msg.Text)
	}
	w, err := m.Service().Wallet(777)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var bs []parent.Balance
	for i := 0; ; i++ {
		bs, err = m.Service().Balances(ctx, w.Address)
		if err != nil {
			t.Fatal(err)
		}
		full := len(bs) == 4
		for _, b := range bs {
			want := devchain.DripAmount
			if !b.Native() {
				want = devchain.TokenDripAmount
			}
			full = full && b.Known() && b.Amount.Cmp(want) == 0
		}
		if full {
			break
		}
		if i == 100 {
			t.Fatalf("balances after the faucet: %+v", bs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000000d1")
	tr, err := m.Service().Build(ctx, parent.BuildRequest{Owner: 777, ChainID: networks.DevL2ChainID,
		Token: nets[1].Tokens[0].Address, To: to, Amount: big.NewInt(25_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	if tr.L1Fee == nil || tr.L1Fee.Sign() <= 0 || tr.Token != nets[1].Tokens[0].Address {
		t.Fatalf("L2 token transfer %+v", tr)
	}
}
