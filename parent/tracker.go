package parent

import (
	"context"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// Track moves open transfers along until ctx ends: it expires built transfers
// nobody approved in time, broadcasts approved ones again at their pace
// (after a crash, a refusal, or while the node was down), and follows signed
// ones on the chain to confirmed, failed (reverted) or replaced. Each pass
// reads the states from storage, so a restarted parent resumes exactly where
// the last one stopped: the signed transaction is stored before the first
// broadcast and is the only one ever broadcast for that transfer.
func (s *Service) Track(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		s.TrackOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// TrackOnce makes one pass over the open transfers.
func (s *Service) TrackOnce(ctx context.Context) {
	open, err := s.store.TransfersInState(storage.StateBuilt, storage.StateApproved, storage.StateSent)
	if err != nil {
		s.log.Error("tracker: reading open transfers", "err", err)
		return
	}
	for _, t := range open {
		if ctx.Err() != nil {
			return
		}
		switch t.State {
		case storage.StateBuilt:
			if !s.now().Before(t.Expiry) {
				s.move(t, storage.StateExpired, "not approved in time")
			}
		case storage.StateApproved, storage.StateSent:
			s.settleSigned(ctx, t)
		}
	}
}
