package storage

import (
	"testing"
)

var allStates = []State{StateBuilt, StateApproved, StateSent, StateConfirmed, StateFailed, StateCancelled, StateExpired, StateReplaced, StateSuperseded}

func TestStateText(t *testing.T) {
	for _, s := range allStates {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%s: %v %v", s, back, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("bogus state accepted")
	}
}
