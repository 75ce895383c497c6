package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
)

// TestReserveSendWhilePruneHoldsRow plays the interleaving a prune can
// meet: it has locked a chat's past slot (PruneSendSlots' FOR UPDATE) when
// a ReserveSend of that chat starts, and deletes the row before it lets
// go. The reservation must wait for the prune and then write the chat's
// new time into a fresh row, so the chat's next message still waits. (With
// an INSERT … ON CONFLICT DO NOTHING, which does not lock, the reservation
// would read the row gone and write the chat's time nowhere.)
func TestReserveSendWhilePruneHoldsRow(t *testing.T) {
	srv := pgtest.Start(t)
	db := open(t, srv.NewDatabase(t))
	ctx := context.Background()
	l := storage.SendLimits{Global: storage.RateLimit{Every: time.Microsecond, Burst: 1000}, Chat: storage.RateLimit{Every: time.Minute, Burst: 1}}
	short := storage.SendLimits{Global: l.Global, Chat: storage.RateLimit{Every: time.Millisecond, Burst: 1}}
	if _, _, err := db.ReserveSend(5, short); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // chat 5's slot is past: prunable
	prune, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer prune.Rollback(ctx)
	var locked int64
	if err := prune.QueryRow(ctx, `SELECT chat_id FROM send_slots WHERE chat_id = 5 AND tat < clock_timestamp() FOR UPDATE SKIP LOCKED`).Scan(&locked); err != nil {
		t.Fatal(err)
	}
	type result struct {
		wait time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		w, _, err := db.ReserveSend(5, l)
		done <- result{w, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("the reservation did not wait for the prune's lock: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := prune.Exec(ctx, `DELETE FROM send_slots WHERE chat_id = 5`); err != nil {
		t.Fatal(err)
	}
	if err := prune.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.wait > storage.SendHorizon {
		t.Fatalf("reservation after the prune: %+v", r)
	}
	if w, ok, err := db.ReserveSend(5, l); err != nil || ok || w < 50*time.Second {
		t.Fatalf("chat 5's next message: wait %v reserved %v %v; want about a minute (the first's slot was lost)", w, ok, err)
	}
}
