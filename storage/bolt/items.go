package bolt

import (
	"bytes"
	"fmt"

	"github.com/autowallet/autowallet/storage"
	"go.etcd.io/bbolt"
)

// The bbolt engine copies its records (items.go).
var _ storage.Copier = (*DB)(nil)

// Items: see Copier. bbolt's keys are the canonical keys, so every bucket
// walks in the required order.
func (db *DB) Items(kind storage.ItemKind, fn func(storage.Item) error) error {
	return db.view(func(tx *boltTx) error {
		each := func(bucket []byte, value func(k, v []byte) ([]byte, error)) error {
			b := tx.tx.Bucket(bucket)
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				val, err := value(k, v)
				if err != nil {
					return fmt.Errorf("storage: %s %x: %w", kind, k, err)
				}
				if val == nil {
					return nil
				}
				return fn(storage.Item{Kind: kind, Key: k, Value: val})
			})
		}
		same := func(_, v []byte) ([]byte, error) { return v, nil }
		switch kind {
		case storage.ItemMeta:
			return each(bucketMeta, func(k, v []byte) ([]byte, error) {
				if bytes.Equal(k, metaSchemaKey) {
					return nil, nil // each engine keeps its own schema version
				}
				return decodeMetaValue(v)
			})
		case storage.ItemUser:
			return each(bucketUsers, same)
		case storage.ItemUsername:
			return each(bucketUsernames, func(_, v []byte) ([]byte, error) {
				id, err := decodeOwnerRef(v)
				return ownerKey(id), err
			})
		case storage.ItemWallet:
			return each(bucketWallets, same)
		case storage.ItemTransfer:
			return each(bucketTransfers, same)
		case storage.ItemDeposit:
			return each(bucketDeposits, same)
		case storage.ItemAlert:
			return each(bucketDepositOutbox, same)
		case storage.ItemCursor:
			return each(bucketWatchCursors, same)
		case storage.ItemWalletCard:
			return each(bucketWalletCards, same)
		case storage.ItemCardEdit:
			return each(bucketCardEdits, same)
		}
		return fmt.Errorf("storage: items: %w: kind %q", storage.ErrInvalid, kind)
	})
}

// PutItems: see Copier. Each value is decoded (a corrupt one is refused)
// and stored with the indexes the domain methods keep.
func (db *DB) PutItems(items []storage.Item) error {
	return db.update(func(tx *boltTx) error {
		for _, it := range items {
			if err := tx.putItem(it); err != nil {
				return fmt.Errorf("storage: put %s: %w", it.Describe(), err)
			}
		}
		return nil
	})
}

// putNew stores value under key in b unless the same value is there; a
// different value is ErrConflict. It reports whether it wrote.
func putNew(b *bbolt.Bucket, key, value []byte) (bool, error) {
	if old := b.Get(key); old != nil {
		if bytes.Equal(old, value) {
			return false, nil
		}
		return false, storage.ErrConflict
	}
	return true, b.Put(key, value)
}

