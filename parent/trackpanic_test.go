package parent_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// TestTrackerPanicEndsOneTransferOnly: a tracker pass that panics on one
// transfer (made to, through the test-only hook) moves the others on and
// lives on; the next pass handles that transfer too.
func TestTrackerPanicEndsOneTransferOnly(t *testing.T) {
	s := newStack(t)
	eth := big.NewInt(1_000_000_000_000_000_000)
	s.fundedWallet(t, 1, eth)
	s.fundedWallet(t, 2, eth)
	to := common.HexToAddress("0x1111111111111111111111111111111111111111")
	poison := s.build(t, 1, to, "0.01")
	other := s.build(t, 2, to, "0.01")
	s.svc.SetNow(func() time.Time { return time.Now().Add(time.Hour) }) // both past their expiry
	restore := parent.SetTrackHook(func(tr storage.Transfer) {
		if tr.ID == poison.ID {
			panic("a bug in one transfer's pass")
		}
	})
	s.svc.TrackOnce(context.Background())
	if tr, err := s.store.Transfer(other.ID); err != nil || tr.State != storage.StateExpired {
		t.Fatalf("the other transfer after the panicking pass: %s %v; want expired", tr.State, err)
	}
	if tr, err := s.store.Transfer(poison.ID); err != nil || tr.State != storage.StateBuilt {
		t.Fatalf("the panicking transfer: %s %v; want untouched", tr.State, err)
	}
	restore()
	s.svc.TrackOnce(context.Background())
	if tr, err := s.store.Transfer(poison.ID); err != nil || tr.State != storage.StateExpired {
		t.Fatalf("the transfer at the next pass: %s %v; want expired", tr.State, err)
	}
}
