package parent

import (
	"context"
	"errors"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// Track moves open transfers along until ctx ends: it expires built transfers
// nobody approved in time, broadcasts approved ones (after a crash, or when
// the node was down), and follows sent ones to confirmed or failed. Each pass
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
		case storage.StateApproved:
			bctx, cancel := context.WithTimeout(ctx, s.cfg.PollInterval+5*time.Second)
			s.broadcast(bctx, t)
			cancel()
		case storage.StateSent:
			s.follow(ctx, t)
		}
	}
}

// follow looks at a sent transfer on the chain once.
func (s *Service) follow(ctx context.Context, t storage.Transfer) {
	status, r, err := s.chain.TxState(ctx, t.TxHash, t.From, t.Nonce)
	if err != nil {
		if !errors.Is(err, ErrNodeUnavailable) {
			s.log.Warn("tracker: transaction state", "transfer", t.ID, "err", err)
		}
		return
	}
	switch status {
	case TxMined:
		if !r.Succeeded() {
			t.Block = r.BlockNumber
			s.move(t, storage.StateFailed, "the transaction was mined but failed")
			return
		}
		confs, err := s.chain.Confirmations(ctx, r)
		if err != nil || confs < s.cfg.Confirmations {
			return
		}
		t.Block = r.BlockNumber
		s.move(t, storage.StateConfirmed, "")
	case TxReplaced:
		s.move(t, storage.StateFailed, "another transaction used the same nonce")
	case TxUnknown:
		// Dropped from the node's pool with its nonce still free: sending
		// the same signed transaction again is safe and cannot pay twice.
		s.log.Warn("tracker: transaction unknown to the node, rebroadcasting", "transfer", t.ID, "tx", t.TxHash.Hex())
		if _, err := s.chain.Broadcast(ctx, t.SignedTx); err != nil && !errors.Is(err, ErrNodeUnavailable) {
			s.move(t, storage.StateFailed, "the node dropped the transaction and refused it again: "+err.Error())
		}
	case TxPending:
	}
}
