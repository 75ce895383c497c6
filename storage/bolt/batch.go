package bolt

// Group commit (issue 11): concurrent independent writes share one bbolt
// transaction and so one fsync. Every bbolt commit is fsynced and bbolt runs
// one writer at a time, so without this the store makes at most one write
// per fsync, whatever the number of callers (docs/performance.md).
//
// The scheme is the classic leader/follower group commit, not bbolt's
// DB.Batch: a write that finds no commit in progress commits at once (a
// lone create costs one fsync and no added delay); writes that arrive while
// a commit runs queue up, and when it ends the first of them commits the
// whole queue (up to MaxBatchSize) in one transaction. The batch grows with
// the load by itself: no timer, so no MaxBatchDelay to tune (bbolt's Batch
// makes every caller wait up to MaxBatchDelay, 10 ms by default, before its
// batch even starts).
//
// The rules a batched function must keep (they are bbolt's Batch rules):
//   - it may run more than once: in a batch whose transaction is then rolled
//     back because another function failed, then again; so it only reads and
//     writes through tx and reports through variables it resets each run,
//     never with an effect outside the transaction;
//   - it must not depend on running alone: the functions before it in the
//     batch have written in the same transaction, exactly as if they had
//     committed just before it (which they will).
//
// A function that fails (returns an error or panics) never makes the
// others fail or half-write: the transaction is rolled back, the failing
// function is taken out, the rest run again in a new transaction, and once
// they are committed the failing one runs alone in its own transaction (its
// caller's goroutine), so its error (or panic) is what it gives on the
// committed state.

import (
	"errors"
	"fmt"
	"sync"
)

// MaxBatchSize bounds the writes of one group commit. A bigger batch saves
// little once it is this big (one fsync for 256 writes is about 4 µs of
// fsync per write on the slowest disk measured, 1 ms) and makes the rare
// failure dearer: each failing function costs a rerun of the batch.
const MaxBatchSize = 256

// errBatchSolo tells a queued caller to run its function alone.
var errBatchSolo = errors.New("storage: batch: run alone")

// errBatchLead tells a queued caller that it commits the next batch.
var errBatchLead = errors.New("storage: batch: lead")

type batchCall struct {
	fn   func(tx *boltTx) error
	done chan error // buffered 1: errBatchLead, then the result
}

// batcher queues the writes waiting for the commit in progress.
type batcher struct {
	mu      sync.Mutex
	queue   []*batchCall
	leading bool // a caller is committing a batch
}

// batch runs fn in a write transaction shared with other concurrent
// batched writes and returns when that transaction is committed (fsynced)
// or fn's own error. See the file comment for what fn must keep.
func (db *DB) batch(fn func(tx *boltTx) error) error {
	c := &batchCall{fn: fn, done: make(chan error, 1)}
	g := &db.batcher
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if lead {
		db.leadBatch()
	}
	for {
		switch err := <-c.done; err {
		case errBatchLead:
			db.leadBatch()
		case errBatchSolo:
			return db.update(fn)
		default:
			return err
		}
	}
}

// leadBatch commits the queue's first MaxBatchSize calls (the leader's own
// is among them) and hands the lead to the next queued caller, if any.
func (db *DB) leadBatch() {
	g := &db.batcher
	g.mu.Lock()
	n := min(len(g.queue), MaxBatchSize)
	calls := make([]*batchCall, n)
	copy(calls, g.queue)
	g.queue = append(g.queue[:0], g.queue[n:]...)
	g.mu.Unlock()

	db.runBatch(calls)

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].done <- errBatchLead // its result has not been sent: room in the buffer
	} else {
		g.leading = false
	}
	g.mu.Unlock()
}

// runBatch runs calls in one transaction and sends each its result. A call
// that fails is taken out and the others run again without it; the failed
// ones are told to run alone only after the others' commit, so each reruns
// on a state that holds every good write of its batch (a failing write
// never goes ahead of the writes it failed beside).
func (db *DB) runBatch(calls []*batchCall) {
	var solo []*batchCall
	defer func() {
		for _, c := range solo {
			c.done <- errBatchSolo
		}
	}()
	for len(calls) > 0 {
		failed := -1
		err := db.update(func(tx *boltTx) error {
			for i, c := range calls {
				if err := callSafely(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			solo = append(solo, calls[failed])
			calls = append(calls[:failed], calls[failed+1:]...)
			continue
		}
		// Committed, or the commit itself failed (disk full, I/O error):
		// every caller gets the same answer.
		for _, c := range calls {
			c.done <- err
		}
		return
	}
}

// callSafely turns a panic of fn into an error, so one bad function cannot
// take down the leader's goroutine (and every caller waiting on it); the
// function then runs alone in its own caller, where it panics for real.
func callSafely(fn func(tx *boltTx) error, tx *boltTx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("storage: batched write panicked: %v", p)
		}
	}()
	return fn(tx)
}

// batchWrite is write (storage.go) through the group commit: fn's value is
// that of its last run, the one committed.
func batchWrite[T any](db *DB, fn func(tx *boltTx) (T, error)) (T, error) {
	var out T
	err := db.batch(func(tx *boltTx) (err error) {
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
