package storage

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
)

// Buckets of this file (docs/storage.md).
var (
	bucketCardEdits   = []byte("card_edits")   // sequence (8 BE) -> cardEditRecord
	bucketWalletCards = []byte("wallet_cards") // user id (8 BE) -> walletCardRecord
)

const (
	cardEditV1   byte = 1
	walletCardV1 byte = 1
)

// CardEdit is one queued edit of a transfer's card: the transfer moved to
// State (the card shows the state as stored when it is edited; State says
// which change queued it, for the refreshes it implies).
type CardEdit struct {
	Seq        uint64
	TransferID string
	State      State
}

// Card is a chat message the bot edits later: the user's wallet card.
type Card struct {
	ChatID    int64
	MessageID int
}

// CardEditDue says whether a change from old to t queues a card edit (the
// rule of both engines): the state or its reason changed and the card
// exists, or the card's id was stored after the state had already left
// built (a quick Cancel before the card was known). A card sent in state
// built shows that state already.
func CardEditDue(old, t *Transfer) bool {
	if t.MessageID == 0 || t.ChatID == 0 {
		return false
	}
	if t.State != old.State || t.Reason != old.Reason {
		return true
	}
	return old.MessageID == 0 && t.State != StateBuilt
}

// queueCardEdit appends an edit of t's card to the queue, in tx.
func (tx *boltTx) queueCardEdit(t *Transfer) error {
	b := tx.tx.Bucket(bucketCardEdits)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("storage: queue card edit: %w", err)
	}
	if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), encodeCardEdit(t.ID, t.State)); err != nil {
		return fmt.Errorf("storage: queue card edit: %w", err)
	}
	return nil
}

// PendingCardEdits returns up to limit queued card edits with a sequence
// above after, oldest first.
func (db *DB) PendingCardEdits(after uint64, limit int) ([]CardEdit, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("storage: pending card edits: %w: limit %d", ErrInvalid, limit)
	}
	return read(db, func(tx *boltTx) ([]CardEdit, error) {
		var out []CardEdit
		c := tx.tx.Bucket(bucketCardEdits).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 {
				return nil, fmt.Errorf("storage: pending card edits: %w: key %x", ErrCorrupt, k)
			}
			ce, err := decodeCardEdit(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return nil, fmt.Errorf("storage: card edit %d: %w", ce.Seq, err)
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
func (db *DB) SetWalletCard(user int64, c Card) error {
	if c.ChatID == 0 || c.MessageID <= 0 {
		return fmt.Errorf("storage: wallet card of %d: %w: chat %d message %d", user, ErrInvalid, c.ChatID, c.MessageID)
	}
	return db.update(func(tx *boltTx) error {
		return tx.tx.Bucket(bucketWalletCards).Put(ownerKey(user), encodeWalletCard(c))
	})
}

// WalletCard returns the user's last wallet card, or ErrNotFound.
func (db *DB) WalletCard(user int64) (Card, error) {
	return read(db, func(tx *boltTx) (Card, error) {
		v := tx.tx.Bucket(bucketWalletCards).Get(ownerKey(user))
		if v == nil {
			return Card{}, fmt.Errorf("storage: wallet card of %d: %w", user, ErrNotFound)
		}
		return decodeWalletCard(v)
	})
}

// The encodings of this file's records (also the canonical items of
// `autowallet migrate`, items.go).

func encodeCardEdit(transferID string, state State) []byte {
	e := encoder{b: make([]byte, 0, 2+len(transferID)+2)}
	e.byte(cardEditV1)
	e.byte(byte(state))
	e.string(transferID)
	return e.b
}

func decodeCardEdit(seq uint64, v []byte) (CardEdit, error) {
	d := decoder{b: v, what: "card edit"}
	d.version(cardEditV1)
	ce := CardEdit{Seq: seq, State: State(d.byte("state")), TransferID: d.string("transfer")}
	return ce, d.finish()
}

func encodeWalletCard(c Card) []byte {
	e := encoder{b: make([]byte, 0, 24)}
	e.byte(walletCardV1)
	e.varint(c.ChatID)
	e.uvarint(uint64(c.MessageID))
	return e.b
}

func decodeWalletCard(v []byte) (Card, error) {
	d := decoder{b: v, what: "wallet card"}
	d.version(walletCardV1)
	c := Card{ChatID: d.varint("chat"), MessageID: int(d.uvarint("message"))}
	return c, d.finish()
}
