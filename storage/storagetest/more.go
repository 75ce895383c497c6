package storagetest

import (
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// ---- deposits ----

func deposit(owner int64, tx byte, block uint64, at time.Time) storage.Deposit {
	return storage.Deposit{
		ChainID: 11155111, From: common.HexToAddress("0xbb"), To: Addr(owner), Owner: owner,
		Amount: big.NewInt(int64(tx) * 1000), TxHash: common.Hash{tx}, LogIndex: storage.NativeLogIndex,
		Block: block, Time: at,
	}
}

func cursor(block uint64) storage.WatchCursor {
	return storage.WatchCursor{ChainID: 11155111, Block: block, Hashes: []common.Hash{{byte(block)}, {byte(block + 1)}}}
}

func testDeposits(t *testing.T, open Open) {
	s := open(t)
	_, err := s.WatchCursor(11155111)
	wantErr(t, err, storage.ErrNotFound, "fresh cursor")
	deps := []storage.Deposit{deposit(1, 1, 10, T0), deposit(1, 2, 11, T0.Add(time.Minute)), deposit(2, 3, 11, T0.Add(time.Minute))}
	tok := deposit(1, 4, 12, T0.Add(2*time.Minute))
	tok.Token, tok.LogIndex = common.HexToAddress("0xcc"), 3
	deps = append(deps, tok)
	n, err := s.StoreWatchedBlocks(cursor(12), deps)
	if err != nil || n != 4 {
		t.Fatal(n, err)
	}
	// The same blocks again (a rescan after a reorg): nothing new, no
	// second alert; a new deposit among them is stored once.
	n, err = s.StoreWatchedBlocks(cursor(13), append(deps, deposit(1, 5, 13, T0.Add(3*time.Minute))))
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	c, err := s.WatchCursor(11155111)
	if err != nil || c.Block != 13 || len(c.Hashes) != 2 || c.Hashes[1] != (common.Hash{14}) {
		t.Fatal(c, err)
	}
	alerts, err := s.PendingAlerts(10)
	if err != nil || len(alerts) != 5 {
		t.Fatal(alerts, err)
	}
	for i := 1; i < len(alerts); i++ {
		if alerts[i].Seq <= alerts[i-1].Seq {
			t.Fatalf("alerts out of order: %v", alerts)
		}
	}
	if alerts[0].Deposit.TxHash != (common.Hash{1}) || alerts[4].Deposit.TxHash != (common.Hash{5}) || alerts[3].Deposit.Token != tok.Token {
		t.Fatalf("alerts %+v", alerts)
	}
	page, err := s.PendingAlertsAfter(alerts[1].Seq, 2)
	if err != nil || len(page) != 2 || page[0].Seq != alerts[2].Seq {
		t.Fatal(page, err)
	}
	if err := s.AlertDelivered(alerts[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.AlertDelivered(alerts[0].Seq); err != nil {
		t.Fatal("delivering twice:", err)
	}
	if rest, _ := s.PendingAlerts(10); len(rest) != 4 || rest[0].Seq != alerts[1].Seq {
		t.Fatal(rest)
	}
	// History: newest first by block time, paged.
	got, err := s.Deposits(1, 2, 0)
	if err != nil || len(got) != 2 || got[0].TxHash != (common.Hash{5}) || got[1].TxHash != (common.Hash{4}) {
		t.Fatal(got, err)
	}
	got, err = s.Deposits(1, 10, 2)
	if err != nil || len(got) != 2 || got[0].TxHash != (common.Hash{2}) || got[1].TxHash != (common.Hash{1}) {
		t.Fatal(got, err)
	}
	if got[1].Amount.Int64() != 1000 || !got[1].Time.Equal(T0) || got[1].LogIndex != storage.NativeLogIndex {
		t.Fatalf("deposit %+v", got[1])
	}
	if got, _ := s.Deposits(2, 10, 0); len(got) != 1 {
		t.Fatal(got)
	}
	if got, _ := s.Deposits(1, 10, 5); len(got) != 0 {
		t.Fatal(got)
	}
	_, err = s.Deposits(1, 0, 0)
	wantErr(t, err, storage.ErrInvalid, "limit 0")
	_, err = s.PendingAlerts(0)
	wantErr(t, err, storage.ErrInvalid, "alerts limit 0")
}

func testDepositsRefuse(t *testing.T, open Open) {
	s := open(t)
	bad := map[string]func() (storage.WatchCursor, []storage.Deposit){
		"no hashes": func() (storage.WatchCursor, []storage.Deposit) {
			return storage.WatchCursor{ChainID: 1, Block: 5}, nil
		},
		"chain 0": func() (storage.WatchCursor, []storage.Deposit) {
			c := cursor(5)
			c.ChainID = 0
			return c, nil
		},
		"deposit after the cursor": func() (storage.WatchCursor, []storage.Deposit) {
			return cursor(5), []storage.Deposit{deposit(1, 1, 6, T0)}
		},
		"zero amount": func() (storage.WatchCursor, []storage.Deposit) {
			d := deposit(1, 1, 5, T0)
			d.Amount = new(big.Int)
			return cursor(5), []storage.Deposit{d}
		},
		"native with a log index": func() (storage.WatchCursor, []storage.Deposit) {
			d := deposit(1, 1, 5, T0)
			d.LogIndex = 0
			return cursor(5), []storage.Deposit{d}
		},
	}
	for name, mk := range bad {
		c, d := mk()
		_, err := s.StoreWatchedBlocks(c, d)
		wantErr(t, err, storage.ErrInvalid, name)
	}
	// Nothing of a refused call is stored.
	if _, err := s.WatchCursor(11155111); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if a, _ := s.PendingAlerts(10); len(a) != 0 {
		t.Fatal(a)
	}
}

// ---- coordination ----

func testUpdateClaims(t *testing.T, open Open) {
	s := open(t)
	claim := func(id int64, holder string, ttl time.Duration, want storage.UpdateClaim) {
		t.Helper()
		got, err := s.ClaimUpdate(id, holder, ttl)
		if err != nil || got != want {
			t.Fatalf("claim %d by %s: %v, %v; want %v", id, holder, got, err, want)
		}
	}
	claim(1, "a", time.Minute, storage.UpdateClaimed)
	claim(1, "b", time.Minute, storage.UpdateInProgress)
	claim(1, "a", time.Minute, storage.UpdateClaimed) // a retry that reached the same parent
	wantErr(t, s.FinishUpdate(1, "b"), storage.ErrInvalid, "finish by another holder")
	if err := s.FinishUpdate(1, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishUpdate(1, "b"); err != nil {
		t.Fatal("finishing a finished update:", err)
	}
	claim(1, "a", time.Minute, storage.UpdateDone)
	claim(1, "b", time.Minute, storage.UpdateDone)
	wantErr(t, s.FinishUpdate(2, "a"), storage.ErrNotFound, "finish an unknown update")
	// A claim that runs out is taken over.
	claim(3, "a", 50*time.Millisecond, storage.UpdateClaimed)
	claim(3, "b", time.Minute, storage.UpdateInProgress)
	time.Sleep(120 * time.Millisecond)
	claim(3, "b", time.Minute, storage.UpdateClaimed)
	claim(3, "a", time.Minute, storage.UpdateInProgress)
	wantErr(t, s.FinishUpdate(3, "a"), storage.ErrInvalid, "finish by the holder that lost it")
	for name, err := range map[string]error{
		"empty holder":  func() error { _, err := s.ClaimUpdate(4, "", time.Minute); return err }(),
		"long holder":   func() error { _, err := s.ClaimUpdate(4, string(make([]byte, 129)), time.Minute); return err }(),
		"zero ttl":      func() error { _, err := s.ClaimUpdate(4, "a", 0); return err }(),
		"ttl over 1h":   func() error { _, err := s.ClaimUpdate(4, "a", 2*time.Hour); return err }(),
		"negative id":   func() error { _, err := s.ClaimUpdate(-1, "a", time.Minute); return err }(),
		"lease no name": func() error { _, _, err := s.AcquireLease("", "a", time.Minute); return err }(),
	} {
		wantErr(t, err, storage.ErrInvalid, name)
	}
	// Prune, by the store's own clock: update 1 finished over 120 ms ago
	// goes, update 3's live claim stays; a negative age is refused (it
	// would delete live claims).
	if n, err := s.PruneUpdates(time.Hour); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	_, err := s.PruneUpdates(-time.Minute)
	wantErr(t, err, storage.ErrInvalid, "negative prune age")
	if n, err := s.PruneUpdates(50 * time.Millisecond); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	claim(1, "c", time.Minute, storage.UpdateClaimed)    // forgotten: a new update to the store
	claim(3, "c", time.Minute, storage.UpdateInProgress) // still b's
}

// testUpdateClaimConcurrent: one update delivered to many parents at once
// is claimed by exactly one.
func testUpdateClaimConcurrent(t *testing.T, open Open) {
	s := open(t)
	const n = 8
	var mu sync.Mutex
	claimed, busy := 0, 0
	parallel(n, func(i int) {
		c, err := s.ClaimUpdate(42, fmt.Sprint("parent-", i), time.Minute)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			t.Error(err)
		case c == storage.UpdateClaimed:
			claimed++
		case c == storage.UpdateInProgress:
			busy++
		}
	})
	if claimed != 1 || busy != n-1 {
		t.Fatalf("%d claimed, %d in progress", claimed, busy)
	}
}

func testLeases(t *testing.T, open Open) {
	s := open(t)
	acquire := func(holder string, ttl time.Duration, wantHeld bool, wantHolder string, wantToken uint64) storage.Lease {
		t.Helper()
		l, held, err := s.AcquireLease("tracker", holder, ttl)
		if err != nil || held != wantHeld || l.Holder != wantHolder || l.Token != wantToken || l.Name != "tracker" {
			t.Fatalf("%s acquires: %+v held=%v err=%v; want holder %s token %d held %v", holder, l, held, err, wantHolder, wantToken, wantHeld)
		}
		return l
	}
	l1 := acquire("a", time.Minute, true, "a", 1)
	if d := time.Until(l1.Until); d < 30*time.Second || d > 90*time.Second {
		t.Fatalf("lease until %v (in %v)", l1.Until, d)
	}
	acquire("b", time.Minute, false, "a", 1)
	l2 := acquire("a", 2*time.Minute, true, "a", 1) // renewal: same token, later end
	if !l2.Until.After(l1.Until) {
		t.Fatal("renewal did not extend", l1.Until, l2.Until)
	}
	if err := s.ReleaseLease("tracker", "b"); err != nil { // not b's: nothing changes
		t.Fatal(err)
	}
	acquire("b", time.Minute, false, "a", 1)
	if err := s.ReleaseLease("tracker", "a"); err != nil {
		t.Fatal(err)
	}
	acquire("b", 50*time.Millisecond, true, "b", 2)
	time.Sleep(120 * time.Millisecond)
	acquire("a", time.Minute, true, "a", 3) // b's ran out
	if err := s.ReleaseLease("nothing", "a"); err != nil {
		t.Fatal(err)
	}
	// Leases are independent by name.
	if l, held, err := s.AcquireLease("watch-1", "b", time.Minute); err != nil || !held || l.Token != 1 {
		t.Fatal(l, held, err)
	}
	_, _, err := s.AcquireLease("x", "a", -time.Second)
	wantErr(t, err, storage.ErrInvalid, "negative ttl")
	_, _, err = s.AcquireLease("x", "", time.Second)
	wantErr(t, err, storage.ErrInvalid, "empty holder")
}

// testLeaseConcurrent: many parents take a free lease at once: one has it.
func testLeaseConcurrent(t *testing.T, open Open) {
	s := open(t)
	const n = 8
	var mu sync.Mutex
	held := 0
	parallel(n, func(i int) {
		l, ok, err := s.AcquireLease("alerts", fmt.Sprint("parent-", i), time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Error(err)
		} else if ok {
			held++
			if l.Token != 1 {
				t.Errorf("token %d", l.Token)
			}
		}
	})
	if held != 1 {
		t.Fatalf("%d parents hold the lease", held)
	}
}
