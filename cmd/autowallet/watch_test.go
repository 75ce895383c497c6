package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/networks"
)

// The alerts of `autowallet dev` with a real geth --dev: a wallet created
// through the bot after the watcher started (the OnWalletCreated hook) is
// watched, and a deposit to it reaches its owner once, as the bot's
// "Received …" message.
func TestDevStartAlerts(t *testing.T) {
	node := testchain.Start(t)
	m := startDev(t, t.TempDir(), "-rpc", node.URL)
	defer m.Close()
	u := m.Emulator().User(557, "Finn", "finn")
	createWallet(t, u)
	w, err := m.Service().Wallet(557)
	if err != nil {
		t.Fatal(err)
	}
	r := node.Fund(t, w.Address, bigETH(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := "Received 1 ETH on " + networks.DevL1().Name + " from "
	if _, err := u.WaitMessage(ctx, func(m emulator.Message) bool { return m.FromBot && strings.HasPrefix(m.Text, want) }); err != nil {
		t.Fatalf("no %q: %v", want, err)
	}
	time.Sleep(500 * time.Millisecond)
	n := 0
	for _, m := range u.Messages() {
		if m.FromBot && strings.HasPrefix(m.Text, "Received") {
			n++
			if !strings.Contains(m.Text, r.TxHash.Hex()) {
				t.Fatalf("alert %q does not name %s", m.Text, r.TxHash.Hex())
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d alerts, want 1", n)
	}
}
