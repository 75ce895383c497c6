package postgres

import (
	"context"
	"testing"

	"github.com/autowallet/autowallet/internal/pgtest"
)

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

// TestPruneSendSlotsBatches: on a table of 20,000 chats messaged in the
// last seconds and 50 past ones, the prune deletes exactly the past ones,
// at most its limit a call (the pick runs once: a MATERIALIZED CTE).
func TestPruneSendSlotsBatches(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	db, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fillSendSlots(t, dsn, 20_000, 50)
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
}
