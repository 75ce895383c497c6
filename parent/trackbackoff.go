package parent

import (
	"sync"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// TrackPanicMaxBackoff caps the back-off of a transfer whose tracker pass
// panics (trackBackoff): it is tried again at least this often.
const TrackPanicMaxBackoff = 5 * time.Minute

// trackBackoff keeps a transfer whose tracker pass panicked out of the
// next passes for a while: the wait starts at the poll interval (the next
// poll tries it again: a panic that happens once costs one poll) and
// doubles after each further panic up to max; a pass of that transfer that
// returns clears it. A transfer whose pass always panics (a bug meeting
// one record) then costs one pass, one log line and one count of
// autowallet_background_panics_total per back-off period, not one per
// poll, and every other transfer is still tracked at each poll.
//
// It is in memory, by choice: a restart (a fixed program, usually) or the
// tracker's lease moving to another parent tries the transfer at once, and
// nothing about a bug is written into the shared database.
type trackBackoff struct {
	mu        sync.Mutex
	base, max time.Duration
	m         map[string]backoffEntry // transfer id -> its back-off
}

type backoffEntry struct {
	next time.Time
	wait time.Duration
}

// due reports whether the transfer's pass may run at now. Half a poll of
// slack: a poll's pass reaches a transfer at a slightly different point of
// the pass each time, and the poll the back-off ends at must not miss it.
func (b *trackBackoff) due(id string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[id]
	return !ok || !now.Add(b.base/2).Before(e.next)
}

// panicked records a panic of the transfer's pass at now and returns how
// long it is left alone.
func (b *trackBackoff) panicked(id string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]backoffEntry{}
	}
	e := b.m[id]
	e.wait = min(max(2*e.wait, b.base), b.max)
	e.next = now.Add(e.wait)
	b.m[id] = e
	return e.wait
}

// passed clears the transfer's back-off after a pass that returned; it
// reports whether there was one.
func (b *trackBackoff) passed(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.m[id]
	delete(b.m, id)
	return ok
}

// keepOpen forgets the transfers no longer open (moved to a final state by
// another path or parent while backed off), so the map holds at most the
// open transfers.
func (b *trackBackoff) keepOpen(open []storage.Transfer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.m) == 0 {
		return
	}
	ids := make(map[string]bool, len(open))
	for _, t := range open {
		ids[t.ID] = true
	}
	for id := range b.m {
		if !ids[id] {
			delete(b.m, id)
		}
	}
}

// backedOff is how many transfers are backed off (tests).
func (b *trackBackoff) backedOff() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}
