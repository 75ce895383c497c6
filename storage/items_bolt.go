package storage

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The bbolt engine copies its records (items.go).
var _ Copier = (*DB)(nil)

// Items: see Copier. bbolt's keys are the canonical keys, so every bucket
// walks in the required order.
func (db *DB) Items(kind ItemKind, fn func(Item) error) error {
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
				return fn(Item{Kind: kind, Key: k, Value: val})
			})
		}
		same := func(_, v []byte) ([]byte, error) { return v, nil }
		switch kind {
		case ItemMeta:
			return each(bucketMeta, func(k, v []byte) ([]byte, error) {
				if bytes.Equal(k, metaSchemaKey) {
					return nil, nil // each engine keeps its own schema version
				}
				return decodeMetaValue(v)
			})
		case ItemUser:
			return each(bucketUsers, same)
		case ItemUsername:
			return each(bucketUsernames, func(_, v []byte) ([]byte, error) {
				id, err := decodeOwnerRef(v)
				return ownerKey(id), err
			})
		case ItemWallet:
			return each(bucketWallets, same)
		case ItemTransfer:
			return each(bucketTransfers, same)
		case ItemDeposit:
			return each(bucketDeposits, same)
		case ItemAlert:
			return each(bucketDepositOutbox, same)
		case ItemCursor:
			return each(bucketWatchCursors, same)
		case ItemWalletCard:
			return each(bucketWalletCards, same)
		case ItemCardEdit:
			return each(bucketCardEdits, same)
		}
		return fmt.Errorf("storage: items: %w: kind %q", ErrInvalid, kind)
	})
}

// PutItems: see Copier. Each value is decoded (a corrupt one is refused)
// and stored with the indexes the domain methods keep.
func (db *DB) PutItems(items []Item) error {
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
func putNew(b *bolt.Bucket, key, value []byte) (bool, error) {
	if old := b.Get(key); old != nil {
		if bytes.Equal(old, value) {
			return false, nil
		}
		return false, ErrConflict
	}
	return true, b.Put(key, value)
}

func (tx *boltTx) putItem(it Item) error {
	bucket := func(name []byte) *bolt.Bucket { return tx.tx.Bucket(name) }
	switch it.Kind {
	case ItemMeta:
		if err := checkMetaKey(string(it.Key)); err != nil {
			return err
		}
		_, err := putNew(bucket(bucketMeta), it.Key, encodeMetaValue(it.Value))
		return err
	case ItemUser:
		u, err := decodeUser(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(ownerKey(u.ID), it.Key) {
			return fmt.Errorf("%w: stored under another key", ErrCorrupt)
		}
		_, err = putNew(bucket(bucketUsers), it.Key, it.Value)
		return err
	case ItemUsername:
		id, err := ItemKey8(Item{Kind: it.Kind, Key: it.Value})
		if err != nil || len(it.Key) == 0 {
			return fmt.Errorf("%w: username entry", ErrCorrupt)
		}
		b, err := tx.tx.CreateBucketIfNotExists(bucketUsernames)
		if err != nil {
			return err
		}
		_, err = putNew(b, it.Key, encodeOwnerRef(int64(id)))
		return err
	case ItemWallet:
		w, err := decodeWallet(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(ownerKey(w.Owner), it.Key) {
			return fmt.Errorf("%w: stored under another key", ErrCorrupt)
		}
		if _, err := putNew(bucket(bucketWalletAddresses), w.Address[:], encodeOwnerRef(w.Owner)); err != nil {
			return fmt.Errorf("address %s: %w", w.Address, err)
		}
		_, err = putNew(bucket(bucketWallets), it.Key, it.Value)
		return err
	case ItemTransfer:
		t, err := decodeTransfer(it.Value)
		if err != nil {
			return err
		}
		if t.ID != string(it.Key) {
			return fmt.Errorf("%w: stored under another key", ErrCorrupt)
		}
		wrote, err := putNew(bucket(bucketTransfers), it.Key, it.Value)
		if err != nil || !wrote {
			return err
		}
		if t.State.Active() && t.Kind == KindTransfer {
			if _, err := putNew(bucket(bucketTransferNonces), nonceKey(t.ChainID, t.From, t.Nonce), encodeIDRef(t.ID)); err != nil {
				return fmt.Errorf("nonce %d of %s on chain %d: %w", t.Nonce, t.From, t.ChainID, err)
			}
		}
		if err := bucket(bucketTransfersByOwner).Put(ownerIndexKey(t.Owner, t.Created, t.ID), nil); err != nil {
			return err
		}
		return bucket(bucketTransfersByState).Put(stateIndexKey(t.State, t.ID), nil)
	case ItemDeposit:
		d, err := decodeDeposit(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(d.Key(), it.Key) {
			return fmt.Errorf("%w: stored under another key", ErrCorrupt)
		}
		wrote, err := putNew(bucket(bucketDeposits), it.Key, it.Value)
		if err != nil || !wrote {
			return err
		}
		return bucket(bucketDepositsByOwner).Put(depositOwnerKey(d.Owner, d.Time, it.Key), nil)
	case ItemAlert:
		seq, err := ItemKey8(it)
		if err != nil {
			return err
		}
		if bucket(bucketDeposits).Get(it.Value) == nil {
			return fmt.Errorf("%w: alert of a deposit that is not stored", ErrCorrupt)
		}
		outbox := bucket(bucketDepositOutbox)
		if _, err := putNew(outbox, it.Key, it.Value); err != nil {
			return err
		}
		if seq > outbox.Sequence() {
			return outbox.SetSequence(seq)
		}
		return nil
	case ItemCursor:
		chain, err := ItemKey8(it)
		if err != nil {
			return err
		}
		if _, err := decodeCursor(chain, it.Value); err != nil {
			return err
		}
		_, err = putNew(bucket(bucketWatchCursors), it.Key, it.Value)
		return err
	case ItemWalletCard:
		if _, _, err := DecodeWalletCard(it); err != nil {
			return err
		}
		_, err := putNew(bucket(bucketWalletCards), it.Key, it.Value)
		return err
	case ItemCardEdit:
		e, err := DecodeCardEdit(it)
		if err != nil {
			return err
		}
		if bucket(bucketTransfers).Get([]byte(e.TransferID)) == nil {
			return fmt.Errorf("%w: card edit of a transfer that is not stored", ErrCorrupt)
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
	return fmt.Errorf("%w: kind %q", ErrInvalid, it.Kind)
}
