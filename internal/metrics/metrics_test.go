package metrics

import (
	"context"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

func openStore(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "data"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func transfer(id string, owner int64, nonce uint64) storage.Transfer {
	return storage.Transfer{
		ID: id, Owner: owner, ChatID: owner, MessageID: 1, ChainID: 11155111,
		From: common.BigToAddress(big.NewInt(0x1000 + owner)), To: common.HexToAddress("0x00000000000000000000000000000000000000aa"),
		Amount: big.NewInt(1), Nonce: nonce, MaxFee: big.NewInt(21000), Intent: []byte{1, 1, byte(nonce)},
		StartParam: "AQE" + id, Expiry: time.Now().Add(time.Hour),
	}
}

// TestStoreDecoratorCounts: every method of the decorated store is timed
// under its name, ErrNotFound is an answer (no error counted), a refused
// transition is no transition, and transitions inside Update count once,
// only when the transaction commits.
func TestStoreDecoratorCounts(t *testing.T) {
	m := New(Options{})
	s := Store(openStore(t), m)
	if _, err := s.User(77); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if _, _, err := s.CreateWallet(storage.Wallet{Owner: 1, Address: common.BigToAddress(big.NewInt(0x1001)), Record: []byte("sealed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTransfer(transfer("t1", 1, 0)); err != nil {
		t.Fatal(err)
	}
	// A refused transition (built -> confirmed is not allowed).
	_, err := s.UpdateTransfer("t1", func(tr *storage.Transfer) error { tr.State = storage.StateConfirmed; tr.Block = 1; return nil })
	if !errors.Is(err, storage.ErrInvalidTransition) {
		t.Fatalf("built -> confirmed: %v", err)
	}
	// A rolled-back Update: its transition does not count.
	rollback := errors.New("rolled back")
	err = s.Update(func(tx storage.Tx) error {
		if _, err := tx.UpdateTransfer("t1", func(tr *storage.Transfer) error { tr.State = storage.StateCancelled; return nil }); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	// A committed one: a new transfer and t1 cancelled.
	err = s.Update(func(tx storage.Tx) error {
		if _, err := tx.CreateTransfer(transfer("t2", 1, 1)); err != nil {
			return err
		}
		_, err := tx.UpdateTransfer("t1", func(tr *storage.Transfer) error { tr.State = storage.StateCancelled; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// An update that changes no state is no transition.
	if _, err := s.UpdateTransfer("t2", func(tr *storage.Transfer) error { tr.MessageID = 9; return nil }); err != nil {
		t.Fatal(err)
	}

	for op, want := range map[string]uint64{"User": 1, "CreateWallet": 1, "CreateTransfer": 1, "UpdateTransfer": 2, "Update": 2} {
		if got := histCount(t, m.storeTime.WithLabelValues(op)); got != want {
			t.Errorf("store op %s timed %d times, want %d", op, got, want)
		}
	}
	if got := testutil.ToFloat64(m.storeErrs.WithLabelValues("User")); got != 0 {
		t.Errorf("not found counted as a store error: %v", got)
	}
	if got := testutil.ToFloat64(m.storeErrs.WithLabelValues("UpdateTransfer")); got != 1 {
		t.Errorf("refused transition: %v store errors, want 1", got)
	}
	for state, want := range map[string]float64{"built": 2, "cancelled": 1, "confirmed": 0} {
		if got := testutil.ToFloat64(m.transitions.WithLabelValues(state)); got != want {
			t.Errorf("transitions to %s = %v, want %v", state, got, want)
		}
	}
	// The gauges read from the store at scrape time.
	m.WatchStore(s)
	if got := gaugeValue(t, m, "autowallet_transfers", "built"); got != 1 {
		t.Errorf("open built transfers = %v, want 1", got)
	}
}

func histCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	h := o.(prometheus.Histogram)
	ch := make(chan prometheus.Metric, 1)
	h.Collect(ch)
	var pb dto.Metric
	if err := (<-ch).Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.Histogram.GetSampleCount()
}

// gaugeValue gathers the registry and returns the value of the series of
// name whose first label is value.
func gaugeValue(t *testing.T, m *Metrics, name, value string) float64 {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.Metric {
			if len(s.Label) > 0 && s.Label[0].GetValue() == value {
				return s.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s{%s}", name, value)
	return 0
}

// TestLabelsBounded: whatever strings reach the recording methods (a chat's
// text as an update kind, an unknown Bot API method, an enclave's made-up
// error code, a network not configured), each label keeps to its known
// values, and nothing of the input appears in the scrape.
func TestLabelsBounded(t *testing.T) {
	m := New(Options{Networks: []string{"Base"}})
	for i := range 500 {
		junk := strings.Repeat("x", i%7) + "user-123456789-0xdeadbeef"
		m.UpdateReceived(junk)
		m.BotCall(junk, errors.New("boom"), i%2 == 0)
		m.Approval(junk)
		m.EnclaveCall(junk, time.Millisecond, true)
		m.RPCCall(junk, "eth_call", time.Millisecond, true)
		m.WatcherLag(junk, 10, 5)
		m.UpdateDropped(junk)
		m.BackgroundPanic(junk)
	}
	m.Transition(storage.State(200))
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), Namespace+"_") {
			continue
		}
		if len(f.Metric) > 1 && f.GetName() != Namespace+"_store_operation_duration_seconds" {
			t.Errorf("%s has %d series", f.GetName(), len(f.Metric))
		}
		for _, s := range f.Metric {
			for _, l := range s.Label {
				if strings.Contains(l.GetValue(), "user-") || strings.Contains(l.GetValue(), "deadbeef") {
					t.Errorf("%s{%s=%q}", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if got := testutil.ToFloat64(m.updates.WithLabelValues(Other)); got != 500 {
		t.Errorf("updates{kind=other} = %v", got)
	}
}

// TestNilMetricsCountNothing: a nil *Metrics is a valid no-op, and Store
// with nil returns the store itself.
func TestNilMetricsCountNothing(t *testing.T) {
	var m *Metrics
	m.UpdateReceived("command")
	m.BotCall("sendMessage", nil, false)
	m.Approval("ok")
	m.EnclaveCall("/v1/health", 0, false)
	m.RPCCall("x", "y", 0, false)
	m.Transition(storage.StateBuilt)
	m.WatcherLag("x", 1, 0)
	m.BackgroundPanic("card_queue")
	m.StoreOp("User", 0, false)
	m.WatchStore(nil)
	m.WatchReadiness(nil)
	db := openStore(t)
	if Store(db, nil) != storage.Store(db) {
		t.Fatal("Store(s, nil) is not s")
	}
}

// TestReadinessSharedAndBounded: /readyz answers 200 when every check
// passes and 503 naming the failing ones with their reason; a flood costs
// one round of checks per ttl; a check that hangs is cut at the timeout.
func TestReadinessSharedAndBounded(t *testing.T) {
	var calls atomic.Int64
	var enclave atomic.Value
	enclave.Store("")
	r := NewReadiness(200*time.Millisecond, 300*time.Millisecond,
		Check{Name: "enclave", Run: func(context.Context) string { calls.Add(1); return enclave.Load().(string) }},
		Check{Name: "slow", Run: func(ctx context.Context) string { <-ctx.Done(); return "" }},
	)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	get := func() (int, string) {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	status, body := get()
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"slow":"timeout"`) || !strings.Contains(body, `"enclave":"ok"`) {
		t.Fatalf("with a hanging check: %d %s", status, body)
	}
	for range 50 {
		get()
	}
	if n := calls.Load(); n > 2 {
		t.Fatalf("50 requests within the ttl ran the checks %d times", n)
	}
	r2 := NewReadiness(time.Second, time.Millisecond, Check{Name: "enclave", Run: func(context.Context) string { return enclave.Load().(string) }})
	srv.Config.Handler = r2.Handler()
	if status, body := get(); status != http.StatusOK || !strings.Contains(body, `"status":"ready"`) {
		t.Fatalf("all ok: %d %s", status, body)
	}
	enclave.Store(ReasonLocked)
	time.Sleep(5 * time.Millisecond)
	if status, body := get(); status != http.StatusServiceUnavailable || !strings.Contains(body, `"not_ready":["enclave"]`) || !strings.Contains(body, `"enclave":"locked"`) {
		t.Fatalf("locked: %d %s", status, body)
	}
}

// TestNamesAreRegistered: Names is exactly the set of autowallet_* families
// a parent's registry serves once every metric has a series, so the deploy
// files' test (deploy/TestDashboardAndAlertsUseKnownMetrics) checks against
// what is really exported.
func TestNamesAreRegistered(t *testing.T) {
	m := New(Options{Networks: []string{"Base"}})
	m.UpdateReceived("command")
	m.BotCall("sendMessage", nil, false)
	m.BotCall("sendMessage", errors.New("x"), true)
	m.Approval("ok")
	m.EnclaveCall("/v1/health", 0, true)
	m.RPCCall("Base", "eth_blockNumber", 0, true)
	m.Transition(storage.StateBuilt)
	m.WatcherLag("Base", 1, 0)
	m.StoreOp("User", 0, true)
	m.UpdateDropped("panic")
	m.BackgroundPanic("card_queue")
	m.WebhookReset()
	m.LeaseHeld("cards", true)
	m.WatchStore(openStore(t))
	m.WatchReadiness(NewReadiness(0, 0, Check{Name: "store", Run: func(context.Context) string { return "" }}))
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), Namespace+"_") {
			got = append(got, f.GetName())
		}
	}
	want := m.Names()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("served %v\nNames %v", got, want)
	}
}

// TestScrapeStoreFailureSaysNoMore: when the store cannot be read at a
// scrape, /metrics answers 500 with a fixed sentence, not the store's
// error (a database error may quote its connection settings).
func TestScrapeStoreFailureSaysNoMore(t *testing.T) {
	m := New(Options{})
	db := openStore(t)
	m.WatchStore(db)
	db.Close()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(b), errStoreRead.Error()) || strings.Contains(string(b), "database not open") {
		t.Fatalf("scrape of a closed store: %d %s", resp.StatusCode, b)
	}
}

// TestStoreDecoratorFlows: the chat flows' methods are timed, and a lost
// compare-and-set (ErrFlowChanged) is an answer, not a store error.
func TestStoreDecoratorFlows(t *testing.T) {
	m := New(Options{})
	s := Store(openStore(t), m)
	f, err := s.PutFlow(5, 0, []byte("x"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFlow(5, 0, []byte("y"), time.Minute); !errors.Is(err, storage.ErrFlowChanged) {
		t.Fatal(err)
	}
	if _, err := s.Flow(5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteFlow(5, f.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PruneFlows(); err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]uint64{"PutFlow": 2, "Flow": 1, "DeleteFlow": 1, "PruneFlows": 1} {
		if got := histCount(t, m.storeTime.WithLabelValues(op)); got != want {
			t.Errorf("store op %s timed %d times, want %d", op, got, want)
		}
	}
	if got := testutil.ToFloat64(m.storeErrs.WithLabelValues("PutFlow")); got != 0 {
		t.Errorf("a lost compare-and-set counted as a store error: %v", got)
	}
}
