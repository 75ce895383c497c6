package parent_test

import (
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// TestMoveAlreadyStoredTellsNoOne: two paths (two parents' trackers, or
// an approval and a tracker) storing the same change: the second finds the
// transfer already there and neither stores it again nor tells the
// listeners (the card would be edited twice). A change of reason in the
// same state is a change.
func TestMoveAlreadyStoredTellsNoOne(t *testing.T) {
	s := newStack(t)
	s.fundedWallet(t, 1, eth("1"))
	built := s.build(t, 1, common.HexToAddress("0x00000000000000000000000000000000000000b0"), "0.01")
	var told atomic.Int32
	s.svc.OnTransferChange(func(storage.Transfer) { told.Add(1) })

	first := s.svc.Move(built, storage.StateExpired, "not approved in time")
	again := s.svc.Move(built, storage.StateExpired, "not approved in time")
	if first.State != storage.StateExpired || again.State != storage.StateExpired {
		t.Fatalf("states %v, %v", first.State, again.State)
	}
	if n := told.Load(); n != 1 {
		t.Fatalf("listeners told %d times of one change, want 1", n)
	}
	if !again.Updated.Equal(first.Updated) {
		t.Fatalf("the repeated move rewrote the transfer (updated %v, then %v)", first.Updated, again.Updated)
	}
}
