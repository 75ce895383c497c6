package watch

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// Addresses is the in-memory set of our wallet addresses and their owners,
// shared by the watchers of every network. A lookup is one map read under a
// read lock, so filtering a block's logs costs the same with 10 wallets as
// with a million (docs/performance.md has the memory per address).
type Addresses struct {
	mu sync.RWMutex
	m  map[common.Address]int64
}

// NewAddresses returns an empty set sized for n addresses.
func NewAddresses(n int) *Addresses {
	return &Addresses{m: make(map[common.Address]int64, n)}
}

// LoadAddresses returns the set of every wallet in the store.
func LoadAddresses(store storage.Store) (*Addresses, error) {
	a := NewAddresses(0)
	err := store.ForEachWalletAddress(func(addr common.Address, owner int64) error {
		a.m[addr] = owner
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Watch adds a wallet: the parent calls it when a wallet is created. A
// deposit to it in a block processed afterwards is found.
func (a *Addresses) Watch(addr common.Address, owner int64) {
	a.mu.Lock()
	a.m[addr] = owner
	a.mu.Unlock()
}

// Owner returns the owner of addr, if it is one of our wallets.
func (a *Addresses) Owner(addr common.Address) (int64, bool) {
	a.mu.RLock()
	o, ok := a.m[addr]
	a.mu.RUnlock()
	return o, ok
}

// Len is the number of watched addresses.
func (a *Addresses) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.m)
}
