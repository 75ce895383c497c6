package devchain

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// TestDripsBackToBack: drips in a tight loop while blocks are committed never
// reuse a nonce (each gets its own transaction).
func TestDripsBackToBack(t *testing.T) {
	c, err := Start(100*time.Millisecond, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seen := map[common.Hash]bool{}
	for i := range 60 {
		to := common.BigToAddress(common.Big1)
		to[0] = byte(i + 1)
		_, hash, err := c.Drip(context.Background(), to)
		if err != nil {
			t.Fatalf("drip %d: %v", i, err)
		}
		if seen[hash] {
			t.Fatalf("drip %d repeated transaction %s", i, hash.Hex())
		}
		seen[hash] = true
	}
}