func (tx *boltTx) putItem(it storage.Item) error {
	bucket := func(name []byte) *bbolt.Bucket { return tx.tx.Bucket(name) }
	switch it.Kind {
	case storage.ItemMeta:
		if err := storage.CheckMetaKey(string(it.Key)); err != nil {
			return err
		}
		_, err := putNew(bucket(bucketMeta), it.Key, encodeMetaValue(it.Value))
		return err
	case storage.ItemUser:
		u, err := storage.DecodeUser(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(ownerKey(u.ID), it.Key) {
			return fmt.Errorf("%w: stored under another key", storage.ErrCorrupt)
		}
		_, err = putNew(bucket(bucketUsers), it.Key, it.Value)
		return err
	case storage.ItemUsername:
		id, err := storage.ItemKey8(storage.Item{Kind: it.Kind, Key: it.Value})
		if err != nil || len(it.Key) == 0 {
			return fmt.Errorf("%w: username entry", storage.ErrCorrupt)
		}
		b, err := tx.tx.CreateBucketIfNotExists(bucketUsernames)
		if err != nil {
			return err
		}
		_, err = putNew(b, it.Key, encodeOwnerRef(int64(id)))
		return err
	case storage.ItemWallet:
		w, err := storage.DecodeWallet(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(ownerKey(w.Owner), it.Key) {
			return fmt.Errorf("%w: stored under another key", storage.ErrCorrupt)
		}
		if _, err := putNew(bucket(bucketWalletAddresses), w.Address[:], encodeOwnerRef(w.Owner)); err != nil {
			return fmt.Errorf("address %s: %w", w.Address, err)
		}
		_, err = putNew(bucket(bucketWallets), it.Key, it.Value)
		return err
	case storage.ItemTransfer:
		t, err := storage.DecodeTransfer(it.Value)
		if err != nil {
			return err
		}
		if t.ID != string(it.Key) {
			return fmt.Errorf("%w: stored under another key", storage.ErrCorrupt)
		}
		wrote, err := putNew(bucket(bucketTransfers), it.Key, it.Value)
		if err != nil || !wrote {
			return err
		}
		if t.State.Active() && t.Kind == storage.KindTransfer {
			if _, err := putNew(bucket(bucketTransferNonces), nonceKey(t.ChainID, t.From, t.Nonce), encodeIDRef(t.ID)); err != nil {
				return fmt.Errorf("nonce %d of %s on chain %d: %w", t.Nonce, t.From, t.ChainID, err)
			}
		}
		if err := bucket(bucketTransfersByOwner).Put(ownerIndexKey(t.Owner, t.Created, t.ID), nil); err != nil {
			return err
		}
		return bucket(bucketTransfersByState).Put(stateIndexKey(t.State, t.ID), nil)
	case storage.ItemDeposit:
		d, err := storage.DecodeDeposit(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(d.Key(), it.Key) {
			return fmt.Errorf("%w: stored under another key", storage.ErrCorrupt)
		}
		wrote, err := putNew(bucket(bucketDeposits), it.Key, it.Value)
		if err != nil || !wrote {
			return err
		}
		return bucket(bucketDepositsByOwner).Put(depositOwnerKey(d.Owner, d.Time, it.Key), nil)
	case storage.ItemAlert:
		seq, err := storage.ItemKey8(it)
		if err != nil {
			return err
		}
		if bucket(bucketDeposits).Get(it.Value) == nil {
			return fmt.Errorf("%w: alert of a deposit that is not stored", storage.ErrCorrupt)
		}
		outbox := bucket(bucketDepositOutbox)
		if _, err := putNew(outbox, it.Key, it.Value); err != nil {
			return err
		}
		if seq > outbox.Sequence() {
			return outbox.SetSequence(seq)
		}
		return nil
	case storage.ItemCursor:
		chain, err := storage.ItemKey8(it)
		if err != nil {
			return err
		}
		if _, err := storage.DecodeCursor(chain, it.Value); err != nil {
			return err
		}
		_, err = putNew(bucket(bucketWatchCursors), it.Key, it.Value)
		return err
	case storage.ItemWalletCard:
		if _, _, err := storage.DecodeWalletCard(it); err != nil {
			return err
		}
		_, err := putNew(bucket(bucketWalletCards), it.Key, it.Value)
		return err
	case storage.ItemCardEdit:
		e, err := storage.DecodeCardEdit(it)
		if err != nil {
			return err
		}
		if bucket(bucketTransfers).Get([]byte(e.TransferID)) == nil {
			return fmt.Errorf("%w: card edit of a transfer that is not stored", storage.ErrCorrupt)
		}
		edits := bucket(bucketCardEdits)
		if _, err := putNew(edits, it.Key, it.Value); err != nil {
			return err
		}
		// New edits are queued after the copied ones.
		if e.Seq > edits.Sequence() {
			return edits.SetSequence(e.Seq)
		}
		return nil
	}
	return fmt.Errorf("%w: kind %q", storage.ErrInvalid, it.Kind)
}
