package parent_test

import (
	"context"
	"testing"

	"github.com/autowallet/autowallet/storage"
)

// A new wallet is announced once to OnWalletCreated listeners (the
// incoming-funds watcher's set); an existing one is not announced again.
func TestOnWalletCreated(t *testing.T) {
	s := newStack(t)
	var got []storage.Wallet
	s.svc.OnWalletCreated(func(w storage.Wallet) { got = append(got, w) })
	w := s.fundedWallet(t, 42, nil)
	if _, created, err := s.svc.EnsureWallet(context.Background(), 42); err != nil || created {
		t.Fatalf("second EnsureWallet: created %v, %v", created, err)
	}
	if len(got) != 1 || got[0].Address != w.Address || got[0].Owner != 42 {
		t.Fatalf("announced %+v, want the one new wallet %s", got, w.Address)
	}
}
