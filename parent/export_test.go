package parent

import (
	"time"

	"github.com/autowallet/autowallet/storage"
)

// SetNow lets tests move the service's clock.
func (s *Service) SetNow(now func() time.Time) { s.now = now }

// TokenMoved exposes tokenMoved to the tests.
var TokenMoved = tokenMoved

// Move exposes move (a stored state change that tells the listeners).
func (s *Service) Move(t storage.Transfer, to storage.State, reason string) storage.Transfer {
	return s.move(t, to, reason)
}

// SetTrackHook runs f at the start of each transfer's tracker pass, until
// the returned func is called.
func SetTrackHook(f func(storage.Transfer)) (restore func()) {
	trackHook.Store(&f)
	return func() { trackHook.Store(nil) }
}
