package bolt

// Incoming funds (issue 10): the deposits the watcher found in confirmed
// blocks, the outbox of alerts not yet delivered and the watcher's cursor per
// chain. StoreWatchedBlocks writes a range of blocks' deposits, their alerts
// and the cursor in ONE transaction: after a crash either all of it is stored
// (the alerts wait in the outbox) or none of it (the blocks are scanned
// again). That is the exactly-once argument of docs/watcher.md.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/ethereum/go-ethereum/common"
)

// Buckets of this file (docs/storage.md).
var (
	bucketDeposits        = []byte("deposits")          // chain id (8) + tx hash (32) + log index (4) -> Deposit
	bucketDepositsByOwner = []byte("deposits_by_owner") // owner (8) + block time (8) + deposit key -> nil
	bucketDepositOutbox   = []byte("deposit_outbox")    // sequence (8) -> deposit key
	bucketWatchCursors    = []byte("watch_cursors")     // chain id (8) -> WatchCursor
)

// WatchCursor returns the cursor of the chain's watcher, or ErrNotFound on
// a fresh deployment.
func (db *DB) WatchCursor(chainID uint64) (storage.WatchCursor, error) {
	return read(db, func(tx *boltTx) (storage.WatchCursor, error) {
		raw := tx.tx.Bucket(bucketWatchCursors).Get(chainKey(chainID))
		if raw == nil {
			return storage.WatchCursor{}, fmt.Errorf("storage: watch cursor of chain %d: %w", chainID, storage.ErrNotFound)
		}
		c, err := storage.DecodeCursor(chainID, raw)
		if err != nil {
			return storage.WatchCursor{}, fmt.Errorf("storage: watch cursor of chain %d: %w", chainID, err)
		}
		return c, nil
	})
}

// StoreWatchedBlocks stores, in one transaction, the deposits found in a
// range of blocks, an outbox entry (alert to deliver) for each deposit not
// stored before, and the chain's new cursor. A deposit already stored (same
// chain, tx hash and log index: the range was scanned again after a reorg)
// is left as it is and gets no second alert. It returns how many deposits
// were new. Every deposit must be of cur's chain.
func (db *DB) StoreWatchedBlocks(cur storage.WatchCursor, deposits []storage.Deposit) (int, error) {
	if err := storage.CheckWatchedBlocks(cur, deposits); err != nil { // engine.go: shared with storage/postgres
		return 0, err
	}
	return write(db, func(tx *boltTx) (int, error) {
		all := tx.tx.Bucket(bucketDeposits)
		byOwner := tx.tx.Bucket(bucketDepositsByOwner)
		outbox := tx.tx.Bucket(bucketDepositOutbox)
		added := 0
		for i := range deposits {
			d := &deposits[i]
			key := d.Key()
			if all.Get(key) != nil {
				continue // stored before: announced once already
			}
			if err := all.Put(key, storage.EncodeDeposit(d)); err != nil {
				return 0, fmt.Errorf("storage: store deposit: %w", err)
			}
			if err := byOwner.Put(depositOwnerKey(d.Owner, d.Time, key), nil); err != nil {
				return 0, fmt.Errorf("storage: store deposit: %w", err)
			}
			seq, err := outbox.NextSequence()
			if err != nil {
				return 0, fmt.Errorf("storage: store deposit: %w", err)
			}
			if err := outbox.Put(binary.BigEndian.AppendUint64(nil, seq), key); err != nil {
				return 0, fmt.Errorf("storage: store deposit: %w", err)
			}
			added++
		}
		if err := tx.tx.Bucket(bucketWatchCursors).Put(chainKey(cur.ChainID), storage.EncodeCursor(&cur)); err != nil {
			return 0, fmt.Errorf("storage: store watch cursor: %w", err)
		}
		return added, nil
	})
}

func depositOwnerKey(owner int64, t time.Time, key []byte) []byte {
	k := make([]byte, 0, 16+len(key))
	k = binary.BigEndian.AppendUint64(k, uint64(owner))
	k = binary.BigEndian.AppendUint64(k, uint64(t.UnixNano()))
	return append(k, key...)
}

