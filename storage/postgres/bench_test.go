package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/postgres"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// The benchmarks run on a durable server (fsync on, synchronous_commit on,
// PostgreSQL's defaults): a wallet counts when its commit is on disk, as in
// bbolt's storage.BenchmarkCreateWallet*. Their names match bbolt's, so
// internal/benchtable puts the two engines side by side.

func durableDB(b *testing.B, maxConns int32) *postgres.DB {
	b.Helper()
	srv := pgtest.StartWith(b, pgtest.Options{Durable: true})
	db, err := postgres.Open(context.Background(), srv.DSN(), postgres.Options{MaxConns: maxConns})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	var sc string
	if err := db.Pool().QueryRow(context.Background(), `SHOW synchronous_commit`).Scan(&sc); err != nil || sc != "on" {
		b.Fatalf("synchronous_commit = %q, %v", sc, err)
	}
	return db
}

// BenchmarkCreateWallet creates one wallet per iteration, one caller at a
// time: each a transaction committed to disk.
func BenchmarkCreateWallet(b *testing.B) {
	db := durableDB(b, 4)
	b.ReportAllocs()
	var owner int64
	for b.Loop() {
		owner++
		if _, created, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: storagetest.Addr(owner), Record: storagetest.Record(owner)}); err != nil || !created {
			b.Fatal(err, created)
		}
	}
}

// BenchmarkCreateWalletParallel creates wallets of distinct users from 16
// goroutines per CPU (concurrent users) over a pool of 32 connections:
// PostgreSQL's group commit puts many users' commits in one WAL flush.
func BenchmarkCreateWalletParallel(b *testing.B) {
	db := durableDB(b, 32)
	b.ReportAllocs()
	b.SetParallelism(16)
	var next atomic.Int64
	b.ResetTimer()
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			owner := next.Add(1)
			if _, created, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: storagetest.Addr(owner), Record: storagetest.Record(owner)}); err != nil || !created {
				b.Error(err, created)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load())/time.Since(t0).Seconds(), "wallets/s")
}

// millionOwner and millionAddress are storage/bolt's (million_bench_test.go):
// owners spread as Telegram's ids, random-looking addresses.
func millionOwner(i int) int64 { return 1 + int64((uint64(i)*2654435761)&(1<<33-1)) }

func millionAddress(owner int64) common.Address {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(owner))
	h := sha256.Sum256(b[:])
	return common.BytesToAddress(h[:20])
}

// BenchmarkMillionWallets fills the wallets table with 1,000,000 wallets
// (89-byte records, the size of a real one) in scrambled owner order, then
// reports the bytes on disk per wallet (pg_total_relation_size: heap, its
// indexes on owner and address, TOAST, free space maps), the open time
// and lookups by owner. The fill uses COPY (a test-only path: the rows are
// what CreateWallet writes). Only with AUTOWALLET_BENCH_1M=1, as bbolt's.
func BenchmarkMillionWallets(b *testing.B) {
	if os.Getenv("AUTOWALLET_BENCH_1M") == "" {
		b.Skip("set AUTOWALLET_BENCH_1M=1 to fill a store with 1,000,000 wallets (make bench does)")
	}
	const n = 1_000_000
	srv := pgtest.StartWith(b, pgtest.Options{Durable: true})
	ctx := context.Background()
	db, err := postgres.Open(ctx, srv.DSN(), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	const batch = 50_000
	for start := 0; start < n; start += batch {
		rows := make([][]any, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			owner := millionOwner(i)
			a := millionAddress(owner)
			rows = append(rows, []any{owner, a[:], benchRecord(owner), time.Now().UnixNano()})
		}
		if _, err := db.Pool().CopyFrom(ctx, pgx.Identifier{"wallets"}, []string{"owner", "address", "record", "created"}, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
	}
	fill := time.Since(t0)
	// What autovacuum would do: visibility map and statistics.
	if _, err := db.Pool().Exec(ctx, `VACUUM ANALYZE wallets`); err != nil {
		b.Fatal(err)
	}
	var total, heap, count int64
	if err := db.Pool().QueryRow(ctx, `SELECT pg_total_relation_size('wallets'), pg_relation_size('wallets'), (SELECT count(*) FROM wallets)`).Scan(&total, &heap, &count); err != nil || count != n {
		b.Fatal(count, err)
	}
	db.Close()

	t0 = time.Now()
	db, err = postgres.Open(ctx, srv.DSN(), postgres.Options{})
	open := time.Since(t0)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const lookups = 20_000
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
	b.ReportMetric(fill.Seconds(), "fill-s")
	b.ReportMetric(float64(total)/n, "B/wallet")
	b.ReportMetric(float64(heap)/n, "heap-B/wallet")
	b.ReportMetric(float64(total)/(1<<20), "file-MiB")
	b.ReportMetric(float64(open.Microseconds())/1000, "open-ms")
	b.ReportMetric(float64(lat[lookups/2].Nanoseconds())/1000, "lookup-p50-us")
	b.ReportMetric(float64(lat[lookups*99/100].Nanoseconds())/1000, "lookup-p99-us")
}

// benchRecord is an 89-byte record, as storage's benchmarks use.
func benchRecord(owner int64) []byte {
	r := make([]byte, 89)
	r[0] = 1
	binary.BigEndian.PutUint64(r[1:], uint64(owner))
	return r
}
