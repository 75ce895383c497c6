package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/protocol"
)

// TestFaultKillDuringWalletCreation kills the parent (SIGKILL) at the two
// points of wallet creation:
//
//   - after the enclave made the wallet and before the parent stored it (the
//     enclave's answer is on its way back): the wallet is lost, which is
//     harmless because nobody saw its address; after a restart the user's
//     wallet is absent or, if Telegram redelivers the tap, created anew,
//     and creating it works;
//   - after it was stored, while the bot sends the wallet card: after a
//     restart the user's wallet is there, with the same address.
//
// Then every stored wallet's record opens in the enclave, and every address
// a user was shown is stored as theirs (checkPromises).
func TestFaultKillDuringWalletCreation(t *testing.T) {
	w := newFaultWorld(t)
	p := w.startParent()

	// 1. Killed between the enclave's answer and the store.
	ann := w.emu.User(7001, "Ann", "ann")
	var killedAtEnclave atomic.Bool
	hook := func(path string) error {
		if path == protocol.PathWallets && killedAtEnclave.CompareAndSwap(false, true) {
			kill9(t, p)
			return errors.New("parent killed")
		}
		return nil
	}
	w.enclaveHook.Store(&hook)
	greeting := ask(t, ann, "/start", anyMessage)
	go pressQuietly(ann, greeting.ID, "w:create")
	if !waitFor(30*time.Second, killedAtEnclave.Load) {
		t.Fatal("the parent never asked the enclave for a wallet")
	}
	w.enclaveHook.Store(nil)
	for _, m := range ann.Messages() {
		if m.FromBot && addressPattern.MatchString(m.Caption+m.Text) {
			t.Fatalf("an address was shown before the wallet was stored: %q", m.Caption+m.Text)
		}
	}

	// 2. Killed after the store, as the bot sends the wallet card.
	p = w.startParent()
	ben := w.emu.User(7002, "Ben", "ben")
	var killedAtCard atomic.Bool
	bh := func(method string) bool {
		if strings.EqualFold(method, "sendPhoto") && killedAtCard.CompareAndSwap(false, true) {
			kill9(t, p)
			return true
		}
		return false
	}
	w.botHook.Store(&bh)
	greeting = ask(t, ben, "/start", anyMessage)
	go pressQuietly(ben, greeting.ID, "w:create")
	if !waitFor(30*time.Second, killedAtCard.Load) {
		t.Fatal("the bot never sent a wallet card")
	}
	w.botHook.Store(nil)

	// Restart: both users get a wallet card; Ben's is the stored wallet.
	p = w.startParent()
	annCard := walletCard(t, ann)
	benCard := walletCard(t, ben)
	stopParent(t, p)
	w.checkPromises(ann, ben)
	for _, c := range []string{annCard, benCard} {
		if !addressPattern.MatchString(c) {
			t.Fatalf("wallet card without an address: %q", c)
		}
	}
}

// pressQuietly taps a button; the parent may die before it answers.
func pressQuietly(u *emulator.User, id int, data string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u.PressContext(ctx, id, data)
}

// walletCard returns the user's wallet card after /start, tapping Create
// wallet if they have none yet.
func walletCard(t *testing.T, u *emulator.User) string {
	t.Helper()
	m := ask(t, u, "/start", anyMessage)
	if isPhoto(m) {
		return m.Caption
	}
	if _, err := u.Press(m.ID, "w:create"); err != nil {
		t.Fatal(err)
	}
	card := waitMessage(t, u, "wallet card", func(x emulator.Message) bool { return x.ID > m.ID && isPhoto(x) })
	return card.Caption
}
