package bolt

// Chat cards across parents (issue 11): a transfer's state may move on any
// parent (an approval through the Mini App API on one, the tracker on
// another), and its card must be edited once whichever did it. So every
// state change of a transfer that has a card queues a card edit in the same
// transaction (tx.UpdateTransfer does it, whatever path moved it), and the
// parent holding the "cards" lease edits from the queue. The user's last
// wallet card (chat and message id) is stored too, so any parent can
// refresh it.

import (
	"encoding/binary"
	"fmt"

	"github.com/autowallet/autowallet/storage"
)

// Buckets of this file (docs/storage.md).
var (
	bucketCardEdits   = []byte("card_edits")   // sequence (8 BE) -> cardEditRecord
	bucketWalletCards = []byte("wallet_cards") // user id (8 BE) -> walletCardRecord
)

// queueCardEdit appends an edit of t's card to the queue, in tx.
func (tx *boltTx) queueCardEdit(t *storage.Transfer) error {
	b := tx.tx.Bucket(bucketCardEdits)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("storage: queue card edit: %w", err)
	}
	if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), storage.ItemOfCardEdit(storage.CardEdit{TransferID: t.ID, State: t.State}).Value); err != nil {
		return fmt.Errorf("storage: queue card edit: %w", err)
	}
	return nil
}

// PendingCardEdits returns up to limit queued card edits with a sequence
// above after, oldest first.
func (db *DB) PendingCardEdits(after uint64, limit int) ([]storage.CardEdit, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("storage: pending card edits: %w: limit %d", storage.ErrInvalid, limit)
	}
	return read(db, func(tx *boltTx) ([]storage.CardEdit, error) {
		var out []storage.CardEdit
		c := tx.tx.Bucket(bucketCardEdits).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 {
				return nil, fmt.Errorf("storage: pending card edits: %w: key %x", storage.ErrCorrupt, k)
			}
			ce, err := storage.DecodeCardEdit(storage.Item{Kind: storage.ItemCardEdit, Key: k, Value: v})
			if err != nil {
				return nil, fmt.Errorf("storage: card edit %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, ce)
		}
		return out, nil
	})
}

// CardEditsDone removes edits from the queue (made, or given up on).
// Removing one that is gone is not an error.
func (db *DB) CardEditsDone(seqs ...uint64) error {
	return db.update(func(tx *boltTx) error {
		b := tx.tx.Bucket(bucketCardEdits)
		for _, s := range seqs {
			if err := b.Delete(binary.BigEndian.AppendUint64(nil, s)); err != nil {
				return fmt.Errorf("storage: card edit %d done: %w", s, err)
			}
		}
		return nil
	})
}

// SetWalletCard stores the user's last wallet card.
func (db *DB) SetWalletCard(user int64, c storage.Card) error {
	if c.ChatID == 0 || c.MessageID <= 0 {
		return fmt.Errorf("storage: wallet card of %d: %w: chat %d message %d", user, storage.ErrInvalid, c.ChatID, c.MessageID)
	}
	return db.update(func(tx *boltTx) error {
		return tx.tx.Bucket(bucketWalletCards).Put(ownerKey(user), storage.ItemOfWalletCard(user, c).Value)
	})
}

// WalletCard returns the user's last wallet card, or ErrNotFound.
func (db *DB) WalletCard(user int64) (storage.Card, error) {
	return read(db, func(tx *boltTx) (storage.Card, error) {
		v := tx.tx.Bucket(bucketWalletCards).Get(ownerKey(user))
		if v == nil {
			return storage.Card{}, fmt.Errorf("storage: wallet card of %d: %w", user, storage.ErrNotFound)
		}
		_, c, err := storage.DecodeWalletCard(storage.Item{Kind: storage.ItemWalletCard, Key: ownerKey(user), Value: v})
		return c, err
	})
}
