package parent_test

import (
	"bytes"
	"context"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// stepClock is a service clock the test moves by hand, one poll at a time.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestTrackerPanicEndsOneTransferOnly: a tracker pass that panics on one
// transfer (made to, through the test-only hook) moves the others on and
// lives on; the next poll handles that transfer too.
func TestTrackerPanicEndsOneTransferOnly(t *testing.T) {
	s := newStack(t)
	eth := big.NewInt(1_000_000_000_000_000_000)
	s.fundedWallet(t, 1, eth)
	s.fundedWallet(t, 2, eth)
	to := common.HexToAddress("0x1111111111111111111111111111111111111111")
	poison := s.build(t, 1, to, "0.01")
	other := s.build(t, 2, to, "0.01")
	clock := &stepClock{t: time.Now().Add(time.Hour)} // both past their expiry
	s.svc.SetNow(clock.now)
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
	clock.add(200 * time.Millisecond) // the stack's poll interval
	s.svc.TrackOnce(context.Background())
	if tr, err := s.store.Transfer(poison.ID); err != nil || tr.State != storage.StateExpired {
		t.Fatalf("the transfer at the next poll: %s %v; want expired", tr.State, err)
	}
}

// TestTrackerPanicBacksOff: a transfer whose pass always panics is passed
// at polls 0, 1, 3, 7, 15, 31, ... (its back-off doubles from the poll
// interval), each panic counted in autowallet_background_panics_total and
// logged once, while a healthy transfer beside it is tracked at every poll
// until it is mined and confirmed on geth. Once the pass stops panicking,
// the transfer's next due poll handles it and its back-off is cleared.
// The tracking service is a second parent's, over the same store, with
// metrics and a log the test reads.
func TestTrackerPanicBacksOff(t *testing.T) {
	s := newStack(t)
	s.fundedWallet(t, 1, eth("1"))
	s.fundedWallet(t, 2, eth("1"))
	to := common.HexToAddress("0x1111111111111111111111111111111111111111")
	poison := s.build(t, 1, to, "0.01")
	healthy := s.build(t, 2, to, "0.02")
	if status, resp, apiErr := s.approve(t, s.enclave.InitData(2, healthy.StartParam)); apiErr != nil || status != http.StatusOK || resp.Status != "sent" {
		t.Fatalf("approve the healthy transfer: %d %+v %v", status, resp, apiErr)
	}

	const poll = 200 * time.Millisecond
	var logs syncBuffer
	m := metrics.New(metrics.Options{})
	tracker, err := parent.NewService(s.store, parent.NewEnclaveClientTCP(s.enclave.Addr, 10*time.Second), parent.OneNetwork(s.chain),
		parent.ServiceConfig{Confirmations: 2, PollInterval: poll, Metrics: m}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := &stepClock{t: time.Now()}
	tracker.SetNow(clock.now)
	var broken atomic.Bool
	broken.Store(true)
	var passes []int // the polls at which the poison's pass ran
	at := 0
	defer parent.SetTrackHook(func(tr storage.Transfer) {
		if tr.ID == poison.ID {
			passes = append(passes, at)
			if broken.Load() {
				panic("a bug in one transfer's pass")
			}
		}
	})()

	// 40 polls at least, until the healthy transfer is confirmed (geth
	// mines a block a second; bounded).
	confirmed := -1
	for ; at < 40 || confirmed < 0; at++ {
		if at == 150 {
			t.Fatal("the healthy transfer was not confirmed in 150 polls")
		}
		tracker.TrackOnce(context.Background())
		if confirmed < 0 {
			if tr, err := s.store.Transfer(healthy.ID); err != nil {
				t.Fatal(err)
			} else if tr.State == storage.StateConfirmed {
				confirmed = at
			} else if tr.State.Final() {
				t.Fatalf("the healthy transfer ended %s (%s)", tr.State, tr.Reason)
			}
		}
		clock.add(poll)
		time.Sleep(poll)
	}
	polls := at
	want := []int{}
	for k := 1; k-1 < polls; k *= 2 {
		want = append(want, k-1)
	}
	if !slices.Equal(passes, want) {
		t.Fatalf("over %d polls the poison was passed at polls %v, want %v", polls, passes, want)
	}
	t.Logf("%d polls: the poison passed %d times (%v), the healthy transfer confirmed at poll %d", polls, len(passes), passes, confirmed)
	if n := countPanics(t, m); n != float64(len(passes)) {
		t.Fatalf("autowallet_background_panics_total{worker=tracker} = %v, want %d (every panic)", n, len(passes))
	}
	if n := strings.Count(logs.String(), "pass panicked"); n != len(passes) {
		t.Fatalf("%d panic log lines, want one per panic (%d):\n%s", n, len(passes), logs.String())
	}
	if strings.Contains(logs.String(), "a bug in one") || !strings.Contains(logs.String(), "at=\"trackpanic_test.go:") || !strings.Contains(logs.String(), "transfer="+poison.ID) {
		t.Fatalf("the log lacks where and which transfer, or has the panic's value:\n%s", logs.String())
	}
	if tr, err := s.store.Transfer(poison.ID); err != nil || tr.State != storage.StateBuilt {
		t.Fatalf("the poison: %s %v; want still built", tr.State, err)
	}

	// The bug is gone and the poison's expiry has passed: it is handled
	// (expired) at the first poll after its back-off.
	broken.Store(false)
	clock.add(time.Hour)
	before := len(passes)
	tracker.TrackOnce(context.Background())
	if len(passes) != before+1 {
		t.Fatalf("after an hour the poison was not passed: %v", passes)
	}
	if tr, err := s.store.Transfer(poison.ID); err != nil || tr.State != storage.StateExpired {
		t.Fatalf("the poison after the fix: %s %v; want expired", tr.State, err)
	}
	if !strings.Contains(logs.String(), "works again") {
		t.Fatalf("no line saying the pass works again:\n%s", logs.String())
	}
}

func countPanics(t *testing.T, m *metrics.Metrics) float64 {
	t.Helper()
	mf, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mf {
		if f.GetName() != "autowallet_background_panics_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			if s.GetLabel()[0].GetValue() == "tracker" {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// syncBuffer is a log sink safe for the tracker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
