package storage

import (
	"strconv"
	"sync/atomic"
	"testing"
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
		if _, created, err := db.CreateWallet(Wallet{Owner: owner, Address: addrOf(owner), Record: benchRecord(owner)}); err != nil || !created {
			b.Fatal(err, created)
		}
	}
}

// BenchmarkCreateWalletParallel creates wallets of distinct users from
// GOMAXPROCS goroutines; bbolt serialises the writers.
func BenchmarkCreateWalletParallel(b *testing.B) {
	db, _ := openTestDB(b)
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			owner := next.Add(1)
			if _, created, err := db.CreateWallet(Wallet{Owner: owner, Address: addrOf(owner), Record: benchRecord(owner)}); err != nil || !created {
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
		if _, _, err := tx.CreateWallet(Wallet{Owner: owner, Address: addrOf(owner), Record: benchRecord(owner)}); err != nil {
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
