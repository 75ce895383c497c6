package bolt

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// The group commit's rules (batch.go), with batches formed on purpose: the
// test holds bbolt's writer lock, so the first caller (the leader) waits in
// its commit while the others queue up behind it; releasing the lock lets
// the leader commit alone, then the queued calls commit as one batch.

// formBatch runs first, waits until it leads (its batch taken), then
// starts each of queued in order, each after the one before it is queued,
// and releases the writer lock. It returns when every call returned.
func formBatch(t *testing.T, db *DB, first func(), queued ...func()) {
	t.Helper()
	hold, err := db.begin(true) // bbolt's writer lock: the leader's commit waits
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	run(first)
	waitBatcher(t, db, func(leading bool, queued int) bool { return leading && queued == 0 })
	for i, f := range queued {
		run(f)
		waitBatcher(t, db, func(_ bool, n int) bool { return n == i+1 })
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// createOK creates owner's wallet (from any goroutine).
func createOK(t *testing.T, db *DB, owner int64) {
	if _, created, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: addrOf(owner), Record: recordOf(owner, 0)}); err != nil || !created {
		t.Error(owner, err, created)
	}
}

// waitBatcher polls the batcher's state until ok (at most 5 s).
func waitBatcher(t *testing.T, db *DB, ok func(leading bool, queued int) bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
		db.batcher.mu.Lock()
		done := ok(db.batcher.leading, len(db.batcher.queue))
		db.batcher.mu.Unlock()
		if done {
			return
		}
	}
	t.Fatal("the batch did not form in 5 s")
}

// TestBatchFailingItemAmongGood: in one batch, a create whose address the
// batch's first create takes fails with ErrWalletExists (run alone, on the
// committed state), and neither stops the others nor leaves a trace: the
// good ones commit together (one transaction: one Created), the failing
// one's owner has no wallet and its address stays the other user's.
func TestBatchFailingItemAmongGood(t *testing.T) {
	db, _ := openTestDB(t)
	errs := make([]error, 5)
	create := func(i int, w storage.Wallet) func() {
		return func() { _, _, errs[i] = db.CreateWallet(w) }
	}
	formBatch(t, db,
		create(0, storage.Wallet{Owner: 10, Address: addrOf(10), Record: recordOf(10, 0)}),
		create(1, storage.Wallet{Owner: 1, Address: addrOf(1), Record: recordOf(1, 0)}),
		create(2, storage.Wallet{Owner: 2, Address: addrOf(1), Record: recordOf(2, 0)}), // address of owner 1, written earlier in the batch
		create(3, storage.Wallet{Owner: 3, Address: addrOf(3), Record: recordOf(3, 0)}),
		create(4, storage.Wallet{Owner: 4, Address: addrOf(10), Record: recordOf(4, 0)}), // address of owner 10, committed before
	)
	for i, want := range []error{nil, nil, storage.ErrWalletExists, nil, storage.ErrWalletExists} {
		if !errors.Is(errs[i], want) || (want == nil) != (errs[i] == nil) {
			t.Errorf("create %d: %v, want %v", i, errs[i], want)
		}
	}
	if !strings.Contains(fmt.Sprint(errs[2]), "belongs to user 1") {
		t.Errorf("create 2: %v", errs[2])
	}
	w0, _ := db.WalletByOwner(10)
	w1, err1 := db.WalletByOwner(1)
	w3, err3 := db.WalletByOwner(3)
	if err1 != nil || err3 != nil {
		t.Fatal(err1, err3)
	}
	if !w1.Created.Equal(w3.Created) || w1.Created.Equal(w0.Created) {
		t.Errorf("created %v and %v (one batch) after %v (the leader's own)", w1.Created, w3.Created, w0.Created)
	}
	for _, owner := range []int64{2, 4} {
		if _, err := db.WalletByOwner(owner); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("owner %d of a failed create has a wallet: %v", owner, err)
		}
	}
	for addr, owner := range map[int64]int64{1: 1, 10: 10} {
		if w, err := db.WalletByAddress(addrOf(addr)); err != nil || w.Owner != owner {
			t.Errorf("address %d: %+v, %v; want owner %d", addr, w, err, owner)
		}
	}
}

// TestBatchSameOwnerInOneBatch: creates of one owner queued in one batch
// store exactly one wallet (the first's); every caller gets it back, and
// the others' addresses are not indexed.
func TestBatchSameOwnerInOneBatch(t *testing.T) {
	db, _ := openTestDB(t)
	const n = 8
	got := make([]storage.Wallet, n)
	created := make([]bool, n)
	calls := make([]func(), n)
	for i := range calls {
		calls[i] = func() {
			var err error
			got[i], created[i], err = db.CreateWallet(storage.Wallet{Owner: 9, Address: addrOf(100 + int64(i)), Record: recordOf(9, i)})
			if err != nil {
				t.Error(err)
			}
		}
	}
	formBatch(t, db, func() { createOK(t, db, 50) }, calls...)
	stored, err := db.WalletByOwner(9)
	if err != nil || stored.Address != addrOf(100) {
		t.Fatalf("stored %+v, %v; want the first queued create's", stored, err)
	}
	for i := range n {
		if created[i] != (i == 0) || !reflect.DeepEqual(got[i], stored) {
			t.Errorf("call %d: created %v, %+v", i, created[i], got[i])
		}
		if i > 0 {
			if _, err := db.WalletByAddress(addrOf(100 + int64(i))); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("address of call %d was indexed: %v", i, err)
			}
		}
	}
}

