package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestReconnectAfterRestart: the server restarts (cleanly, then killed
// with SIGKILL and recovered); the same open store serves again, with every
// wallet committed before, without being reopened.
func TestReconnectAfterRestart(t *testing.T) {
	srv := pgtest.StartWith(t, pgtest.Options{Durable: true})
	db := open(t, srv.DSN())
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
	if err := create(11); err == nil {
		t.Fatal("a write succeeded with the server down")
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
