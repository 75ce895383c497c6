package storagetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// testPruneSendSlots: PruneSendSlots forgets the chats whose slot lies in
// the past, at most limit per call, and keeps the chats still waiting and
// the bot's own slot: after a prune a waiting chat still waits as long, and
// the bot's bucket still holds.
func testPruneSendSlots(t *testing.T, open Open) {
	s := open(t)
	_, err := s.PruneSendSlots(0)
	wantErr(t, err, storage.ErrInvalid, "limit 0")
	short := storage.SendLimits{Global: storage.RateLimit{Every: time.Millisecond, Burst: 1000}, Chat: storage.RateLimit{Every: 5 * time.Millisecond, Burst: 1}}
	long := storage.SendLimits{Global: short.Global, Chat: storage.RateLimit{Every: time.Minute, Burst: 1}}
	for chat := int64(1); chat <= 3; chat++ { // slots 5 ms ahead: soon past
		if _, _, err := s.ReserveSend(chat, short); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.ReserveSend(9, long); err != nil { // a minute ahead: in use
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n, err := s.PruneSendSlots(2); err != nil || n != 2 {
		t.Fatalf("prune with limit 2 = %d, %v; want 2 of the 3 past slots", n, err)
	}
	if n, err := s.PruneSendSlots(100); err != nil || n != 1 {
		t.Fatalf("second prune = %d, %v; want the third past slot only (chat 9's is in use)", n, err)
	}
	if n, err := s.PruneSendSlots(100); err != nil || n != 0 {
		t.Fatalf("third prune = %d, %v; want nothing left to prune", n, err)
	}
	// Chat 9 kept its slot: its next message waits about a minute.
	if w, ok, err := s.ReserveSend(9, long); err != nil || ok || w < 50*time.Second {
		t.Fatalf("chat 9 after the prune: wait %v reserved %v %v; want about a minute", w, ok, err)
	}
	// A pruned chat starts fresh: no wait.
	if w, ok, err := s.ReserveSend(1, short); err != nil || !ok || w > storage.SendHorizon {
		t.Fatalf("chat 1 after the prune: wait %v reserved %v %v", w, ok, err)
	}
	// The bot's slot is never pruned: a bucket of 1 per minute taken now
	// still holds after a prune.
	slow := storage.SendLimits{Global: storage.RateLimit{Every: time.Minute, Burst: 1}, Chat: short.Chat}
	if _, ok, err := s.ReserveSend(0, slow); err != nil || !ok {
		t.Fatalf("bot slot: %v %v", ok, err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := s.PruneSendSlots(100); err != nil {
		t.Fatal(err)
	}
	if w, ok, err := s.ReserveSend(0, slow); err != nil || ok || w < 50*time.Second {
		t.Fatalf("bot slot after the prune: wait %v reserved %v %v; want about a minute", w, ok, err)
	}
}

// testPruneSendSlotsConcurrent: a prune running all the time beside the
// reservations never loses a chat's slot. Each round lets chat 5's slot
// pass (prunable), then reserves twice at once: the second must wait for
// the first's slot (20 ms minus the time between them), whatever the prune
// did in between.
func testPruneSendSlotsConcurrent(t *testing.T, open Open) {
	s := open(t)
	l := storage.SendLimits{Global: storage.RateLimit{Every: time.Microsecond, Burst: 1000}, Chat: storage.RateLimit{Every: 20 * time.Millisecond, Burst: 1}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var pruned atomic.Int64
	wg.Go(func() {
		for !stop.Load() {
			n, err := s.PruneSendSlots(10)
			if err != nil {
				t.Error(err)
				return
			}
			pruned.Add(int64(n))
		}
	})
	defer func() { stop.Store(true); wg.Wait() }()
	for round := range 40 {
		time.Sleep(2*l.Chat.Every + 5*time.Millisecond) // both slots of the last round past
		t0 := time.Now()
		if _, _, err := s.ReserveSend(5, l); err != nil {
			t.Fatal(err)
		}
		w, _, err := s.ReserveSend(5, l)
		if err != nil {
			t.Fatal(err)
		}
		// The store's clock read the first reservation's time after t0 and
		// the second's before now: the second waits at least Every minus
		// the time between.
		if least := l.Chat.Every - time.Since(t0); w < least-time.Millisecond {
			t.Fatalf("round %d: the second message waits %v, want at least %v: the first's slot was lost", round, w, least)
		}
	}
	stop.Store(true)
	wg.Wait()
	if pruned.Load() == 0 {
		t.Fatal("the prune never removed a slot: the test did not race it")
	}
}
