package parent

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// Every wallet the service reads passes through walletByOwner or
// walletByAddress: the row's owner and address are compared with its
// sealed record's plaintext header (storage.CheckWalletRecord). The record
// is what the enclave signs with and bound to (owner, address); the
// columns are what a database writer can change. A row that disagrees is
// refused with storage.ErrWalletTampered (an ErrCorrupt): the bot then
// shows no address and no QR code, rather than a deposit address the
// database chose (review 12, finding 2; docs/threat-model.md, "Issue 11:
// the database as an attacker (rows the bot shows)").

func (s *Service) walletByOwner(owner int64) (storage.Wallet, error) {
	w, err := s.store.WalletByOwner(owner)
	if err != nil {
		return storage.Wallet{}, err
	}
	if err := s.checkWallet(w); err != nil {
		return storage.Wallet{}, err
	}
	if w.Owner != owner {
		return storage.Wallet{}, s.tampered(fmt.Errorf("storage: wallet of user %d: %w: the store answered user %d's row", owner, storage.ErrWalletTampered, w.Owner))
	}
	return w, nil
}

func (s *Service) walletByAddress(addr common.Address) (storage.Wallet, error) {
	w, err := s.store.WalletByAddress(addr)
	if err != nil {
		return storage.Wallet{}, err
	}
	if err := s.checkWallet(w); err != nil {
		return storage.Wallet{}, err
	}
	// bbolt finds a wallet by address through an index of its own: the
	// wallet it leads to must have that address.
	if w.Address != addr {
		return storage.Wallet{}, s.tampered(fmt.Errorf("storage: wallet %s: %w: the store answered the wallet of address %s", addr.Hex(), storage.ErrWalletTampered, w.Address.Hex()))
	}
	return w, nil
}

func (s *Service) checkWallet(w storage.Wallet) error {
	if err := storage.CheckWalletRecord(w); err != nil {
		return s.tampered(err)
	}
	return nil
}

// tampered logs and counts a refused wallet row. The log line names the
// user and the addresses (public facts), never the record.
func (s *Service) tampered(err error) error {
	s.log.Error("wallet row refused: it disagrees with its sealed record; the database was written past the program. The wallet is not shown until the row is restored from a backup", "err", err)
	s.cfg.Metrics.WalletRowTampered()
	return err
}
