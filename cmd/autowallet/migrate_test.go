package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestMigrate copies a real bbolt file into a real PostgreSQL server: the
// summaries agree; a second run changes no row; a database that lost part
// of the copy is completed; one holding different data for a record is
// refused with that record's name and is not overwritten.
func TestMigrate(t *testing.T) {
	data := t.TempDir()
	boltDB, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storagetest.Fill(t, boltDB)
	want, err := storage.Summarize(boltDB)
	if err != nil {
		t.Fatal(err)
	}
	// The cards the bbolt parent would edit next: the queued edits and a
	// user's wallet card.
	wantEdits, err := boltDB.PendingCardEdits(0, 100)
	if err != nil || len(wantEdits) == 0 {
		t.Fatal("no card edits queued in the file", err)
	}
	wantCard, err := boltDB.WalletCard(3)
	if err != nil {
		t.Fatal(err)
	}
	boltDB.Close()

	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	migrate := func() (int, string, string) { return runCmd("migrate", "-data", data, "-database", dsn) }
	code, out, errOut := migrate()
	if code != 0 || !strings.Contains(out, "wallets   5") || !strings.Contains(out, strings.Split(want.String(), "sha256=")[1]) {
		t.Fatalf("migrate = %d\n%s\n%s", code, out, errOut)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	summary := func() storage.Summary {
		db, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s, err := storage.Summarize(db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := summary(); !got.Equal(want) {
		t.Fatalf("PostgreSQL %s, bbolt %s", got, want)
	}
	// The parent on PostgreSQL edits the same cards: the same queue (same
	// sequence, transfer and state) and the same wallet card message.
	// (TestMigrateCardsEditedAfterwards plays it with the bot.)
	func() {
		db, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		edits, err := db.PendingCardEdits(0, 100)
		if err != nil || !slices.Equal(edits, wantEdits) {
			t.Fatalf("card edits on PostgreSQL %+v (%v), in the file %+v", edits, err, wantEdits)
		}
		if c, err := db.WalletCard(3); err != nil || c != wantCard {
			t.Fatalf("wallet card on PostgreSQL %+v (%v), in the file %+v", c, err, wantCard)
		}
	}()
	// Row versions: a second run must not rewrite any row.
	versions := func() string {
		var v string
		err := conn.QueryRow(ctx, `SELECT (SELECT string_agg(xmin::text, ',' ORDER BY owner) FROM wallets) || '|' ||
			(SELECT string_agg(xmin::text, ',' ORDER BY id) FROM transfers) || '|' ||
			(SELECT string_agg(xmin::text, ',' ORDER BY seq) FROM card_edits) || '|' ||
			(SELECT string_agg(xmin::text, ',' ORDER BY user_id) FROM wallet_cards)`).Scan(&v)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := versions()
	if code, out, errOut := migrate(); code != 0 {
		t.Fatalf("second migrate = %d\n%s\n%s", code, out, errOut)
	}
	if after := versions(); after != before {
		t.Fatalf("the second run rewrote rows: %s -> %s", before, after)
	}
	// Half a copy (the outbox, the card edits, a wallet card, some transfers
	// and wallets lost): completed.
	if _, err := conn.Exec(ctx, `DELETE FROM card_edits; DELETE FROM wallet_cards WHERE user_id = 1; DELETE FROM deposit_outbox; DELETE FROM transfers WHERE owner = 3; DELETE FROM wallets WHERE owner IN (4, 5); DELETE FROM meta`); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := migrate(); code != 0 {
		t.Fatalf("completing migrate = %d\n%s\n%s", code, out, errOut)
	}
	if got := summary(); !got.Equal(want) {
		t.Fatalf("after completing: PostgreSQL %s, bbolt %s", got, want)
	}
	// Different data under one key: refused by name, nothing overwritten.
	if _, err := conn.Exec(ctx, `UPDATE wallets SET record = '\x01ff' WHERE owner = 3`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = migrate()
	if code != 1 || !strings.Contains(errOut, "wallet 3") || !strings.Contains(errOut, storage.ErrConflict.Error()) {
		t.Fatalf("conflicting migrate = %d\n%s\n%s", code, out, errOut)
	}
	var rec []byte
	if err := conn.QueryRow(ctx, `SELECT record FROM wallets WHERE owner = 3`).Scan(&rec); err != nil || string(rec) != "\x01\xff" {
		t.Fatalf("the conflicting record was changed: %x %v", rec, err)
	}
	if code, _, errOut := runCmd("migrate", "-data", data); code != 2 || !strings.Contains(errOut, "-database") {
		t.Fatalf("without -database = %d %s", code, errOut)
	}
	if code, _, errOut := runCmd("migrate", "-data", t.TempDir(), "-database", dsn); code != 1 || !strings.Contains(errOut, "no bbolt database") {
		t.Fatalf("empty data folder = %d %s", code, errOut)
	}
}
