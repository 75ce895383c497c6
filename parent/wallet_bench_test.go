package parent_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// Wallet creation through the real path: a fresh key drawn and sealed by the
// enclave, then stored durably (one fsynced bbolt transaction per wallet).
// Each reports wallets/s; make bench prints them with the ratios.

func benchStore(b *testing.B) *storage.DB {
	b.Helper()
	store, err := storage.Open(b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	return store
}

func reportWallets(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "wallets/s")
}

// BenchmarkCreateWalletInProcess: the enclave's signer called in process,
// then storage.CreateWallet; one user at a time.
func BenchmarkCreateWalletInProcess(b *testing.B) {
	enc := testenv.StartEnclave(b, 1337)
	store := benchStore(b)
	b.ReportAllocs()
	var owner int64
	for b.Loop() {
		owner++
		w, err := enc.Signer.CreateWallet(owner)
		if err != nil {
			b.Fatal(err)
		}
		if _, created, err := store.CreateWallet(storage.Wallet{Owner: owner, Address: w.Address, Record: w.Record}); err != nil || !created {
			b.Fatal(err, created)
		}
	}
	reportWallets(b)
}

// newWalletService is the parent's service with the enclave on loopback
// HTTP (as `autowallet dev` runs it; vsock in production). Wallet creation
// needs no chain.
func newWalletService(b *testing.B) *parent.Service {
	enc := testenv.StartEnclave(b, 1337)
	svc, err := parent.NewService(benchStore(b), parent.NewEnclaveClientTCP(enc.Addr, 30*time.Second), nil,
		parent.ServiceConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkCreateWalletHTTP: Service.EnsureWallet, the path the bot's
// Create wallet button takes (enclave over loopback HTTP, bbolt), one user
// at a time.
func BenchmarkCreateWalletHTTP(b *testing.B) {
	svc := newWalletService(b)
	ctx := context.Background()
	b.ReportAllocs()
	var owner int64
	for b.Loop() {
		owner++
		if _, created, err := svc.EnsureWallet(ctx, owner); err != nil || !created {
			b.Fatal(err, created)
		}
	}
	reportWallets(b)
}

// BenchmarkCreateWalletHTTPParallel: EnsureWallet from 8 x GOMAXPROCS
// concurrent users (distinct); bbolt serialises the fsynced commits, the
// enclave's key generation overlaps them.
func BenchmarkCreateWalletHTTPParallel(b *testing.B) {
	svc := newWalletService(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, created, err := svc.EnsureWallet(ctx, next.Add(1)); err != nil || !created {
				b.Error(err, created)
				return
			}
		}
	})
	reportWallets(b)
}
