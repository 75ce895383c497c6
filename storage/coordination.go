package storage

// Coordination of several parents on one store (issue 11): a Telegram
// update is handled once however often Telegram delivers it, and a piece of
// background work (a network's watcher, the transfer tracker, the alert
// deliverer) runs on one parent at a time, taken over by another when its
// holder stops renewing. The bbolt engine has one parent by construction
// (the file lock), but it keeps the same records and rules, so a single
// host and dev behave as a deployment of several does, and the conformance
// suite checks both engines alike.

import (
	"fmt"
	"time"
)

// MaxHolderLen bounds a holder name (a parent's id) and a lease name.
const MaxHolderLen = 128

// UpdateClaim is the answer of ClaimUpdate.
type UpdateClaim uint8

const (
	// UpdateClaimed: the caller holds the update now and must handle it,
	// then call FinishUpdate. Either it was never seen, or the last claim
	// ran out without being finished (its holder died): the caller takes
	// it over.
	UpdateClaimed UpdateClaim = iota + 1
	// UpdateInProgress: another holder's claim has not run out. The caller
	// must not handle it and must not acknowledge it to Telegram either
	// (answer with an error status so Telegram delivers it again later).
	UpdateInProgress
	// UpdateDone: the update was handled. Acknowledge it and do nothing.
	UpdateDone
)

func (c UpdateClaim) String() string {
	switch c {
	case UpdateClaimed:
		return "claimed"
	case UpdateInProgress:
		return "in progress"
	case UpdateDone:
		return "done"
	}
	return fmt.Sprintf("UpdateClaim(%d)", uint8(c))
}

// Lease is a named right to run one piece of background work until Until.
// Token grows by one each time the lease changes holder, so work can be
// fenced: a write that carries an old token is from a holder that lost it.
type Lease struct {
	Name   string
	Holder string
	Until  time.Time
	Token  uint64
}

func checkHolder(field, v string) error {
	if v == "" || len(v) > MaxHolderLen {
		return fmt.Errorf("storage: %w: %s must be 1..%d bytes", ErrInvalid, field, MaxHolderLen)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > time.Hour {
		return fmt.Errorf("storage: %w: ttl %v is outside (0, 1h]", ErrInvalid, ttl)
	}
	return nil
}
