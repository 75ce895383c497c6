package storage

// Engine-neutral records: what `autowallet migrate` copies from bbolt into
// PostgreSQL and what the conformance suite's backup round trip copies
// between engines. Every record is an Item of one Kind whose Key and Value
// are the canonical encodings of this package (docs/storage.md), so both
// engines produce the same bytes for the same data and one SHA-256 over them
// (Summarize) proves a copy whole.
//
// Telegram update claims, leases, send slots and chat flows (a guided /send
// in progress) are not copied: they are a running deployment's short-lived
// coordination and conversation state, meaningless to a stopped one
// (docs/postgres.md, "Moving from bbolt", says what a user sees). The
// users' wallet cards and the queued card edits are copied: the bot on the
// new engine edits the same messages the old one would have.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// ItemKind names a kind of record.
type ItemKind string

// The kinds, in the order Copy and Summarize walk them (wallets before
// transfers and deposits, which name them).
const (
	ItemMeta     ItemKind = "meta"     // key: the meta key; value: the value
	ItemUser     ItemKind = "user"     // key: id (8 BE); value: the user encoding
	ItemUsername ItemKind = "username" // key: lower-case name; value: user id (8 BE)
	ItemWallet   ItemKind = "wallet"   // key: owner (8 BE); value: the wallet encoding (sealed record inside)
	ItemTransfer ItemKind = "transfer" // key: id; value: EncodeTransfer
	ItemDeposit  ItemKind = "deposit"  // key: Deposit.Key; value: EncodeDeposit
	ItemAlert    ItemKind = "alert"    // key: outbox sequence (8 BE); value: the deposit's key
	ItemCursor   ItemKind = "cursor"   // key: chain id (8 BE); value: EncodeCursor
	// key: user id (8 BE); value: the wallet card encoding (cards.go)
	ItemWalletCard ItemKind = "walletcard"
	// key: queue sequence (8 BE); value: the card edit encoding (cards.go;
	// after the transfers it names)
	ItemCardEdit ItemKind = "cardedit"
)

// ItemKinds is every kind, in copy order.
var ItemKinds = []ItemKind{ItemMeta, ItemUser, ItemUsername, ItemWallet, ItemTransfer, ItemDeposit, ItemAlert, ItemCursor, ItemWalletCard, ItemCardEdit}

// ErrConflict: the target of a copy holds different data under the same key.
var ErrConflict = errors.New("the target holds different data under the same key")

// Item is one record in canonical form.
type Item struct {
	Kind  ItemKind
	Key   []byte
	Value []byte
}

// Describe names the item for a person: kind and key.
func (it Item) Describe() string {
	switch it.Kind {
	case ItemMeta, ItemTransfer, ItemUsername:
		return fmt.Sprintf("%s %q", it.Kind, it.Key)
	case ItemUser, ItemWallet, ItemAlert, ItemCursor, ItemWalletCard, ItemCardEdit:
		if len(it.Key) == 8 {
			return string(it.Kind) + " " + strconv.FormatUint(binary.BigEndian.Uint64(it.Key), 10)
		}
	}
	return string(it.Kind) + " " + hex.EncodeToString(it.Key)
}

// Copier is an engine that can list and load its records.
type Copier interface {
	// Items calls fn for every item of kind in ascending key order
	// (bytewise), inside one consistent read.
	Items(kind ItemKind, fn func(Item) error) error
	// PutItems stores items in one transaction, with every index the
	// engine keeps. An item already stored with the same value is skipped
	// (a copy run twice changes nothing); one stored with a different
	// value, or one that would break a rule (an address or a nonce held
	// under another key), fails the whole call with ErrConflict naming it.
	PutItems(items []Item) error
}

// Summary is what Summarize computes: items per kind and one SHA-256 over
// every item (kind, key and value, in kind and key order).
type Summary struct {
	Counts   map[ItemKind]int
	Checksum [32]byte
}

// Equal reports whether two summaries agree.
func (s Summary) Equal(o Summary) bool {
	if s.Checksum != o.Checksum {
		return false
	}
	for _, k := range ItemKinds {
		if s.Counts[k] != o.Counts[k] {
			return false
		}
	}
	return true
}

func (s Summary) String() string {
	var b bytes.Buffer
	for _, k := range ItemKinds {
		fmt.Fprintf(&b, "%s=%d ", k, s.Counts[k])
	}
	fmt.Fprintf(&b, "sha256=%x", s.Checksum)
	return b.String()
}

// Summarize counts and hashes every item of c. It fails with ErrCorrupt if
// an engine lists keys out of order (the checksum depends on the order).
func Summarize(c Copier) (Summary, error) {
	s := Summary{Counts: map[ItemKind]int{}}
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, kind := range ItemKinds {
		var last []byte
		err := c.Items(kind, func(it Item) error {
			if last != nil && bytes.Compare(last, it.Key) >= 0 {
				return fmt.Errorf("storage: summarize: %w: %s listed out of order", ErrCorrupt, it.Describe())
			}
			last = bytes.Clone(it.Key)
			for _, part := range [][]byte{[]byte(kind), it.Key, it.Value} {
				h.Write(n[:binary.PutUvarint(n[:], uint64(len(part)))])
				h.Write(part)
			}
			s.Counts[kind]++
			return nil
		})
		if err != nil {
			return Summary{}, err
		}
	}
	copy(s.Checksum[:], h.Sum(nil))
	return s, nil
}

