package lease_test

import (
	"context"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage/postgres"
)

// heldGauge is autowallet_lease_held{name} in m: -1 when it has no series.
func heldGauge(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "autowallet_lease_held" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == name {
					return s.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// TestLeaseHeldGaugeFollowsTheHolder: two parents' runners (each its own
// registry, as each parent scrapes its own) on one store. The gauge is 1
// on the holder and 0 on the other; when the holder stops, it flips.
// Then a lease row written past the program (PostgreSQL: a holder that is
// no parent, until far in the future: review 12, finding 4) makes both 0,
// the sum the alert AutowalletLeaseUnheld fires on.
func TestLeaseHeldGaugeFollowsTheHolder(t *testing.T) {
	for _, engine := range []string{"bbolt", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var store lease.Store
			var pg *postgres.DB
			if engine == "bbolt" {
				store = openStore(t)
			} else {
				db, err := postgres.Open(context.Background(), pgtest.Start(t).NewDatabase(t), postgres.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				store, pg = db, db
			}
			const name = "tracker/1337"
			ma, mb := metrics.New(metrics.Options{}), metrics.New(metrics.Options{})
			idle := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
			ctxA, stopA := context.WithCancel(context.Background())
			ctxB, stopB := context.WithCancel(context.Background())
			doneA, doneB := make(chan struct{}), make(chan struct{})
			t.Cleanup(func() { stopA(); stopB(); <-doneA; <-doneB })

			ca := config(store, "parent-a")
			ca.Metrics = ma
			go func() { defer close(doneA); _ = lease.Run(ctxA, ca, idle) }()
			waitFor(t, 5*time.Second, "a holds the lease", func() bool { return heldGauge(t, ma, name) == 1 })
			cb := config(store, "parent-b")
			cb.Metrics = mb
			go func() { defer close(doneB); _ = lease.Run(ctxB, cb, idle) }()
			waitFor(t, 5*time.Second, "b reports not holding", func() bool { return heldGauge(t, mb, name) == 0 })
			if g := heldGauge(t, ma, name); g != 1 {
				t.Fatalf("a's gauge %v while it holds the lease", g)
			}

			stopA()
			<-doneA
			if g := heldGauge(t, ma, name); g != 0 {
				t.Fatalf("a's gauge %v after it stopped", g)
			}
			waitFor(t, 5*time.Second, "b takes over", func() bool { return heldGauge(t, mb, name) == 1 })

			if pg == nil {
				return
			}
			// The database's writer hands the lease to nobody's instance.
			if _, err := pg.Pool().Exec(context.Background(),
				`UPDATE leases SET holder = 'intruder', until = now() + interval '100 years', token = token + 1 WHERE name = $1`, name); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "b sees it lost the lease", func() bool { return heldGauge(t, mb, name) == 0 })
			time.Sleep(3 * ttl)
			if g := heldGauge(t, mb, name); g != 0 {
				t.Fatalf("b's gauge %v while the intruder row holds the lease", g)
			}
		})
	}
}
