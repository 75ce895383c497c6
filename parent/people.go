package parent

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// ErrUnknownUser: no user of this bot has that @username, or the user has
// no wallet yet.
var ErrUnknownUser = errors.New("unknown user")

// Names shown beside addresses come from this host's storage (what Telegram
// told the bot), not from the enclave: the chat may show "Bob (@bob)", the
// Mini App page keeps showing only the address the enclave signs for.

// WalletOfUsername returns the user who last showed @name to the bot and
// their wallet. ErrUnknownUser says which of the two is missing.
func (s *Service) WalletOfUsername(name string) (storage.User, storage.Wallet, error) {
	u, err := s.store.UserByUsername(name)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, storage.Wallet{}, fmt.Errorf("%w: nobody with the username @%s uses this bot", ErrUnknownUser, name)
	}
	if err != nil {
		return storage.User{}, storage.Wallet{}, err
	}
	w, err := s.walletByOwner(u.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return u, storage.Wallet{}, fmt.Errorf("%w: @%s has no wallet yet; ask them to open this bot and create one", ErrUnknownUser, u.Username)
	}
	return u, w, err
}

// OwnerOf returns the user whose wallet has that address, if it is one of
// ours and the user is known.
func (s *Service) OwnerOf(addr common.Address) (storage.User, bool) {
	w, err := s.walletByAddress(addr)
	if err != nil {
		return storage.User{}, false
	}
	u, err := s.store.User(w.Owner)
	return u, err == nil
}

// User returns a Telegram user's stored profile, or storage.ErrNotFound.
func (s *Service) User(id int64) (storage.User, error) { return s.store.User(id) }

// Deposits is the money that arrived at the user's wallet (found by the
// incoming-funds watcher, parent/watch), newest first.
func (s *Service) Deposits(owner int64, limit, offset int) ([]storage.Deposit, error) {
	return s.store.Deposits(owner, limit, offset)
}
