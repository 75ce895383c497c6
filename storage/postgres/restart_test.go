package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/postgres"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestReconnectAfterRestart: the server restarts (cleanly, then killed
// with SIGKILL and recovered); the same open store serves again, with every
// wallet committed before, without being reopened.
func TestReconnectAfterRestart(t *testing.T) {
	srv := pgtest.StartWith(t, pgtest.Options{Durable: true})
	// A short wait for the server (TestWaitsForRestartingServer tests the
	// default): the write with the server down fails soon.
	db, err := postgres.Open(context.Background(), srv.DSN(), postgres.Options{UnavailableWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	create := func(owner int64) error {
		_, _, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: storagetest.Addr(owner), Record: storagetest.Record(owner)})
		return err
	}
	// until retries a call while the server comes back: what a parent's
	// caller does with an error (bounded).
	until := func(fn func() error) error {
		var err error
		for i := 0; i < 50; i++ {
			if err = fn(); err == nil {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return err
	}
	for owner := int64(1); owner <= 10; owner++ {
		if err := create(owner); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop()
	// A store that does not wait says why it failed: the server is away.
	impatient, err := postgres.Open(context.Background(), srv.DSN(), postgres.Options{UnavailableWait: -1})
	if err == nil {
		impatient.Close()
		t.Fatal("opened a store with the server down")
	}
	if err := create(11); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("a write with the server down: %v, want storage.ErrUnavailable", err)
	}
	srv.Start()
	if err := until(func() error { return create(11) }); err != nil {
		t.Fatal("after a restart:", err)
	}
	srv.Kill()
	srv.Start()
	if err := until(func() error { return create(12) }); err != nil {
		t.Fatal("after a kill:", err)
	}
	for owner := int64(1); owner <= 12; owner++ {
		if w, err := db.WalletByOwner(owner); err != nil || w.Owner != owner {
			t.Fatalf("wallet %d: %v", owner, err)
		}
	}
	if _, err := db.WalletByOwner(13); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
}

// TestWaitsForRestartingServer: calls made while the server restarts wait
// for it (Options.UnavailableWait) and succeed, without an error to their
// caller; a server away for longer than the wait gives
// storage.ErrUnavailable, and claims (the webhook's) behave alike.
func TestWaitsForRestartingServer(t *testing.T) {
	srv := pgtest.StartWith(t, pgtest.Options{Durable: true})
	db := open(t, srv.DSN())
	short, err := postgres.Open(context.Background(), srv.DSN(), postgres.Options{UnavailableWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	for _, fault := range []struct {
		name string
		stop func()
	}{{"stop", srv.Stop}, {"kill", srv.Kill}} {
		base := int64(100)
		if fault.name == "kill" {
			base = 200
		}
		// Pooled connections exist: the restart breaks them.
		for owner := base; owner < base+4; owner++ {
			if _, _, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: storagetest.Addr(owner), Record: storagetest.Record(owner)}); err != nil {
				t.Fatal(err)
			}
		}
		fault.stop()
		if _, err := short.WalletByOwner(base); !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("%s: server away beyond the wait: %v, want storage.ErrUnavailable", fault.name, err)
		}
		if _, err := short.ClaimUpdate(base, "p1", time.Minute); !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("%s: claim with the server away: %v, want storage.ErrUnavailable", fault.name, err)
		}
		errs := make(chan error, 8)
		for i := range int64(4) {
			owner := base + 10 + i
			go func() {
				_, _, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: storagetest.Addr(owner), Record: storagetest.Record(owner)})
				errs <- err
			}()
			go func() {
				_, err := db.WalletByOwner(base + i)
				errs <- err
			}()
		}
		time.Sleep(time.Second)
		srv.Start()
		for range 8 {
			if err := <-errs; err != nil {
				t.Errorf("%s: a call during the restart failed: %v", fault.name, err)
			}
		}
		if c, err := db.ClaimUpdate(base, "p1", time.Minute); err != nil || c != storage.UpdateClaimed {
			t.Fatalf("%s: claim after the restart: %v %v", fault.name, c, err)
		}
	}
	// Errors that are not the server's absence are not ErrUnavailable.
	if _, err := db.WalletByOwner(999); errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
}
