package postgres

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
)

// atVersion makes a database that an older program left at schema version
// v: only the first v migrations applied.
func atVersion(t *testing.T, dsn string, v int) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ms, err := migrations()
	if err != nil || len(ms) < v {
		t.Fatal(len(ms), err)
	}
	if got, err := migrateWith(ctx, pool, slog.New(slog.DiscardHandler), ms[:v]); err != nil || got != uint64(v) {
		t.Fatal(got, err)
	}
}

// fillSendSlots stores future chats whose slot lies an hour ahead (the
// chats of the last seconds, which a prune must not touch) and past ones a
// minute behind, and refreshes the planner's statistics (autovacuum's
// ANALYZE would, a little later).
func fillSendSlots(t *testing.T, dsn string, future, past int) {
	t.Helper()
	c := connect(t, dsn)
	ctx := context.Background()
	if _, err := c.Exec(ctx, `INSERT INTO send_slots (chat_id, tat)
		SELECT g, now() + interval '1 hour' FROM generate_series(1, $1::int) g
		UNION ALL SELECT -g, now() - interval '1 minute' FROM generate_series(1, $2::int) g`, future, past); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `ANALYZE send_slots`); err != nil {
		t.Fatal(err)
	}
}

// plan is PostgreSQL's plan of query with the batch limit 1000 (EXPLAIN
// without ANALYZE: nothing is deleted).
func plan(t *testing.T, dsn, query string) string {
	t.Helper()
	rows, err := connect(t, dsn).Query(context.Background(), `EXPLAIN `+query, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestPruneSendSlotsUsesIndex: on a table of 20,000 chats messaged in the
// last seconds and 50 past ones, PostgreSQL's plan of the prune's very
// statement reads send_slots through send_slots_tat, not the whole table,
// and the prune deletes exactly the past ones, at most its limit a call. The check can fail: the
// same statement on a database without the index (schema 3), and the old
// statement comparing with the volatile clock_timestamp() on one with it,
// are both planned as a scan of the whole table.
func TestPruneSendSlotsUsesIndex(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()

	dsn := srv.NewDatabase(t)
	db, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fillSendSlots(t, dsn, 20_000, 50)
	p := plan(t, dsn, pruneSendSlotsSQL)
	if !strings.Contains(p, "send_slots_tat") || strings.Contains(p, "Seq Scan") {
		t.Fatalf("the prune does not use send_slots_tat:\n%s", p)
	}
	t.Logf("the prune's plan:\n%s", p)
	volatile := strings.Replace(pruneSendSlotsSQL, "statement_timestamp()", "clock_timestamp()", 1)
	if p := plan(t, dsn, volatile); strings.Contains(p, "send_slots_tat") {
		t.Fatalf("clock_timestamp() used the index after all (then the statement needs no change):\n%s", p)
	}
	if n, err := db.PruneSendSlots(20); err != nil || n != 20 {
		t.Fatalf("pruned %d, %v; want 20 (the limit) of the 50 past chats", n, err)
	}
	if n, err := db.PruneSendSlots(1000); err != nil || n != 30 {
		t.Fatalf("pruned %d, %v; want the other 30 past chats", n, err)
	}
	var left int
	if err := connect(t, dsn).QueryRow(ctx, `SELECT count(*) FROM send_slots WHERE chat_id >= 0`).Scan(&left); err != nil || left != 20_001 {
		t.Fatalf("%d rows left, %v; want the 20,000 future chats and the bot's row", left, err)
	}

	old := srv.NewDatabase(t)
	atVersion(t, old, 3)
	fillSendSlots(t, old, 20_000, 50)
	if p := plan(t, old, pruneSendSlotsSQL); !strings.Contains(p, "Seq Scan on send_slots") {
		t.Fatalf("without the index the plan is no table scan:\n%s", p)
	}
}

// testUpgradeFrom3AddsSendSlotsIndex: a database an older program left at
// schema 3, with chats' send slots in it, is upgraded in place when this
// program opens it: send_slots_tat made, the slots kept, the prune works;
// a database one version newer than this program is still refused.
func testUpgradeFrom3AddsSendSlotsIndex(t *testing.T, srv *pgtest.Server) {
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	atVersion(t, dsn, 3)
	c := connect(t, dsn)
	var idx bool
	if err := c.QueryRow(ctx, `SELECT to_regclass('send_slots_tat') IS NOT NULL`).Scan(&idx); err != nil || idx {
		t.Fatal("schema 3 has the index already", idx, err)
	}
	fillSendSlots(t, dsn, 30, 20)
	db, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(); err != nil || v != 4 || v != SchemaVersion() {
		t.Fatal(v, err)
	}
	var def string
	if err := c.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = 'send_slots_tat'`).Scan(&def); err != nil ||
		!strings.Contains(def, "(tat)") || !strings.Contains(def, "WHERE (chat_id <> 0)") {
		t.Fatalf("index %q, %v", def, err)
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM send_slots`).Scan(&n); err != nil || n != 51 {
		t.Fatalf("%d slots after the upgrade, %v; want 51", n, err)
	}
	if got, err := db.PruneSendSlots(100); err != nil || got != 20 {
		t.Fatalf("pruned %d, %v; want 20", got, err)
	}
	db.Close()

	if _, err := c.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, int64(SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dsn, Options{})
	if !errors.Is(err, storage.ErrSchemaTooNew) || !strings.Contains(err.Error(), "schema version 5") {
		t.Fatalf("a database at version 5: %v; want ErrSchemaTooNew", err)
	}
}
