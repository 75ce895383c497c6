package lease_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

func openStore(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.OpenFile(filepath.Join(t.TempDir(), "a.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// effect is one external effect the work made, with the tenure's token.
type effect struct {
	holder string
	token  uint64
	at     time.Time
}

type effects struct {
	mu  sync.Mutex
	all []effect
}

// work makes an effect every few milliseconds, each behind the fence.
func (e *effects) work(holder string) lease.Work {
	return func(ctx context.Context) error {
		h, _ := lease.FromContext(ctx)
		for {
			if lease.Check(ctx) == nil {
				e.mu.Lock()
				e.all = append(e.all, effect{holder, h.Token, time.Now()})
				e.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(3 * time.Millisecond):
			}
		}
	}
}

// check asserts the fencing property: effects ordered in time carry
// tokens that never go down, and each token belongs to one holder.
func (e *effects) check(t *testing.T) (holders []string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	owner := map[uint64]string{}
	var last uint64
	for _, f := range e.all {
		if f.token < last {
			t.Fatalf("effect of token %d (%s) after one of token %d: two holders worked at once", f.token, f.holder, last)
		}
		last = f.token
		if o, ok := owner[f.token]; ok && o != f.holder {
			t.Fatalf("token %d used by %s and %s", f.token, o, f.holder)
		}
		if _, ok := owner[f.token]; !ok {
			holders = append(holders, f.holder)
		}
		owner[f.token] = f.holder
	}
	return holders
}

func (e *effects) count(holder string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, f := range e.all {
		if f.holder == holder {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const ttl = 600 * time.Millisecond

func config(db lease.Store, holder string) lease.Config {
	return lease.Config{Store: db, Name: "tracker/1337", Holder: holder, TTL: ttl, Retry: 20 * time.Millisecond}
}

// A clean stop releases the lease: the other parent takes over at its
// next try, well before the TTL, and the two never work at once.
func TestCleanStopHandsOverAtOnce(t *testing.T) {
	db := openStore(t)
	var e effects
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	var wg sync.WaitGroup
	wg.Go(func() { lease.Run(ctxA, config(db, "parent-a"), e.work("parent-a")) })
	waitFor(t, 2*time.Second, "a holds", func() bool { return e.count("parent-a") > 0 })
	wg.Go(func() { lease.Run(ctxB, config(db, "parent-b"), e.work("parent-b")) })
	time.Sleep(ttl) // b tries and is refused meanwhile
	if n := e.count("parent-b"); n != 0 {
		t.Fatalf("b worked %d times while a held the lease", n)
	}
	stopA()
	stopped := time.Now()
	waitFor(t, ttl/2, "b takes over after a's release", func() bool { return e.count("parent-b") > 0 })
	t.Logf("takeover %v after the release", time.Since(stopped))
	stopB()
	wg.Wait()
	if got := e.check(t); !slices.Equal(got, []string{"parent-a", "parent-b"}) {
		t.Fatalf("tenures %v", got)
	}
	if l, held, _ := db.AcquireLease("tracker/1337", "parent-c", ttl); !held {
		t.Fatalf("b did not release on its clean stop: %+v", l)
	}
}

// frozen plays a parent that stalls: every store call blocks until
// thawed (a SIGSTOP, a network cut to the database).
type frozen struct {
	lease.Store
	stuck atomic.Bool
	thaw  chan struct{}
}

func (f *frozen) AcquireLease(name, holder string, ttl time.Duration) (storage.Lease, bool, error) {
	if f.stuck.Load() {
		<-f.thaw
	}
	return f.Store.AcquireLease(name, holder, ttl)
}

func (f *frozen) ReleaseLease(name, holder string) error {
	if f.stuck.Load() {
		<-f.thaw
	}
	return f.Store.ReleaseLease(name, holder)
}

// A parent whose store calls hang stops its own work at its local
// deadline (before the store's TTL ends), the other takes over after the
// TTL, and the stalled one, once it can reach the store again, finds the
// lease taken and does nothing.
func TestStalledHolderStopsAndIsReplaced(t *testing.T) {
	db := openStore(t)
	fa := &frozen{Store: db, thaw: make(chan struct{})}
	var e effects
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { lease.Run(ctx, config(fa, "parent-a"), e.work("parent-a")) })
	waitFor(t, 2*time.Second, "a holds", func() bool { return e.count("parent-a") > 0 })
	wg.Go(func() { lease.Run(ctx, config(db, "parent-b"), e.work("parent-b")) })
	fa.stuck.Store(true)
	froze := time.Now()
	waitFor(t, 3*ttl, "b takes over after a stalls", func() bool { return e.count("parent-b") > 0 })
	if d := time.Since(froze); d < ttl/2 {
		t.Fatalf("b took over %v after a stalled: before a's lease could run out", d)
	}
	aBefore := e.count("parent-a")
	close(fa.thaw)
	fa.stuck.Store(false)
	time.Sleep(2 * ttl)
	if n := e.count("parent-a"); n != aBefore {
		t.Fatalf("a made %d effects after it lost the lease", n-aBefore)
	}
	stop()
	wg.Wait()
	if got := e.check(t); !slices.Equal(got, []string{"parent-a", "parent-b"}) {
		t.Fatalf("tenures %v", got)
	}
}

// failing answers every store call with an error once broken.
type failing struct {
	lease.Store
	broken atomic.Bool
}

var errDown = errors.New("database unreachable")

func (f *failing) AcquireLease(name, holder string, ttl time.Duration) (storage.Lease, bool, error) {
	if f.broken.Load() {
		return storage.Lease{}, false, errDown
	}
	return f.Store.AcquireLease(name, holder, ttl)
}

// One failed renewal stops the work at once (not at the deadline), and
// the fence says why.
func TestFailedRenewalStopsWork(t *testing.T) {
	db := openStore(t)
	f := &failing{Store: db}
	var got error
	stopped := make(chan struct{})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go lease.Run(ctx, lease.Config{Store: f, Name: "alerts", Holder: "parent-a", TTL: 3 * time.Second, Renew: 50 * time.Millisecond, Retry: time.Hour},
		func(ctx context.Context) error {
			f.broken.Store(true)
			<-ctx.Done()
			got = lease.Check(ctx)
			close(stopped)
			return ctx.Err()
		})
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		t.Fatal("work still running after a failed renewal")
	}
	if !errors.Is(got, lease.ErrLost) || !errors.Is(got, errDown) {
		t.Fatalf("fence after a failed renewal: %v", got)
	}
}

// The lease's token changes with the holder and survives renewals, so the
// fence can tell tenures apart; a lease taken over after running out is a
// new tenure even for the same holder.
func TestTokenPerTenure(t *testing.T) {
	db := openStore(t)
	a, _, _ := db.AcquireLease("cards", "parent-a", time.Minute)
	a2, _, _ := db.AcquireLease("cards", "parent-a", time.Minute)
	if a.Token != a2.Token {
		t.Fatalf("renewal changed the token %d -> %d", a.Token, a2.Token)
	}
	db.ReleaseLease("cards", "parent-a")
	b, held, _ := db.AcquireLease("cards", "parent-b", time.Minute)
	if !held || b.Token <= a.Token {
		t.Fatalf("takeover: held %v token %d after %d", held, b.Token, a.Token)
	}
}

func TestConfigRefused(t *testing.T) {
	db := openStore(t)
	err := lease.Run(context.Background(), lease.Config{Store: db, Name: "x", Holder: "h", TTL: time.Second, Renew: time.Second}, nil)
	if err == nil {
		t.Fatal("renewal as long as the TTL accepted")
	}
	if err := lease.Run(context.Background(), lease.Config{Store: db, Name: "x"}, nil); err == nil {
		t.Fatal("no holder accepted")
	}
}
