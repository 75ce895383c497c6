package bot_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// flowAwayStore is the real store with parts of the database "away" on
// demand (storage.ErrUnavailable, as the PostgreSQL engine answers while
// its server restarts): the chat flows, the user's transfer list, or the
// write transactions Build makes.
type flowAwayStore struct {
	*bolt.DB
	flows, transfers, writes atomic.Bool
}

var errAway = fmt.Errorf("test: %w", storage.ErrUnavailable)

func (s *flowAwayStore) Flow(chatID int64) (storage.Flow, error) {
	if s.flows.Load() {
		return storage.Flow{}, errAway
	}
	return s.DB.Flow(chatID)
}

func (s *flowAwayStore) PutFlow(chatID int64, expect uint64, data []byte, ttl time.Duration) (storage.Flow, error) {
	if s.flows.Load() {
		return storage.Flow{}, errAway
	}
	return s.DB.PutFlow(chatID, expect, data, ttl)
}

func (s *flowAwayStore) DeleteFlow(chatID int64, expect uint64) (bool, error) {
	if s.flows.Load() {
		return false, errAway
	}
	return s.DB.DeleteFlow(chatID, expect)
}

func (s *flowAwayStore) TransfersByOwner(owner int64, limit, offset int) ([]storage.Transfer, error) {
	if s.transfers.Load() {
		return nil, errAway
	}
	return s.DB.TransfersByOwner(owner, limit, offset)
}

func (s *flowAwayStore) Update(fn func(tx storage.Tx) error) error {
	if s.writes.Load() {
		return errAway
	}
	return s.DB.Update(fn)
}

// TestWebhookStoreAwayGuidedSendHistoryCancel: the guided /send's steps,
// /history, /cancel and the send's Cancel button, each met with the store
// away, say nothing and leave the update to the redelivery (503); once the
// store is back the redelivery does the step once, with its normal answer
// and never an error reply. The last step, whose flow has left the store
// when Build meets the store away, puts the flow back so the redelivery
// builds the transfer.
func TestWebhookStoreAwayGuidedSendHistoryCancel(t *testing.T) {
	away := &flowAwayStore{}
	w := servingOver(t, func(db *bolt.DB) storage.Store {
		away.DB = db
		return away
	})
	u := fundedHookUser(t, w, 831, "Gus")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	to := common.HexToAddress("0x1111111111111111111111111111111111111111").Hex()

	// step runs act with flag set until the webhook answered 503 three
	// times with no new reply, then clears it and wants exactly one new
	// reply, which must contain want.
	step := func(name string, flag *atomic.Bool, act func(), want string) emulator.Message {
		t.Helper()
		replies := botReplies(u)
		before := w.emu.WebhookStats().Status[http.StatusServiceUnavailable]
		flag.Store(true)
		act()
		deadline := time.Now().Add(20 * time.Second)
		for w.emu.WebhookStats().Status[http.StatusServiceUnavailable] < before+3 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no 503 while the store is away: %+v", name, w.emu.WebhookStats())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := botReplies(u); n != replies {
			t.Fatalf("%s: %d new replies while the store is away, want none: %+v", name, n-replies, u.Messages()[replies:])
		}
		flag.Store(false)
		waitReplies(t, u, replies+1)
		var last emulator.Message
		for _, m := range u.Messages() {
			if m.FromBot {
				last = m
			}
		}
		text := last.Text + last.Caption
		for _, bad := range []string{"went wrong", "could not", "not used", "is over", "already over"} {
			if strings.Contains(text, bad) {
				t.Fatalf("%s: error reply %q", name, text)
			}
		}
		if !strings.Contains(text, want) {
			t.Fatalf("%s: reply %q, want it to say %q", name, text, want)
		}
		return last
	}

	// /send naming the amount: reading the chat's flow fails first.
	step("/send", &away.flows, func() { u.Send("/send 0.01 ETH on Dev L1") }, "Who do you want to send")
	// The recipient: the stored flow cannot be read; back, it builds.
	step("recipient", &away.flows, func() { u.Send(to) }, "0.01")
	// /send asking for the amount, then the amount: Build's write fails
	// after the flow left the store; it is put back, and the redelivery
	// builds.
	step("/send to", &away.flows, func() { u.Send("/send ETH to " + to + " on Dev L1") }, "How much")
	step("amount", &away.writes, func() { u.Send("0.02") }, "0.02")
	if _, err := away.DB.Flow(u.ID()); err == nil {
		t.Fatal("the send's flow is still stored after the transfer was built")
	}
	// /history: the transfer list cannot be read.
	step("/history", &away.transfers, func() { u.Send("/history") }, "Your transfers")
	// /cancel: the transfer waiting for approval (the second took the
	// first's place at the nonce); the list cannot be read.
	step("/cancel", &away.transfers, func() { u.Send("/cancel") }, "Cancelled your transfer of 0.02 ETH")
	// The Cancel button of a guided send: the flow cannot be ended.
	q := step("/send again", &away.flows, func() { u.Send("/send ETH to " + to + " on Dev L1") }, "How much")
	step("Cancel button", &away.flows, func() {
		if _, err := u.Press(q.ID, "f:cancel"); err != nil {
			t.Error(err)
		}
	}, "Cancelled. Nothing was sent.")

	if n, err := away.DB.TransfersByOwner(u.ID(), 10, 0); err != nil || len(n) != 2 {
		t.Fatalf("transfers built: %d (%v), want 2: one per finished send", len(n), err)
	}
	if err := w.emu.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	if s := w.emu.WebhookStats(); s.GaveUp != 0 {
		t.Fatalf("the emulator gave up on updates: %+v", s)
	}
}

// servingOver starts one webhook parent whose store is wrap(its bbolt
// file), for tests that make the store fail or panic on cue, and waits
// until it serves.
func servingOver(t *testing.T, wrap func(*bolt.DB) storage.Store) *hookWorld {
	t.Helper()
	w := newHookWorld(t, hookOptions{instances: 1, stack: teststack.Options{WrapStore: wrap}})
	w.waitServing(t)
	return w
}

// fundedHookUser is a user of w who has pressed Create wallet, got the
// card, and whose wallet holds the faucet's drip (mined).
func fundedHookUser(t *testing.T, w *hookWorld, id int64, name string) *emulator.User {
	t.Helper()
	u := w.emu.User(id, name, strings.ToLower(name))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u.Send("/start")
	greeting, err := u.WaitMessage(ctx, func(m emulator.Message) bool { return m.FromBot && len(m.Buttons) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Press(greeting.ID, greeting.Buttons[0][0].CallbackData); err != nil {
		t.Fatal(err)
	}
	if _, err := u.WaitMessage(ctx, func(m emulator.Message) bool { return m.PhotoFileID != "" }); err != nil {
		t.Fatal(err)
	}
	wal, err := w.stack.Store.WalletByOwner(u.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.stack.Chain.Drip(ctx, wal.Address); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the drip mined", func() bool { return bal(t, w.stack.Chain, wal.Address).Sign() > 0 })
	return u
}
