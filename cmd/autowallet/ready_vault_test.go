package main

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage/bolt"
)

// TestReadyzEnclaveKeyNotStored: an enclave that answers and is unlocked,
// but with a vault key this parent does not know to be the stored one
// (parent.Service.VaultKeyCheck fails: a first-key race lost), makes the
// parent not ready with the fixed word key_not_stored, never the check's
// error text; ready again once the check passes (the enclave restarted and
// was unlocked with the stored blob).
func TestReadyzEnclaveKeyNotStored(t *testing.T) {
	enc := testenv.StartEnclave(t, 1337) // unlocked (dev key file)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var bad atomic.Bool
	bad.Store(true)
	vault := func() error {
		if bad.Load() {
			return errors.New("secret-looking text that must not be quoted")
		}
		return nil
	}
	r := metrics.NewReadiness(time.Second, time.Nanosecond /* no sharing: each Check runs */, readinessChecks(parent.NewEnclaveClientTCP(enc.Addr, 5*time.Second), vault, store)...)
	rep := r.Check()
	if rep.Ready() || rep.Checks["enclave"] != metrics.ReasonKeyNotStored {
		t.Fatalf("enclave with an unstored key: %+v", rep)
	}
	bad.Store(false)
	time.Sleep(time.Millisecond)
	if rep := r.Check(); !rep.Ready() {
		t.Fatalf("after the restart: %+v", rep)
	}
}
