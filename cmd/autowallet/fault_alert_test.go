package main

import (
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/storage/bolt"
)

// TestFaultKillBeforeAlert: money arrives; the real `autowallet parent`
// process stores the deposit's block and is killed (SIGKILL) at the moment
// it sends the "Received" message, which Telegram never gets. The alert
// waits in the store's outbox; a new parent process on the same data folder
// sends it, and the user gets exactly one "Received" message.
func TestFaultKillBeforeAlert(t *testing.T) {
	w := newFaultWorld(t)
	p := w.startParent()
	u := w.emu.User(7301, "Esme", "esme")
	card := createWallet(t, u)
	addr := common.HexToAddress(addressPattern.FindString(card.Caption))

	// The first sendMessage after the wallet exists is the alert: kill the
	// parent while it is in flight and drop it.
	killed := make(chan struct{})
	var once sync.Once
	hook := func(method string) bool {
		if method != "sendMessage" {
			return false
		}
		once.Do(func() {
			p.cmd.Process.Kill()
			close(killed)
		})
		return true
	}
	w.botHook.Store(&hook)
	w.node.Fund(t, addr, big.NewInt(1e18))
	select {
	case <-killed:
	case <-time.After(90 * time.Second):
		t.Fatalf("the parent never sent the alert; log:\n%s", w.parentLogs())
	}
	p.cmd.Wait()
	w.botHook.Store(nil)
	if n := received(u); n != 0 {
		t.Fatalf("%d Received messages before the restart", n)
	}
	if n := pendingAlerts(t, w.data); n != 1 {
		t.Fatalf("%d alerts in the outbox after the kill, want 1", n)
	}

	p = w.startParent()
	waitMessage(t, u, "the Received message", func(m emulator.Message) bool { return strings.HasPrefix(m.Text, "Received") })
	// A repeat would come within a few polls (200ms) of the first.
	time.Sleep(3 * time.Second)
	stopParent(t, p)
	if n := received(u); n != 1 {
		t.Fatalf("%d Received messages, want exactly 1", n)
	}
	if n := pendingAlerts(t, w.data); n != 0 {
		t.Fatalf("%d alerts still in the outbox", n)
	}
	w.checkPromises(u)
}

func received(u *emulator.User) int {
	n := 0
	for _, m := range u.Messages() {
		if strings.HasPrefix(m.Text, "Received") {
			n++
		}
	}
	return n
}

func pendingAlerts(t *testing.T, data string) int {
	t.Helper()
	store, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a, err := store.PendingAlerts(100)
	if err != nil {
		t.Fatal(err)
	}
	return len(a)
}
