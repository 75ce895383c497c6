package bolt

import (
	"errors"
	"fmt"

	"github.com/autowallet/autowallet/storage"
	"github.com/ethereum/go-ethereum/common"
)

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// CreateWallet stores w if its owner has no wallet yet. It returns the
// owner's stored wallet and whether this call created it: when the owner
// already has one, that wallet is returned unchanged (created false, no
// error), so concurrent taps on "Create wallet" all see the same wallet and
// a sealed key is never replaced. An address that already belongs to
// another user is refused with ErrWalletExists. Created defaults to now.
//
// Concurrent calls share one transaction and one fsync (group commit,
// batch.go); each returns once its wallet is durable.
func (db *DB) CreateWallet(w storage.Wallet) (storage.Wallet, bool, error) {
	if err := storage.ValidateWallet(&w); err != nil {
		return storage.Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	var out storage.Wallet
	var created bool
	// Batched: the function may run more than once; it sets out and
	// created afresh each time and has no effect outside tx.
	err := db.batch(func(tx *boltTx) error {
		var err error
		out, created, err = tx.CreateWallet(w)
		return err
	})
	if err != nil {
		return storage.Wallet{}, false, err
	}
	return out, created, nil
}

// WalletByOwner returns the wallet of Telegram user owner, or ErrNotFound.
func (db *DB) WalletByOwner(owner int64) (storage.Wallet, error) {
	return read(db, func(tx *boltTx) (storage.Wallet, error) { return tx.WalletByOwner(owner) })
}

// WalletByAddress returns the wallet with that address, or ErrNotFound.
func (db *DB) WalletByAddress(addr common.Address) (storage.Wallet, error) {
	return read(db, func(tx *boltTx) (storage.Wallet, error) { return tx.WalletByAddress(addr) })
}

// ForEachWallet calls fn for every wallet in owner id order, inside one read
// transaction (keep fn short: it holds the snapshot open). An error from fn
// stops the walk and is returned.
func (db *DB) ForEachWallet(fn func(storage.Wallet) error) error {
	return db.view(func(tx *boltTx) error {
		return tx.tx.Bucket(bucketWallets).ForEach(func(k, v []byte) error {
			w, err := storage.DecodeWallet(v)
			if err != nil {
				return fmt.Errorf("storage: wallet %x: %w", k, err)
			}
			return fn(w)
		})
	})
}

// FirstWallet returns the wallet of the lowest owner id (the first key of
// the wallets bucket: owners are positive, keys big-endian), or
// ErrNotFound when there is none.
func (db *DB) FirstWallet() (storage.Wallet, error) {
	return read(db, func(tx *boltTx) (storage.Wallet, error) {
		k, v := tx.tx.Bucket(bucketWallets).Cursor().First()
		if k == nil {
			return storage.Wallet{}, fmt.Errorf("storage: first wallet: %w", storage.ErrNotFound)
		}
		w, err := storage.DecodeWallet(v)
		if err != nil {
			return storage.Wallet{}, fmt.Errorf("storage: wallet %x: %w", k, err)
		}
		return w, nil
	})
}

// CreateWallet: see DB.CreateWallet.
func (tx *boltTx) CreateWallet(w storage.Wallet) (storage.Wallet, bool, error) {
	if err := storage.ValidateWallet(&w); err != nil {
		return storage.Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	existing, err := tx.WalletByOwner(w.Owner)
	if err == nil {
		return existing, false, nil
	} else if !isNotFound(err) {
		return storage.Wallet{}, false, err
	}
	addrs := tx.tx.Bucket(bucketWalletAddresses)
	if ref := addrs.Get(w.Address[:]); ref != nil {
		other, err := decodeOwnerRef(ref)
		if err != nil {
			return storage.Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
		}
		return storage.Wallet{}, false, fmt.Errorf("storage: create wallet for user %d: %w: address %s belongs to user %d", w.Owner, storage.ErrWalletExists, w.Address, other)
	}
	if w.Created.IsZero() {
		w.Created = tx.now
	}
	if err := tx.tx.Bucket(bucketWallets).Put(ownerKey(w.Owner), storage.EncodeWallet(&w)); err != nil {
		return storage.Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	if err := addrs.Put(w.Address[:], encodeOwnerRef(w.Owner)); err != nil {
		return storage.Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	return w, true, nil
}

// WalletByOwner: see DB.WalletByOwner.
func (tx *boltTx) WalletByOwner(owner int64) (storage.Wallet, error) {
	raw := tx.tx.Bucket(bucketWallets).Get(ownerKey(owner))
	if raw == nil {
		return storage.Wallet{}, fmt.Errorf("storage: wallet of user %d: %w", owner, storage.ErrNotFound)
	}
	w, err := storage.DecodeWallet(raw)
	if err != nil {
		return storage.Wallet{}, fmt.Errorf("storage: wallet of user %d: %w", owner, err)
	}
	return w, nil
}

// WalletByAddress: see DB.WalletByAddress.
func (tx *boltTx) WalletByAddress(addr common.Address) (storage.Wallet, error) {
	ref := tx.tx.Bucket(bucketWalletAddresses).Get(addr[:])
	if ref == nil {
		return storage.Wallet{}, fmt.Errorf("storage: wallet %s: %w", addr, storage.ErrNotFound)
	}
	owner, err := decodeOwnerRef(ref)
	if err != nil {
		return storage.Wallet{}, fmt.Errorf("storage: wallet %s: %w", addr, err)
	}
	return tx.WalletByOwner(owner)
}
