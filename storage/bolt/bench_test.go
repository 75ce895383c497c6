package bolt

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
	"go.etcd.io/bbolt"
)

// Records the size of a real sealed record (enclave.RecordV1Length).
func benchRecord(owner int64) []byte {
	r := make([]byte, 89)
	r[0] = 1
	copy(r[1:], recordOf(owner, 0))
	return r
}

// BenchmarkCreateWallet creates one wallet per iteration, each its own
// durable (fsynced) transaction, one caller at a time.
func BenchmarkCreateWallet(b *testing.B) {
	db, _ := openTestDB(b)
	b.ReportAllocs()
	var owner int64
	for b.Loop() {
		owner++
		if _, created, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: addrOf(owner), Record: benchRecord(owner)}); err != nil || !created {
			b.Fatal(err, created)
		}
	}
}

// BenchmarkCreateWalletParallel creates wallets of distinct users from
// GOMAXPROCS goroutines; the group commit (batch.go) shares fsyncs among
// them.
func BenchmarkCreateWalletParallel(b *testing.B) {
	db, _ := openTestDB(b)
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			owner := next.Add(1)
			if _, created, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: addrOf(owner), Record: benchRecord(owner)}); err != nil || !created {
				b.Error(err, created)
				return
			}
		}
	})
}

// BenchmarkWalletByOwner reads one of 10,000 wallets per iteration.
func BenchmarkWalletByOwner(b *testing.B) {
	db, _ := openTestDB(b)
	const n = 10_000
	tx, err := db.begin(true)
	if err != nil {
		b.Fatal(err)
	}
	for owner := int64(1); owner <= n; owner++ {
		if _, _, err := tx.CreateWallet(storage.Wallet{Owner: owner, Address: addrOf(owner), Record: benchRecord(owner)}); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i++
		if _, err := db.WalletByOwner(i%n + 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateTransfer stores one transfer per iteration (durable),
// with its three index entries.
func BenchmarkCreateTransfer(b *testing.B) {
	db, _ := openTestDB(b)
	mustWallet(b, db, 1)
	b.ReportAllocs()
	var nonce uint64
	for b.Loop() {
		nonce++
		tr := newTransfer("bench-"+strconv.FormatUint(nonce, 10), 1, nonce)
		if _, err := db.CreateTransfer(tr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateWalletUsers: wallets of distinct users created by `users`
// concurrent callers, each waiting for its wallet to be durable before the
// next; the ways to commit them side by side (docs/performance.md):
//
//   - group: DB.CreateWallet, the group commit of batch.go;
//   - solo: one transaction and one fsync per wallet (before issue 11);
//   - boltbatch-D: bbolt's own DB.Batch with MaxBatchDelay D.
//
// It reports wallets/s and each call's latency (p50, p99).
func BenchmarkCreateWalletUsers(b *testing.B) {
	type way struct {
		name  string
		delay time.Duration // bbolt's MaxBatchDelay; 0: not bbolt's Batch
		solo  bool
	}
	ways := []way{{name: "group"}, {name: "solo", solo: true}, {name: "boltbatch-10ms", delay: 10 * time.Millisecond}, {name: "boltbatch-1ms", delay: time.Millisecond}}
	for _, users := range []int{1, 64} {
		for _, w := range ways {
			b.Run(fmt.Sprintf("users=%d/%s", users, w.name), func(b *testing.B) {
				db, _ := openTestDB(b)
				create := func(wallet storage.Wallet) error {
					_, _, err := db.CreateWallet(wallet)
					return err
				}
				switch {
				case w.solo:
					create = func(wallet storage.Wallet) error {
						return db.update(func(tx *boltTx) error { _, _, err := tx.CreateWallet(wallet); return err })
					}
				case w.delay > 0:
					db.bdb.MaxBatchDelay = w.delay
					create = func(wallet storage.Wallet) error {
						return db.bdb.Batch(func(btx *bbolt.Tx) error {
							_, _, err := (&boltTx{tx: btx, now: time.Now().UTC()}).CreateWallet(wallet)
							return err
						})
					}
				}
				runUsers(b, users, func(owner int64) error {
					return create(storage.Wallet{Owner: owner, Address: addrOf(owner), Record: benchRecord(owner)})
				})
			})
		}
	}
}

// runUsers calls op b.N times from users goroutines (owners 1..b.N) and
// reports wallets/s and the latency of the calls.
func runUsers(b *testing.B, users int, op func(owner int64) error) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
				lat[i-1] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "wallets/s")
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[b.N*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkClaimUpdates claims and finishes Telegram updates in ascending
// update id order as a parent does (64 concurrent handlers, group commit)
// and reports the bytes of leaf pages per stored update record and how full
// those pages are: update ids grow, so the bucket is written in key order.
func BenchmarkClaimUpdates(b *testing.B) {
	db, _ := openTestDB(b)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := next.Add(1)
				if id > int64(b.N) {
					return
				}
				if c, err := db.ClaimUpdate(id, "parent-a", time.Minute); err != nil || c != storage.UpdateClaimed {
					b.Error(id, c, err)
					return
				}
				if err := db.FinishUpdate(id, "parent-a"); err != nil {
					b.Error(id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	err := db.bdb.View(func(tx *bbolt.Tx) error {
		s := tx.Bucket(bucketUpdates).Stats()
		b.ReportMetric(float64(s.LeafAlloc)/float64(s.KeyN), "leaf-B/update")
		b.ReportMetric(100*float64(s.LeafInuse)/float64(s.LeafAlloc), "leaf-fill-%")
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
