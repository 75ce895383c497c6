package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Wallet is a user's wallet: its address and the sealed key record made by
// the enclave. The record is opaque to the host and is never replaced.
type Wallet struct {
	Owner   int64 // Telegram user id
	Address common.Address
	Record  []byte // sealed key record (enclave.RecordV1 layout)
	Created time.Time
}

const maxRecordLen = 4096

func (w *Wallet) validate() error {
	switch {
	case w.Owner <= 0:
		return fmt.Errorf("%w: wallet owner %d", ErrInvalid, w.Owner)
	case w.Address == (common.Address{}):
		return fmt.Errorf("%w: wallet address is zero", ErrInvalid)
	case len(w.Record) == 0:
		return fmt.Errorf("%w: wallet record is empty", ErrInvalid)
	case len(w.Record) > maxRecordLen:
		return fmt.Errorf("%w: wallet record is %d bytes, at most %d", ErrInvalid, len(w.Record), maxRecordLen)
	}
	return checkTime("created", w.Created)
}

// encodeWallet: version 1, owner uvarint, address (20), record (uvarint
// length + bytes), created (varint ns).
func encodeWallet(w *Wallet) []byte {
	e := encoder{b: make([]byte, 0, 40+len(w.Record))}
	e.byte(walletV1)
	e.uvarint(uint64(w.Owner))
	e.address(w.Address)
	e.bytes(w.Record)
	e.time(w.Created)
	return e.b
}

func decodeWallet(b []byte) (Wallet, error) {
	d := decoder{b: b, what: "wallet"}
	var w Wallet
	d.version(walletV1)
	w.Owner = d.owner("owner")
	w.Address = d.address("address")
	w.Record = d.bytes("record")
	w.Created = d.time("created")
	if err := d.finish(); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// CreateWallet stores w if its owner has no wallet yet. It returns the
// owner's stored wallet and whether this call created it: when the owner
// already has one, that wallet is returned unchanged (created false, no
// error), so concurrent taps on "Create wallet" all see the same wallet and
// a sealed key is never replaced. An address that already belongs to
// another user is refused with ErrWalletExists. Created defaults to now.
//
// Concurrent calls share one transaction and one fsync (group commit,
// batch.go); each returns once its wallet is durable.
func (db *DB) CreateWallet(w Wallet) (Wallet, bool, error) {
	if err := w.validate(); err != nil {
		return Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	var out Wallet
	var created bool
	// Batched: the function may run more than once; it sets out and
	// created afresh each time and has no effect outside tx.
	err := db.batch(func(tx *boltTx) error {
		var err error
		out, created, err = tx.CreateWallet(w)
		return err
	})
	if err != nil {
		return Wallet{}, false, err
	}
	return out, created, nil
}

// WalletByOwner returns the wallet of Telegram user owner, or ErrNotFound.
func (db *DB) WalletByOwner(owner int64) (Wallet, error) {
	return read(db, func(tx *boltTx) (Wallet, error) { return tx.WalletByOwner(owner) })
}

// WalletByAddress returns the wallet with that address, or ErrNotFound.
func (db *DB) WalletByAddress(addr common.Address) (Wallet, error) {
	return read(db, func(tx *boltTx) (Wallet, error) { return tx.WalletByAddress(addr) })
}

// ForEachWallet calls fn for every wallet in owner id order, inside one read
// transaction (keep fn short: it holds the snapshot open). An error from fn
// stops the walk and is returned.
func (db *DB) ForEachWallet(fn func(Wallet) error) error {
	return db.view(func(tx *boltTx) error {
		return tx.tx.Bucket(bucketWallets).ForEach(func(k, v []byte) error {
			w, err := decodeWallet(v)
			if err != nil {
				return fmt.Errorf("storage: wallet %x: %w", k, err)
			}
			return fn(w)
		})
	})
}

// CreateWallet: see DB.CreateWallet.
func (tx *boltTx) CreateWallet(w Wallet) (Wallet, bool, error) {
	if err := w.validate(); err != nil {
		return Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	existing, err := tx.WalletByOwner(w.Owner)
	if err == nil {
		return existing, false, nil
	} else if !isNotFound(err) {
		return Wallet{}, false, err
	}
	addrs := tx.tx.Bucket(bucketWalletAddresses)
	if ref := addrs.Get(w.Address[:]); ref != nil {
		other, err := decodeOwnerRef(ref)
		if err != nil {
			return Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
		}
		return Wallet{}, false, fmt.Errorf("storage: create wallet for user %d: %w: address %s belongs to user %d", w.Owner, ErrWalletExists, w.Address, other)
	}
	if w.Created.IsZero() {
		w.Created = tx.now
	}
	if err := tx.tx.Bucket(bucketWallets).Put(ownerKey(w.Owner), encodeWallet(&w)); err != nil {
		return Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	if err := addrs.Put(w.Address[:], encodeOwnerRef(w.Owner)); err != nil {
		return Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	return w, true, nil
}

// WalletByOwner: see DB.WalletByOwner.
func (tx *boltTx) WalletByOwner(owner int64) (Wallet, error) {
	raw := tx.tx.Bucket(bucketWallets).Get(ownerKey(owner))
	if raw == nil {
		return Wallet{}, fmt.Errorf("storage: wallet of user %d: %w", owner, ErrNotFound)
	}
	w, err := decodeWallet(raw)
	if err != nil {
		return Wallet{}, fmt.Errorf("storage: wallet of user %d: %w", owner, err)
	}
	return w, nil
}

// WalletByAddress: see DB.WalletByAddress.
func (tx *boltTx) WalletByAddress(addr common.Address) (Wallet, error) {
	ref := tx.tx.Bucket(bucketWalletAddresses).Get(addr[:])
	if ref == nil {
		return Wallet{}, fmt.Errorf("storage: wallet %s: %w", addr, ErrNotFound)
	}
	owner, err := decodeOwnerRef(ref)
	if err != nil {
		return Wallet{}, fmt.Errorf("storage: wallet %s: %w", addr, err)
	}
	return tx.WalletByOwner(owner)
}
