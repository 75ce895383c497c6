package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestForgedRows plays a database operator or attacker who writes rows
// with SQL, past the program (docs/threat-model.md, "Issue 11: the
// PostgreSQL engine"): what the constraints refuse even then, and what a
// read refuses rather than misreads.
func TestForgedRows(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	setup := func(t *testing.T) (*storageDB, func(sql string, args ...any) error) {
		db := open(t, srv.NewDatabase(t))
		storagetest.Fill(t, db)
		return &storageDB{db}, func(sql string, args ...any) error {
			_, err := db.Pool().Exec(ctx, sql, args...)
			return err
		}
	}
	code := func(err error) string {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code
		}
		return ""
	}

	t.Run("second open transfer at a nonce", func(t *testing.T) {
		_, exec := setup(t)
		// t0 (user 1, nonce 0) is built: a copy of it under another id at
		// the same nonce breaks the partial unique index.
		err := exec(`INSERT INTO transfers SELECT 'forged', owner, created, state, kind, chain_id, from_addr, nonce, data FROM transfers WHERE id = 't0'`)
		if code(err) != "23505" {
			t.Fatalf("got %v, want a unique violation", err)
		}
	})
	t.Run("a second wallet for an address", func(t *testing.T) {
		_, exec := setup(t)
		err := exec(`INSERT INTO wallets SELECT 99, address, record, created FROM wallets WHERE owner = 1`)
		if code(err) != "23505" {
			t.Fatalf("got %v, want a unique violation", err)
		}
	})
	t.Run("a second wallet for an owner", func(t *testing.T) {
		_, exec := setup(t)
		err := exec(`INSERT INTO wallets VALUES (1, '\x00000000000000000000000000000000000000ee', '\x01', 0)`)
		if code(err) != "23505" {
			t.Fatalf("got %v, want a unique violation", err)
		}
	})
	t.Run("a transfer row moved to another state's work list", func(t *testing.T) {
		db, exec := setup(t)
		// t5 is cancelled; its state column says approved: the tracker's
		// work list must not pick it up as a cancelled transfer in the
		// approved list, nor as approved.
		if err := exec(`UPDATE transfers SET state = 2 WHERE id = 't5'`); err != nil {
			t.Fatal(err)
		}
		_, err := db.TransfersInState(storage.StateApproved)
		if !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("work list: %v, want ErrCorrupt", err)
		}
		_, err = db.Transfer("t5")
		if !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("read: %v, want ErrCorrupt", err)
		}
	})
	t.Run("a transfer's data replaced by garbage", func(t *testing.T) {
		db, exec := setup(t)
		if err := exec(`UPDATE transfers SET data = '\x03ff' WHERE id = 't1'`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Transfer("t1"); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("got %v, want ErrCorrupt", err)
		}
	})
	t.Run("a transfer's data swapped for another transfer's", func(t *testing.T) {
		db, exec := setup(t)
		if err := exec(`UPDATE transfers SET data = (SELECT data FROM transfers WHERE id = 't4') WHERE id = 't1'`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Transfer("t1"); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("got %v, want ErrCorrupt", err)
		}
	})
	t.Run("a deposit's data under another key", func(t *testing.T) {
		db, exec := setup(t)
		if err := exec(`UPDATE deposits SET data = (SELECT data FROM deposits ORDER BY key LIMIT 1) WHERE key = (SELECT key FROM deposits ORDER BY key DESC LIMIT 1)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PendingAlerts(10); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("got %v, want ErrCorrupt", err)
		}
	})
	t.Run("a sealed record moved to another user", func(t *testing.T) {
		db, exec := setup(t)
		// Storage returns what the row says, byte for byte; the record's
		// header (owner, address) is the AES-GCM additional data, so the
		// enclave refuses to open it for user 2
		// (enclave.TestApproveRefusals: "record of another user", "bob's record relabelled as alice's").
		if err := exec(`UPDATE wallets SET record = (SELECT record FROM wallets WHERE owner = 1) WHERE owner = 2`); err != nil {
			t.Fatal(err)
		}
		w1, _ := db.WalletByOwner(1)
		w2, err := db.WalletByOwner(2)
		if err != nil || string(w2.Record) != string(w1.Record) {
			t.Fatal(w2, err)
		}
	})
}

type storageDB struct{ storage.Store }