// Deposits returns up to limit deposits of the user, newest first (by
// block time), skipping the offset newest.
func (db *DB) Deposits(owner int64, limit, offset int) ([]storage.Deposit, error) {
	if limit <= 0 || offset < 0 {
		return nil, fmt.Errorf("storage: deposits of user %d: %w: limit %d, offset %d", owner, storage.ErrInvalid, limit, offset)
	}
	return read(db, func(tx *boltTx) ([]storage.Deposit, error) {
		prefix := ownerKey(owner)
		c := tx.tx.Bucket(bucketDepositsByOwner).Cursor()
		k, _ := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(owner)+1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		var out []storage.Deposit
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if offset > 0 {
				offset--
				continue
			}
			if len(k) != 16+44 {
				return nil, fmt.Errorf("storage: deposits of user %d: %w: index key %x", owner, storage.ErrCorrupt, k)
			}
			d, err := tx.deposit(k[16:])
			if err != nil {
				return nil, err
			}
			out = append(out, d)
			if len(out) == limit {
				break
			}
		}
		return out, nil
	})
}

func (tx *boltTx) deposit(key []byte) (storage.Deposit, error) {
	raw := tx.tx.Bucket(bucketDeposits).Get(key)
	if raw == nil {
		return storage.Deposit{}, fmt.Errorf("storage: deposit %x: %w", key, storage.ErrNotFound)
	}
	d, err := storage.DecodeDeposit(raw)
	if err != nil {
		return storage.Deposit{}, fmt.Errorf("storage: deposit %x: %w", key, err)
	}
	if !bytes.Equal(d.Key(), key) {
		return storage.Deposit{}, fmt.Errorf("storage: deposit %x: %w: stored under another key", key, storage.ErrCorrupt)
	}
	return d, nil
}

// PendingAlerts returns up to limit undelivered alerts, oldest first.
func (db *DB) PendingAlerts(limit int) ([]storage.Alert, error) {
	return db.PendingAlertsAfter(0, limit)
}

// PendingAlertsAfter returns up to limit undelivered alerts with a sequence
// above after, oldest first (a deliverer pages through the outbox with it).
func (db *DB) PendingAlertsAfter(after uint64, limit int) ([]storage.Alert, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("storage: pending alerts: %w: limit %d", storage.ErrInvalid, limit)
	}
	return read(db, func(tx *boltTx) ([]storage.Alert, error) {
		var out []storage.Alert
		c := tx.tx.Bucket(bucketDepositOutbox).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 {
				return nil, fmt.Errorf("storage: pending alerts: %w: key %x", storage.ErrCorrupt, k)
			}
			d, err := tx.deposit(v)
			if err != nil {
				return nil, err
			}
			out = append(out, storage.Alert{Seq: binary.BigEndian.Uint64(k), Deposit: d})
		}
		return out, nil
	})
}

// AlertDelivered removes the alert from the outbox (the message was
// delivered, or given up on). Removing one that is gone is not an error.
func (db *DB) AlertDelivered(seq uint64) error {
	return db.update(func(tx *boltTx) error {
		if err := tx.tx.Bucket(bucketDepositOutbox).Delete(binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return fmt.Errorf("storage: alert %d delivered: %w", seq, err)
		}
		return nil
	})
}

// ForEachWalletAddress calls fn for every wallet address and its owner in
// one read transaction (the watcher's set of watched addresses is loaded
// with it at start). An error from fn stops the walk and is returned.
func (db *DB) ForEachWalletAddress(fn func(addr common.Address, owner int64) error) error {
	return db.view(func(tx *boltTx) error {
		return tx.tx.Bucket(bucketWalletAddresses).ForEach(func(k, v []byte) error {
			if len(k) != common.AddressLength {
				return fmt.Errorf("storage: wallet address key %x: %w", k, storage.ErrCorrupt)
			}
			owner, err := decodeOwnerRef(v)
			if err != nil {
				return fmt.Errorf("storage: wallet address %x: %w", k, err)
			}
			return fn(common.Address(k), owner)
		})
	})
}
