package bolt

import (
	"errors"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// Every state change of a transfer that has a card queues one edit, in the
// same transaction, whatever moved it (Store.UpdateTransfer or a Tx);
// changes that the card already shows queue none.
func TestCardEditsQueuedWithStateChanges(t *testing.T) {
	db, _ := openTestDB(t)
	mustWallet(t, db, 1)
	tr := newTransfer("t1", 1, 0)
	tr.MessageID = 0 // the card is sent after the transfer is built
	if _, err := db.CreateTransfer(tr); err != nil {
		t.Fatal(err)
	}
	// The card's id stored while built: the card shows built already.
	if _, err := db.UpdateTransfer("t1", func(x *storage.Transfer) error { x.ChatID, x.MessageID = 1, 42; return nil }); err != nil {
		t.Fatal(err)
	}
	moveTo(t, db, "t1", storage.StateConfirmed) // approved, sent, confirmed
	// A refused change queues nothing (the transaction rolls back).
	if _, err := db.UpdateTransfer("t1", func(x *storage.Transfer) error { x.State = storage.StateBuilt; return nil }); !errors.Is(err, storage.ErrInvalidTransition) {
		t.Fatalf("confirmed -> built: %v", err)
	}
	edits, err := db.PendingCardEdits(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var states []storage.State
	for _, e := range edits {
		if e.TransferID != "t1" {
			t.Fatalf("edit %+v", e)
		}
		states = append(states, e.State)
	}
	if want := []storage.State{storage.StateApproved, storage.StateSent, storage.StateConfirmed}; len(states) != 3 || states[0] != want[0] || states[1] != want[1] || states[2] != want[2] {
		t.Fatalf("queued %v, want %v", states, want)
	}
	// Paging and removal.
	page, _ := db.PendingCardEdits(edits[0].Seq, 1)
	if len(page) != 1 || page[0].Seq != edits[1].Seq {
		t.Fatalf("page after %d: %+v", edits[0].Seq, page)
	}
	if err := db.CardEditsDone(edits[0].Seq, edits[1].Seq, 999); err != nil {
		t.Fatal(err)
	}
	if left, _ := db.PendingCardEdits(0, 100); len(left) != 1 || left[0].State != storage.StateConfirmed {
		t.Fatalf("left %+v", left)
	}
	if _, err := db.PendingCardEdits(0, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("limit 0: %v", err)
	}
}

// A quick Cancel before the card's id was stored: storing the id then
// queues the edit that shows the cancel. A transfer without a card queues
// nothing; a change inside Update queues its edit with the rest.
func TestCardEditWhenCardStoredLate(t *testing.T) {
	db, _ := openTestDB(t)
	mustWallet(t, db, 1)
	for _, id := range []string{"t1", "t2"} {
		tr := newTransfer(id, 1, map[string]uint64{"t1": 0, "t2": 1}[id])
		tr.MessageID = 0
		if _, err := db.CreateTransfer(tr); err != nil {
			t.Fatal(err)
		}
	}
	moveTo(t, db, "t1", storage.StateCancelled)
	if e, _ := db.PendingCardEdits(0, 10); len(e) != 0 {
		t.Fatalf("edits without a card: %+v", e)
	}
	if _, err := db.UpdateTransfer("t1", func(x *storage.Transfer) error { x.MessageID = 7; return nil }); err != nil {
		t.Fatal(err)
	}
	err := db.Update(func(tx storage.Tx) error {
		if _, err := tx.UpdateTransfer("t2", func(x *storage.Transfer) error { x.MessageID = 8; return nil }); err != nil {
			return err
		}
		_, err := tx.UpdateTransfer("t2", func(x *storage.Transfer) error { advance(x, storage.StateSuperseded); return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := db.PendingCardEdits(0, 10)
	if len(e) != 2 || e[0].TransferID != "t1" || e[0].State != storage.StateCancelled || e[1].TransferID != "t2" || e[1].State != storage.StateSuperseded {
		t.Fatalf("edits %+v", e)
	}
}

func TestWalletCard(t *testing.T) {
	db, dir := openTestDB(t)
	if _, err := db.WalletCard(1); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("no card: %v", err)
	}
	if err := db.SetWalletCard(1, storage.Card{ChatID: -100, MessageID: 0}); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("message 0: %v", err)
	}
	if err := db.SetWalletCard(1, storage.Card{ChatID: -100123, MessageID: 77}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if c, err := db.WalletCard(1); err != nil || c != (storage.Card{ChatID: -100123, MessageID: 77}) {
		t.Fatalf("after reopen: %+v %v", c, err)
	}
}

// The reservation's arithmetic: a burst goes at once, then one per
// interval, the chat's limit and the bot's both kept; the answer is a
// wait, on the store's clock. A chat's slot is taken in order however far
// ahead; the bot's only when near, so a chat that waits holds up no other
// chat.
func TestReserveSend(t *testing.T) {
	c := newClock()
	db, err := Open(t.TempDir(), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := storage.SendLimits{Global: storage.RateLimit{Every: 30 * time.Millisecond, Burst: 4}, Chat: storage.RateLimit{Every: time.Second, Burst: 2}}
	reserve := func(chat int64) (time.Duration, bool) {
		t.Helper()
		w, ok, err := db.ReserveSend(chat, l)
		if err != nil {
			t.Fatal(err)
		}
		return w, ok
	}
	for i := range 2 {
		if w, ok := reserve(7); w != 0 || !ok {
			t.Fatalf("chat 7 message %d: wait %v reserved %v", i, w, ok)
		}
	}
	// The chat's burst is spent: its third slot is taken about a second
	// ahead, the bot's is not; the fourth is two seconds ahead (in order).
	if w, ok := reserve(7); ok || w < 900*time.Millisecond || w > time.Second {
		t.Fatalf("chat 7 third message: wait %v reserved %v", w, ok)
	}
	if w, ok := reserve(7); ok || w < 1900*time.Millisecond {
		t.Fatalf("chat 7 fourth message: wait %v reserved %v", w, ok)
	}
	// So the bot's budget is untouched by them: chats 8 and 9 go now, and
	// the fifth message of the bot's burst of 4 waits one interval; the
	// bot's slot alone (chat 0) comes after it.
	for _, chat := range []int64{8, 9} {
		if w, ok := reserve(chat); w != 0 || !ok {
			t.Fatalf("chat %d: wait %v reserved %v", chat, w, ok)
		}
	}
	if w, ok := reserve(10); !ok || w <= 0 || w > 30*time.Millisecond {
		t.Fatalf("fifth of a burst of 4: wait %v reserved %v", w, ok)
	}
	if w, ok := reserve(0); !ok || w <= 30*time.Millisecond || w > 60*time.Millisecond {
		t.Fatalf("the bot's slot alone: wait %v reserved %v", w, ok)
	}
	if _, _, err := db.ReserveSend(1, storage.SendLimits{}); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("no limits: %v", err)
	}
}
