package parent

import (
	"slices"

	"github.com/autowallet/autowallet/storage"
)

// OnWalletCreated registers f to be called after a new wallet is stored
// (the incoming-funds watcher adds its address to the watched set:
// parent/watch, Alerts.Watch).
func (s *Service) OnWalletCreated(f func(storage.Wallet)) {
	s.mu.Lock()
	s.walletListeners = append(s.walletListeners, f)
	s.mu.Unlock()
}

func (s *Service) walletCreated(w storage.Wallet) {
	s.mu.Lock()
	ls := slices.Clone(s.walletListeners)
	s.mu.Unlock()
	for _, f := range ls {
		f(w)
	}
}
