package devchain

import (
	"context"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/parent"
)

// TestDevChain: the simulated chain answers JSON-RPC over HTTP like a node,
// produces blocks on its own, and its faucet pays.
func TestDevChain(t *testing.T) {
	c, err := Start(200*time.Millisecond, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	chain, err := parent.DialChain(ctx, c.URL, ChainID, parent.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	amount, hash, err := c.Drip(ctx, to)
	if err != nil || amount.Cmp(DripAmount) != 0 {
		t.Fatalf("Drip = %v, %v", amount, err)
	}
	for i := 0; ; i++ {
		r, err := chain.Receipt(ctx, hash)
		if err == nil && r.Succeeded() {
			break
		}
		if i == 100 {
			t.Fatalf("faucet transaction not mined: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b, err := chain.Balance(ctx, to); err != nil || b.Cmp(big.NewInt(1e18)) != 0 {
		t.Fatalf("balance = %v, %v; want 1 ETH", b, err)
	}
	if _, _, err := chain.Fees(ctx); err != nil {
		t.Fatalf("Fees: %v", err)
	}
}
