package storagetest

import (
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// Cards and send slots across parents (issue 11): storage/cards.go,
// storage/sendslots.go.

// testCardEdits: every state change of a transfer with a card queues one
// edit in the change's transaction; a refused change queues none; the id
// of a card stored after the state left built queues one; paging and
// removal.
func testCardEdits(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	tr := NewTransfer("t1", 1, 0)
	tr.MessageID = 0
	if _, err := s.CreateTransfer(tr); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTransfer("t1", func(x *storage.Transfer) error { x.MessageID = 42; return nil }); err != nil {
		t.Fatal(err)
	}
	moveTo(t, s, "t1", storage.StateConfirmed)
	_, err := s.UpdateTransfer("t1", func(x *storage.Transfer) error { x.State = storage.StateBuilt; return nil })
	wantErr(t, err, storage.ErrInvalidTransition, "confirmed -> built")
	tr2 := NewTransfer("t2", 1, 1)
	tr2.MessageID = 0
	if _, err := s.CreateTransfer(tr2); err != nil {
		t.Fatal(err)
	}
	moveTo(t, s, "t2", storage.StateCancelled) // no card yet: nothing queued
	err = s.Update(func(tx storage.Tx) error {
		_, err := tx.UpdateTransfer("t2", func(x *storage.Transfer) error { x.MessageID = 43; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	edits, err := s.PendingCardEdits(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range edits {
		got = append(got, e.TransferID+":"+e.State.String())
	}
	want := []string{"t1:approved", "t1:sent", "t1:confirmed", "t2:cancelled"}
	if !slices.Equal(got, want) {
		t.Fatalf("queued %v, want %v", got, want)
	}
	page, err := s.PendingCardEdits(edits[1].Seq, 1)
	if err != nil || len(page) != 1 || page[0].Seq != edits[2].Seq {
		t.Fatalf("page after %d: %+v %v", edits[1].Seq, page, err)
	}
	if err := s.CardEditsDone(edits[0].Seq, edits[1].Seq, edits[3].Seq+1000); err != nil {
		t.Fatal(err)
	}
	left, _ := s.PendingCardEdits(0, 100)
	if len(left) != 2 || left[0].Seq != edits[2].Seq || left[1].Seq != edits[3].Seq {
		t.Fatalf("left %+v", left)
	}
	_, err = s.PendingCardEdits(0, 0)
	wantErr(t, err, storage.ErrInvalid, "limit 0")
}

func testWalletCards(t *testing.T, open Open) {
	s := open(t)
	_, err := s.WalletCard(1)
	wantErr(t, err, storage.ErrNotFound, "no card")
	wantErr(t, s.SetWalletCard(1, storage.Card{ChatID: 5}), storage.ErrInvalid, "message 0")
	wantErr(t, s.SetWalletCard(1, storage.Card{MessageID: 5}), storage.ErrInvalid, "chat 0")
	for _, c := range []storage.Card{{ChatID: 1, MessageID: 10}, {ChatID: -100123, MessageID: 77}} {
		if err := s.SetWalletCard(1, c); err != nil {
			t.Fatal(err)
		}
		if got, err := s.WalletCard(1); err != nil || got != c {
			t.Fatalf("card %+v, %v; want %+v", got, err, c)
		}
	}
}

// testSendSlots: parents reserving at once (goroutines on one store) get
// slots that keep the token buckets, and a chat that waits takes no slot.
func testSendSlots(t *testing.T, open Open) {
	s := open(t)
	l := storage.SendLimits{Global: storage.RateLimit{Every: 20 * time.Millisecond, Burst: 5}, Chat: storage.RateLimit{Every: time.Hour / 60, Burst: 2}}
	_, _, err := s.ReserveSend(1, storage.SendLimits{})
	wantErr(t, err, storage.ErrInvalid, "no limits")
	// Chat 7: a burst of 2, then the third's chat slot is a minute away:
	// taken, but not the bot's (reserved false: ask for chat 0 then).
	for i := range 2 {
		if w, ok, err := s.ReserveSend(7, l); err != nil || !ok || w > storage.SendHorizon {
			t.Fatalf("chat 7 message %d: %v %v %v", i, w, ok, err)
		}
	}
	if w, ok, err := s.ReserveSend(7, l); err != nil || ok || w < 50*time.Second {
		t.Fatalf("chat 7 third message: wait %v reserved %v %v", w, ok, err)
	}
	if w, ok, err := s.ReserveSend(7, l); err != nil || ok || w < 110*time.Second {
		t.Fatalf("chat 7 fourth message (after the third): wait %v reserved %v %v", w, ok, err)
	}
	// 40 messages to 40 chats from 8 goroutines: the reservations that
	// were granted, laid out at their times, keep the bot's bucket.
	var mu = make(chan struct{}, 1)
	var at []time.Time
	start := time.Now()
	parallel(8, func(g int) {
		for i := range 5 {
			chat := int64(100 + g*5 + i)
			for {
				w, ok, err := s.ReserveSend(chat, l)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu <- struct{}{}
					at = append(at, time.Now().Add(w))
					<-mu
					break
				}
				time.Sleep(w)
				chat = 0 // the chat's slot is held: the bot's alone now
			}
		}
	})
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	for i := range at {
		for j := i; j < len(at); j++ {
			// One of slack: the wait is measured from the store's clock and
			// laid out on this one.
			if n, allowed := j-i+1, l.Global.Burst+int(at[j].Sub(at[i])/l.Global.Every)+1; n > allowed {
				t.Fatalf("%d slots in %v: more than %d (bucket %v, burst %d)", n, at[j].Sub(at[i]), allowed, l.Global.Every, l.Global.Burst)
			}
		}
	}
	// 2 of chat 7 + 40 at 20 ms each after a burst of 5: at least ~0.7 s.
	if d := at[len(at)-1].Sub(start); d < 600*time.Millisecond {
		t.Fatalf("40 slots laid out over %v only", d)
	}
}
