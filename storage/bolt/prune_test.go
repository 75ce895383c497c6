package bolt

import (
	"testing"
	"time"
)

// PruneUpdates cuts by the store's own clock, the one that wrote the
// records' times: a caller whose clock runs far ahead of the store's (here
// the store's clock is in 2025, the caller's is today) prunes nothing a
// retry may still need. Before the fix the caller passed time.Now()-24h
// and every record went.
func TestPruneUpdatesUsesTheStoreClock(t *testing.T) {
	c := newClock()
	db, err := Open(t.TempDir(), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ClaimUpdate(1, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishUpdate(1, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimUpdate(2, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneUpdates(24 * time.Hour); err != nil || n != 0 {
		t.Fatalf("fresh records pruned: %d, %v", n, err)
	}
	c.mu.Lock()
	c.t = c.t.Add(25 * time.Hour)
	c.mu.Unlock()
	if n, err := db.PruneUpdates(24 * time.Hour); err != nil || n != 2 {
		t.Fatalf("day-old records: pruned %d, %v; want 2", n, err)
	}
}
