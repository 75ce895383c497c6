package parent

import (
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// TestTrackBackoffDoublesToCapAndClears: the wait doubles from the poll
// interval at each panic up to the cap and stays there; a pass that
// returns clears it (the next panic starts from the poll interval again);
// a transfer no longer open is forgotten; other transfers are always due.
func TestTrackBackoffDoublesToCapAndClears(t *testing.T) {
	const base = 2 * time.Second
	b := trackBackoff{base: base, max: TrackPanicMaxBackoff}
	t0 := time.Unix(1_700_000_000, 0)
	var waits []time.Duration
	now := t0
	for range 12 {
		w := b.panicked("p", now)
		waits = append(waits, w)
		if b.due("p", now.Add(w-base)) {
			t.Fatalf("due a poll before its wait %v ended", w)
		}
		if !b.due("p", now.Add(w-base/4)) { // a pass reaching it a little early in the poll
			t.Fatalf("not due at the poll its wait %v ends", w)
		}
		if !b.due("other", now) {
			t.Fatal("another transfer held back")
		}
		now = now.Add(w)
	}
	want := []time.Duration{2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300}
	for i, w := range want {
		if waits[i] != w*time.Second {
			t.Fatalf("waits %v, want %v seconds", waits, want)
		}
	}
	if !b.passed("p") || b.passed("p") || b.backedOff() != 0 {
		t.Fatal("a pass that returned did not clear the back-off once")
	}
	if w := b.panicked("p", now); w != base {
		t.Fatalf("after a clear the wait starts at %v, want %v", w, base)
	}
	b.panicked("gone", now)
	b.keepOpen([]storage.Transfer{{ID: "p"}, {ID: "x"}})
	if b.backedOff() != 1 || b.due("p", now) {
		t.Fatalf("keepOpen: %d backed off (want the open one, p)", b.backedOff())
	}
}
