package storage

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
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
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

// fillWallets stores owners millionOwner(from..to-1) in transactions of
// batch wallets each: test-only, through the public Tx API (a batch path:
// one fsync per transaction, not per wallet).
func fillWallets(tb testing.TB, db *DB, from, to, batch int) {
	tb.Helper()
	for start := from; start < to; start += batch {
		tx, err := db.begin(true)
		if err != nil {
			tb.Fatal(err)
		}
		for i := start; i < min(start+batch, to); i++ {
			owner := millionOwner(i)
			if _, created, err := tx.CreateWallet(Wallet{Owner: owner, Address: millionAddress(owner), Record: benchRecord(owner)}); err != nil || !created {
				tx.Rollback()
				tb.Fatal(err, created)
			}
		}
		if err := tx.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkMillionWallets fills a bbolt file with 1,000,000 wallets (in
// transactions of 50,000), then measures what a parent with that many users
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
	fillWallets(b, db, 0, n, 50_000)
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

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(fill.Seconds(), "fill-s")
	b.ReportMetric(float64(fi.Size())/n, "B/wallet")
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
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