// TestBatchFunctionErrorOrPanicWritesNothing: a batched function that wrote
// and then failed, or panicked, leaves nothing of its own; its caller gets
// its error (or its panic), the others in the batch commit.
func TestBatchFunctionErrorOrPanicWritesNothing(t *testing.T) {
	db, _ := openTestDB(t)
	errBoom := errors.New("boom")
	var errHalf, errGood error
	var panicked any
	formBatch(t, db, func() { createOK(t, db, 1) },
		func() { errGood = db.batch(func(tx *boltTx) error { return tx.PutMeta("good-1", []byte{1}) }) },
		func() {
			errHalf = db.batch(func(tx *boltTx) error {
				if err := tx.PutMeta("half", []byte{1}); err != nil {
					return err
				}
				return errBoom
			})
		},
		func() {
			defer func() { panicked = recover() }()
			db.batch(func(tx *boltTx) error {
				if err := tx.PutMeta("panic", []byte{1}); err != nil {
					return err
				}
				panic("bad function")
			})
		},
		func() { createOK(t, db, 2) },
	)
	if errGood != nil || !errors.Is(errHalf, errBoom) || panicked != "bad function" {
		t.Fatalf("good %v, half %v, panic %v", errGood, errHalf, panicked)
	}
	for key, want := range map[string]error{"good-1": nil, "half": storage.ErrNotFound, "panic": storage.ErrNotFound} {
		if _, err := db.Meta(key); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("meta %q: %v, want %v", key, err, want)
		}
	}
	if _, err := db.WalletByOwner(2); err != nil {
		t.Error(err)
	}
}

// TestBatchConcurrentClaims: one update claimed by 32 parents at once is
// theirs exactly once; the claims share commits but not answers.
func TestBatchConcurrentClaims(t *testing.T) {
	db, _ := openTestDB(t)
	var claimed, inProgress atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := db.ClaimUpdate(7, "parent-"+strconv.Itoa(i), time.Minute)
			switch {
			case err != nil:
				t.Error(err)
			case c == storage.UpdateClaimed:
				claimed.Add(1)
			case c == storage.UpdateInProgress:
				inProgress.Add(1)
			default:
				t.Errorf("claim %d: %v", i, c)
			}
		}()
	}
	wg.Wait()
	if claimed.Load() != 1 || inProgress.Load() != 31 {
		t.Fatalf("claimed %d, in progress %d; want 1 and 31", claimed.Load(), inProgress.Load())
	}
}

// TestBatchDurableAfterReopen: 300 concurrent creates (batched), the file
// closed and opened again: every wallet a call reported is there.
func TestBatchDurableAfterReopen(t *testing.T) {
	db, dir := openTestDB(t)
	const n = 300
	var wg sync.WaitGroup
	for owner := int64(1); owner <= n; owner++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, created, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: addrOf(owner), Record: recordOf(owner, 0)}); err != nil || !created {
				t.Error(owner, err, created)
			}
		}()
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for owner := int64(1); owner <= n; owner++ {
		if w, err := db.WalletByOwner(owner); err != nil || w.Address != addrOf(owner) {
			t.Fatalf("owner %d: %+v, %v", owner, w, err)
		}
	}
}

// TestBatchSurvivesKill: a child process creates wallets from 64
// goroutines and prints each owner once CreateWallet returned; it is
// killed with SIGKILL in the middle. Every owner it printed is in the file.
// (A killed process keeps its page cache, so this proves the commit came
// before the return, not the fsync; the fsync is bbolt's Commit, which the
// batch calls as every write does.)
func TestBatchSurvivesKill(t *testing.T) {
	if path := os.Getenv("AUTOWALLET_BATCH_CHILD"); path != "" {
		batchChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), FileName)
	cmd := exec.Command(os.Args[0], "-test.run=^TestBatchSurvivesKill$")
	cmd.Env = append(os.Environ(), "AUTOWALLET_BATCH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var reported []int64
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(reported) < 2000 {
		if owner, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "stored "), 10, 64); err == nil && strings.HasPrefix(sc.Text(), "stored ") {
			reported = append(reported, owner)
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if len(reported) < 2000 {
		t.Fatalf("the child reported %d wallets before it stopped", len(reported))
	}
	db, err := OpenFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, owner := range reported {
		if w, err := db.WalletByOwner(owner); err != nil || w.Address != addrOf(owner) {
			t.Fatalf("owner %d was reported stored: %+v, %v", owner, w, err)
		}
	}
	var total int
	db.ForEachWallet(func(storage.Wallet) error { total++; return nil })
	t.Logf("%d wallets reported before SIGKILL, %d in the file", len(reported), total)
}

// batchChild is TestBatchSurvivesKill's child: it creates wallets until it
// is killed (at most a minute).
func batchChild(path string) {
	db, err := OpenFile(path, Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var next atomic.Int64
	deadline := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				owner := next.Add(1)
				if _, _, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: addrOf(owner), Record: recordOf(owner, 0)}); err != nil {
					fmt.Println("create:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(w, "stored %d\n", owner)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}
