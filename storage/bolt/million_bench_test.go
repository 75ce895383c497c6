package bolt

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/ethereum/go-ethereum/common"
	"go.etcd.io/bbolt"
)

// millionOwner spreads owners over [1, 2^33] as Telegram's user ids are
// spread (an odd multiplier mod 2^33 is a bijection: no duplicates).
func millionOwner(i int) int64 { return 1 + int64((uint64(i)*2654435761)&(1<<33-1)) }

// millionAddress is a uniformly random-looking address, as real ones are.
func millionAddress(owner int64) common.Address {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(owner))
	h := sha256.Sum256(b[:])
	return common.BytesToAddress(h[:20])
}

// fillWallets stores owners millionOwner(0..n-1) as a parent does: each
// through DB.CreateWallet, from `users` concurrent callers, so the group
// commit (batch.go) makes the transactions, up to MaxBatchSize wallets each,
// and every wallet is durable when its call returns.
func fillWallets(tb testing.TB, db *DB, n, users int) {
	tb.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				owner := millionOwner(i)
				if _, created, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: millionAddress(owner), Record: benchRecord(owner)}); err != nil || !created {
					tb.Error(err, created)
					return
				}
			}
		}()
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
}

// fileLayout is where a file's bytes are: the leaf pages of the wallet
// buckets (and how full they are), their branch pages, free pages.
type fileLayout struct {
	leafAlloc, leafInuse, branchAlloc, free int
}

func layoutOf(tb testing.TB, db *DB) fileLayout {
	var l fileLayout
	err := db.bdb.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketWallets, bucketWalletAddresses} {
			s := tx.Bucket(name).Stats()
			l.leafAlloc += s.LeafAlloc
			l.leafInuse += s.LeafInuse
			l.branchAlloc += s.BranchAlloc
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	l.free = db.bdb.Stats().FreePageN * db.bdb.Info().PageSize
	return l
}

// BenchmarkMillionWallets fills a bbolt file with 1,000,000 wallets as a
// parent under load does (256 concurrent creators, group commits of up to
// MaxBatchSize), then measures what a parent with that many users
// lives with: the file's size per wallet, the time to open it, lookups by
// owner (p50/p99, page cache warm) and the process's memory with it open.
// It runs once, only with AUTOWALLET_BENCH_1M=1 (make bench sets it): the
// fill takes a minute or more.
func BenchmarkMillionWallets(b *testing.B) {
	if os.Getenv("AUTOWALLET_BENCH_1M") == "" {
		b.Skip("set AUTOWALLET_BENCH_1M=1 to fill a store with 1,000,000 wallets (make bench does)")
	}
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), FileName)
	db, err := OpenFile(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	fillWallets(b, db, n, 256)
	fill := time.Since(t0)
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}

	t0 = time.Now()
	db, err = OpenFile(path, Options{})
	open := time.Since(t0)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	const lookups = 200_000
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, lookups)
	for i := range lat {
		owner := millionOwner(rng.IntN(n))
		t := time.Now()
		w, err := db.WalletByOwner(owner)
		lat[i] = time.Since(t)
		if err != nil || w.Owner != owner {
			b.Fatal(owner, err)
		}
	}
	slices.Sort(lat)
	if _, err := db.WalletByOwner(1<<40 + 1); !isNotFound(err) {
		b.Fatal("an unknown owner was found:", err)
	}

	layout := layoutOf(b, db)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(fill.Seconds(), "fill-s")
	b.ReportMetric(float64(fi.Size())/n, "B/wallet")
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	b.ReportMetric(n/fill.Seconds(), "fill-wallets/s")
	b.ReportMetric(float64(layout.leafAlloc)/n, "leaf-B/wallet")
	b.ReportMetric(100*float64(layout.leafInuse)/float64(layout.leafAlloc), "leaf-fill-%")
	b.ReportMetric(float64(layout.branchAlloc)/n, "branch-B/wallet")
	b.ReportMetric(float64(layout.free)/n, "free-B/wallet")
	b.ReportMetric(float64(open.Microseconds())/1000, "open-ms")
	b.ReportMetric(float64(lat[lookups/2].Nanoseconds())/1000, "lookup-p50-us")
	b.ReportMetric(float64(lat[lookups*99/100].Nanoseconds())/1000, "lookup-p99-us")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	if rss := vmRSS(); rss > 0 {
		b.ReportMetric(rss/(1<<20), "rss-MiB")
	}
}

// vmRSS is the process's resident set in bytes (Linux), mapped file pages
// included; 0 when unknown.
func vmRSS() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}
