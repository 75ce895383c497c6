package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
)

// startAlerts on `autowallet dev` with a real geth --dev: a wallet created
// through the bot after the watcher started (the OnWalletCreated hook) is
// watched, and a deposit to it reaches notify once.
func TestDevStartAlerts(t *testing.T) {
	node := testchain.Start(t)
	m := startDev(t, t.TempDir(), "-rpc", node.URL)
	defer m.Close()
	n := networks.DevL1()
	n.RPCURL = node.URL
	var mu sync.Mutex
	var got []storage.Deposit
	_, err := m.host.startAlerts(networks.Set{n}, func(_ context.Context, d storage.Deposit) error {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	u := m.Emulator().User(557, "Finn", "finn")
	createWallet(t, u)
	w, err := m.Service().Wallet(557)
	if err != nil {
		t.Fatal(err)
	}
	r := node.Fund(t, w.Address, bigETH(1))
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].TxHash != r.TxHash || got[0].Owner != 557 {
		t.Fatalf("alerts %+v, want one for %s", got, r.TxHash)
	}
}
