package watch

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
)

// TestWrongChainNeverSteps: a network whose RPC node serves another chain
// (here the simulated chain 1337 configured as Dev L2, 31337) fails the
// chain check with ErrWrongChain, and Run never scans a block of it: no
// cursor is stored and a deposit on the node's chain is not announced as
// one on the configured network.
func TestWrongChainNeverSteps(t *testing.T) {
	alice := newWallet(1)
	s := newSim(t)
	db := openStore(t, tempDir(t))
	defer db.Close()
	storeWallets(t, db, alice)
	n := devNetwork(1)
	n.ChainID, n.Name = networks.DevL2ChainID, "Dev L2"
	addrs, err := LoadAddresses(db)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{Network: n, Source: s.source(), Store: db, Addresses: addrs, Poll: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CheckChain(context.Background()); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("CheckChain = %v, want ErrWrongChain", err)
	}
	tx := s.send(s.faucet, &alice.addr, eth(1), nil)
	s.mine(3, tx.Hash())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	w.Run(ctx)
	if c, err := db.WatchCursor(n.ChainID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a cursor %+v (%v) was stored for a node of another chain", c, err)
	}
	if a, _ := db.PendingAlerts(10); len(a) != 0 {
		t.Fatalf("alerts %+v from a node of another chain", a)
	}
}
