package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultUnavailableWait is how long one call waits for an unreachable
// server to come back (Options.UnavailableWait zero). A restart of the
// server takes about a second; a fast shutdown plus start, or a lost
// connection's reconnect, a few. A Multi-AZ failover (60-120 s) outlasts
// it: the call then fails with storage.ErrUnavailable and the caller's
// caller retries (the webhook answers 503, Telegram redelivers).
const DefaultUnavailableWait = 5 * time.Second

// down reports whether err says the server cannot be reached now, rather
// than that the statement was wrong or lost a race: refused, reset or
// closed connections, the server shutting down or starting up (SQLSTATE
// class 08, 57P01-57P03), too many connections, and a call that got no
// answer (or no pooled connection) in time.
func down(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// commitError marks a failure of COMMIT itself: with a lost connection its
// outcome is unknown (the server may have committed before the answer was
// lost), so the transaction is not run again on its own.
type commitError struct{ err error }

func (e *commitError) Error() string { return "postgres: commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// mayWait reports whether a failed attempt may be run again once the server
// is back: it failed for the server's absence, and not in a commit whose
// outcome is unknown (unless nothing at all was sent). A transaction cut
// short before its commit was rolled back by the server (or died with it).
func mayWait(err error) bool {
	if !down(err) {
		return false
	}
	var ce *commitError
	return !errors.As(err, &ce) || pgconn.SafeToRetry(err)
}

// waiter paces the attempts of one call while the server is away.
type waiter struct {
	until time.Time // the first failure plus the wait
	pause time.Duration
}

// again sleeps before the next attempt and reports whether there is one:
// false once wait has passed since the first failure (or wait < 0).
func (w *waiter) again(ctx context.Context, wait time.Duration) bool {
	now := time.Now()
	if w.until.IsZero() {
		w.until, w.pause = now.Add(wait), 50*time.Millisecond
	}
	if wait < 0 || !now.Before(w.until) {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(min(w.pause, w.until.Sub(now))):
	}
	w.pause = min(2*w.pause, 500*time.Millisecond)
	return true
}