// CopyBatch is how many items Copy stores per transaction.
const CopyBatch = 1000

// Copy copies every item of src into dst, CopyBatch items per transaction,
// then summarizes both and fails unless they agree. Items dst already holds
// unchanged are skipped, so a copy run again, or after one that stopped
// half way, completes the target and changes nothing else; an item dst
// holds with other data fails with ErrConflict (nothing of that batch is
// written). It returns the summary of src.
func Copy(dst, src Copier) (Summary, error) {
	for _, kind := range ItemKinds {
		var batch []Item
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := dst.PutItems(batch)
			batch = batch[:0]
			return err
		}
		err := src.Items(kind, func(it Item) error {
			batch = append(batch, Item{Kind: it.Kind, Key: bytes.Clone(it.Key), Value: bytes.Clone(it.Value)})
			if len(batch) == CopyBatch {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return Summary{}, fmt.Errorf("storage: copy %ss: %w", kind, err)
		}
	}
	want, err := Summarize(src)
	if err != nil {
		return Summary{}, fmt.Errorf("storage: copy: summarize the source: %w", err)
	}
	got, err := Summarize(dst)
	if err != nil {
		return Summary{}, fmt.Errorf("storage: copy: summarize the target: %w", err)
	}
	if !got.Equal(want) {
		return want, fmt.Errorf("storage: copy: %w: the target differs from the source after the copy (source %s; target %s)", ErrConflict, want, got)
	}
	return want, nil
}

// ---- canonical encodings for other engines ----

// ItemOfUser, ItemOfWallet, ... return the canonical item of a record.
func ItemOfUser(u *User) Item     { return Item{ItemUser, ownerKey(u.ID), encodeUser(u)} }
func ItemOfWallet(w *Wallet) Item { return Item{ItemWallet, ownerKey(w.Owner), encodeWallet(w)} }
func ItemOfTransfer(t *Transfer) Item {
	return Item{ItemTransfer, []byte(t.ID), encodeTransfer(t)}
}
func ItemOfDeposit(d *Deposit) Item { return Item{ItemDeposit, d.Key(), encodeDeposit(d)} }
func ItemOfUsername(name string, id int64) Item {
	return Item{ItemUsername, []byte(name), ownerKey(id)}
}
func ItemOfAlert(seq uint64, depositKey []byte) Item {
	return Item{ItemAlert, binary.BigEndian.AppendUint64(nil, seq), depositKey}
}
func ItemOfCursor(c *WatchCursor) Item { return Item{ItemCursor, chainKey(c.ChainID), encodeCursor(c)} }
func ItemOfMeta(key string, v []byte) Item {
	return Item{ItemMeta, []byte(key), v}
}

// ItemOfWalletCard is the canonical item of user's wallet card.
func ItemOfWalletCard(user int64, c Card) Item {
	return Item{ItemWalletCard, ownerKey(user), encodeWalletCard(c)}
}

// ItemOfCardEdit is the canonical item of a queued card edit.
func ItemOfCardEdit(e CardEdit) Item {
	return Item{ItemCardEdit, binary.BigEndian.AppendUint64(nil, e.Seq), encodeCardEdit(e.TransferID, e.State)}
}

// DecodeWalletCard reads a wallet card item (ErrCorrupt; ErrInvalid for a
// zero chat or message id, which SetWalletCard refuses).
func DecodeWalletCard(it Item) (user int64, c Card, err error) {
	id, err := ItemKey8(it)
	if err != nil {
		return 0, Card{}, err
	}
	if c, err = decodeWalletCard(it.Value); err != nil {
		return 0, Card{}, err
	}
	if c.ChatID == 0 || c.MessageID <= 0 || c.MessageID > 1<<31-1 {
		return 0, Card{}, fmt.Errorf("%w: wallet card of chat %d message %d", ErrInvalid, c.ChatID, c.MessageID)
	}
	return int64(id), c, nil
}

// DecodeCardEdit reads a card edit item (ErrCorrupt).
func DecodeCardEdit(it Item) (CardEdit, error) {
	seq, err := ItemKey8(it)
	if err != nil {
		return CardEdit{}, err
	}
	if seq == 0 || seq > 1<<63-1 {
		return CardEdit{}, fmt.Errorf("%w: card edit sequence %d", ErrCorrupt, seq)
	}
	return decodeCardEdit(seq, it.Value)
}

// DecodeUser and DecodeWallet read the canonical encodings (ErrCorrupt).
func DecodeUser(b []byte) (User, error)     { return decodeUser(b) }
func DecodeWallet(b []byte) (Wallet, error) { return decodeWallet(b) }

// ItemKey8 reads an 8-byte big-endian key (user, wallet, alert, cursor).
func ItemKey8(it Item) (uint64, error) {
	if len(it.Key) != 8 {
		return 0, fmt.Errorf("%w: %s key is %d bytes, not 8", ErrCorrupt, it.Kind, len(it.Key))
	}
	return binary.BigEndian.Uint64(it.Key), nil
}
