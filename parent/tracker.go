package parent

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/autowallet/autowallet/internal/safego"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage"
)

// Track moves open transfers along until ctx ends: it expires built transfers
// nobody approved in time, broadcasts approved ones again at their pace
// (after a crash, a refusal, or while the node was down), and follows signed
// ones on the chain to confirmed, failed (reverted) or replaced. Each pass
// reads the states from storage, so a restarted parent resumes exactly where
// the last one stopped: the signed transaction is stored before the first
// broadcast and is the only one ever broadcast for that transfer.
func (s *Service) Track(ctx context.Context) { s.track(ctx, 0) }

// TrackChain is Track for the transfers of one network: several parents
// run one tracker per network, each under the lease "tracker/<chain id>"
// (TrackLeased), so a network's transfers are moved by one parent at a
// time and the networks spread over the parents.
func (s *Service) TrackChain(ctx context.Context, chainID uint64) { s.track(ctx, chainID) }

// TrackLeased runs TrackChain for every served network, each under its
// lease "tracker/<chain id>" held by holder (lease.Run), until ctx ends.
// Its broadcasts are fenced by the lease (rebroadcast).
func (s *Service) TrackLeased(ctx context.Context, c lease.Config) {
	done := make(chan struct{})
	for _, n := range s.nets {
		cfg := c
		cfg.Name = TrackerLease(n.ChainID)
		go func() {
			defer func() { done <- struct{}{} }()
			_ = lease.Run(ctx, cfg, func(ctx context.Context) error {
				s.TrackChain(ctx, n.ChainID)
				return ctx.Err()
			})
		}()
	}
	for range s.nets {
		<-done
	}
}

// TrackerLease names the lease of a network's tracker.
func TrackerLease(chainID uint64) string { return "tracker/" + strconv.FormatUint(chainID, 10) }

func (s *Service) track(ctx context.Context, chainID uint64) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		s.trackOnce(ctx, chainID)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// TrackOnce makes one pass over the open transfers.
func (s *Service) TrackOnce(ctx context.Context) { s.trackOnce(ctx, 0) }

// trackOnce makes one pass over the open transfers of chainID (0: all).
func (s *Service) trackOnce(ctx context.Context, chainID uint64) {
	open, err := s.store.TransfersInState(storage.StateBuilt, storage.StateApproved, storage.StateSent)
	if err != nil {
		s.log.Error("tracker: reading open transfers", "err", err)
		return
	}
	s.backoff.keepOpen(open)
	for _, t := range open {
		if chainID != 0 && t.ChainID != chainID {
			continue
		}
		// A transfer whose pass panicked waits out its back-off
		// (trackbackoff.go); the others are tracked at every poll.
		if !s.backoff.due(t.ID, s.now()) {
			continue
		}
		// The fence: a tracker whose lease ran out stops before its next
		// move (ctx ends with the lease, too).
		if err := lease.Check(ctx); err != nil {
			return
		}
		// A panic ends this transfer's pass only (counted, one log line
		// saying where, never the panic's value): the tracker goes on
		// with the others, and tries this one again after its back-off.
		site, panicked := safego.Recover(s.cfg.Metrics, "tracker", func() {
			if f := trackHook.Load(); f != nil {
				(*f)(t)
			}
			switch t.State {
			case storage.StateBuilt:
				if !s.now().Before(t.Expiry) {
					s.move(t, storage.StateExpired, "not approved in time")
				}
			case storage.StateApproved, storage.StateSent:
				s.settleSigned(ctx, t)
			}
		})
		if panicked {
			wait := s.backoff.panicked(t.ID, s.now())
			s.log.Error("tracker: a transfer's pass panicked; it is left alone for a while, the others go on", "worker", "tracker", "at", site, "transfer", t.ID, "retry_in", wait)
		} else if s.backoff.passed(t.ID) {
			s.log.Info("tracker: a transfer's pass works again after a panic", "transfer", t.ID)
		}
	}
}

// trackHook, when set (tests only: SetTrackHook in export_test.go), runs at
// the start of each transfer's tracker pass: a test makes one panic. No
// input from outside reaches it.
var trackHook atomic.Pointer[func(storage.Transfer)]
