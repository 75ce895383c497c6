package bot

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
)

// TestSendSlotsPruned: the bot's pruning, on a bbolt file and on a real
// PostgreSQL server, removes every past chat slot in one run (in batches
// of SendSlotPruneBatch), keeps a chat's slot still in use, so that chat
// still waits, and runs by itself until its context ends.
func TestSendSlotsPruned(t *testing.T) {
	short := storage.SendLimits{Global: storage.RateLimit{Every: time.Microsecond, Burst: 1000}, Chat: storage.RateLimit{Every: time.Millisecond, Burst: 1}}
	long := storage.SendLimits{Global: short.Global, Chat: storage.RateLimit{Every: time.Minute, Burst: 1}}
	const past = SendSlotPruneBatch + SendSlotPruneBatch/2
	engines := map[string]func(t *testing.T) storage.Store{
		"bbolt": func(t *testing.T) storage.Store {
			db, err := bolt.Open(filepath.Join(t.TempDir(), "data"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			for chat := int64(1); chat <= past; chat++ {
				if _, _, err := db.ReserveSend(chat, short); err != nil {
					t.Fatal(err)
				}
			}
			return db
		},
		"postgres": func(t *testing.T) storage.Store {
			ctx := context.Background()
			db, err := postgres.Open(ctx, pgtest.Start(t).NewDatabase(t), postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			// The rows of past reservations, written at once.
			if _, err := db.Pool().Exec(ctx, `INSERT INTO send_slots SELECT g, now() - interval '1 second' FROM generate_series(1, $1::bigint) g`, past); err != nil {
				t.Fatal(err)
			}
			return db
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if _, _, err := s.ReserveSend(past+1, long); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			log := slog.New(slog.DiscardHandler)
			if n := pruneSendSlots(s, log); n != past {
				t.Fatalf("one run pruned %d, want all %d past slots", n, past)
			}
			if w, ok, err := s.ReserveSend(past+1, long); err != nil || ok || w < 50*time.Second {
				t.Fatalf("the chat in use after the prune: wait %v reserved %v %v; want about a minute", w, ok, err)
			}
			// The loop: a past slot goes within a few runs; it ends with ctx.
			if _, _, err := s.ReserveSend(1, short); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			c := &countingPruner{s: s}
			done := make(chan struct{})
			go func() { defer close(done); keepSendSlotsPruned(ctx, c, 10*time.Millisecond, log, nil) }()
			deadline := time.Now().Add(10 * time.Second)
			for c.pruned.Load() != 1 {
				if time.Now().After(deadline) {
					t.Fatal("the loop never pruned chat 1's past slot")
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the prune loop did not end with its context")
			}
		})
	}
}

// countingPruner counts the slots its store pruned.
type countingPruner struct {
	s      sendSlotPruner
	pruned atomic.Int64
}

func (c *countingPruner) PruneSendSlots(limit int) (int, error) {
	n, err := c.s.PruneSendSlots(limit)
	c.pruned.Add(int64(n))
	return n, err
}
