// Package teststack starts the wallet service over real parts for tests:
// the embedded chain (go-ethereum's simulated backend over JSON-RPC), the
// enclave server on loopback, and a bbolt file in a temp folder.
package teststack

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// Stack is a running wallet service and the parts under it.
type Stack struct {
	Chain   *devchain.Chain
	Enclave *testenv.Enclave
	Store   *bolt.DB
	Service *parent.Service
}

// Options tune the stack; zero values take defaults.
type Options struct {
	BlockPeriod    time.Duration // default 200ms
	EnclaveTimeout time.Duration // default 10s
	Log            *slog.Logger  // default: discard
	// WrapStore, when set, wraps the store the service uses (a test's
	// fault injection over the real bbolt store); Stack.Store stays the
	// real one.
	WrapStore func(*bolt.DB) storage.Store
}

// Start runs the stack until tb ends. The service's tracker is not started:
// the caller runs it (Service.Track) for as long as it needs.
func Start(tb testing.TB, o Options) *Stack {
	tb.Helper()
	if o.BlockPeriod == 0 {
		o.BlockPeriod = 200 * time.Millisecond
	}
	if o.EnclaveTimeout == 0 {
		o.EnclaveTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	chain, err := devchain.Start(o.BlockPeriod, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { chain.Close() })
	enc := testenv.StartEnclave(tb, devchain.ChainID)
	store, err := bolt.Open(tb.TempDir(), bolt.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	pc, err := parent.DialChain(context.Background(), chain.URL, devchain.ChainID, parent.ChainOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pc.Close)
	var svcStore storage.Store = store
	if o.WrapStore != nil {
		svcStore = o.WrapStore(store)
	}
	svc, err := parent.NewService(svcStore, parent.NewEnclaveClientTCP(enc.Addr, o.EnclaveTimeout), parent.OneNetwork(pc), parent.ServiceConfig{
		Confirmations: 1, PollInterval: 200 * time.Millisecond,
	}, o.Log)
	if err != nil {
		tb.Fatal(err)
	}
	return &Stack{Chain: chain, Enclave: enc, Store: store, Service: svc}
}
