package storage

// Helpers for the engines (storage/bolt, storage/postgres). They expose
// the domain rules of this package, so every engine refuses the same values
// with the same sentinel errors.

import (
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// ValidateUser checks a user as UpsertUser and UpdateUser do (ErrInvalid).
func ValidateUser(u *User) error { return u.validate() }

// ValidateWallet checks a wallet as CreateWallet does (ErrInvalid).
func ValidateWallet(w *Wallet) error { return w.validate() }

// ValidateDeposit checks a deposit as StoreWatchedBlocks does (ErrInvalid).
func ValidateDeposit(d *Deposit) error { return d.validate() }

// CheckMetaKey checks a meta key as Meta and PutMeta do (ErrInvalid).
func CheckMetaKey(key string) error { return checkMetaKey(key) }

// CheckHolder checks a holder or lease name (ErrInvalid); field names it.
func CheckHolder(field, v string) error { return checkHolder(field, v) }

// CheckTTL checks a claim's or lease's time to live (ErrInvalid).
func CheckTTL(ttl time.Duration) error { return checkTTL(ttl) }

// CheckClaim checks ClaimUpdate's arguments as both engines do
// (ErrInvalid): the holder, the time to live, an update id not negative.
func CheckClaim(updateID int64, holder string, ttl time.Duration) error {
	if err := checkHolder("holder", holder); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if updateID < 0 {
		return fmt.Errorf("storage: %w: update id %d is negative", ErrInvalid, updateID)
	}
	return nil
}

// UsernameKey is the username index key of name: lower case, without "@".
func UsernameKey(name string) string { return string(usernameKey(name)) }

// CloneTransfer returns a deep copy of t.
func CloneTransfer(t Transfer) Transfer { return t.clone() }

// PrepareTransfer applies CreateTransfer's defaults (state built, Created
// and Updated now) to a copy of t and checks it as CreateTransfer does
// before looking at the store: ErrInvalidTransition for another state,
// ErrInvalid for a malformed transfer or one that already carries a
// transaction.
func PrepareTransfer(t Transfer, now time.Time) (Transfer, error) {
	t = t.clone()
	if t.State == 0 {
		t.State = StateBuilt
	}
	if t.Created.IsZero() {
		t.Created = now
	}
	if t.Updated.IsZero() {
		t.Updated = t.Created
	}
	if t.State != StateBuilt {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w: a new transfer is %s, not %s", t.ID, ErrInvalidTransition, StateBuilt, t.State)
	}
	if len(t.SignedTx) != 0 || t.TxHash != (common.Hash{}) || t.Block != 0 {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w: a new transfer has no transaction yet", t.ID, ErrInvalid)
	}
	if err := t.validate(); err != nil {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	return t, nil
}

// CheckTransferUpdate checks the change old -> t made by an UpdateTransfer
// callback as UpdateTransfer does (ErrInvalidTransition, ErrInvalid) and
// sets t.Updated to now.
func CheckTransferUpdate(old, t *Transfer, now time.Time) error {
	if err := checkChange(old, t); err != nil {
		return fmt.Errorf("storage: update transfer %q: %w", old.ID, err)
	}
	t.Updated = now
	if err := t.validate(); err != nil {
		return fmt.Errorf("storage: update transfer %q (%s -> %s): %w", old.ID, old.State, t.State, err)
	}
	return nil
}

// CheckReplacement checks that orig, the transfer a new replacement t names,
// is a signed open ordinary transfer holding t's nonce (ErrInvalid).
func CheckReplacement(t, orig *Transfer) error {
	if !orig.State.Signed() || orig.ChainID != t.ChainID || orig.From != t.From || orig.Nonce != t.Nonce || orig.Kind != KindTransfer {
		return fmt.Errorf("storage: create transfer %q: %w: %q is not a signed open transfer holding nonce %d of %s",
			t.ID, ErrInvalid, t.Replaces, t.Nonce, t.From)
	}
	return nil
}

// CheckWatchedBlocks checks StoreWatchedBlocks' arguments (ErrInvalid).
func CheckWatchedBlocks(cur WatchCursor, deposits []Deposit) error {
	if cur.ChainID == 0 || len(cur.Hashes) == 0 || len(cur.Hashes) > MaxCursorHashes || uint64(len(cur.Hashes)) > cur.Block+1 {
		return fmt.Errorf("storage: watch cursor: %w: chain %d block %d with %d hashes", ErrInvalid, cur.ChainID, cur.Block, len(cur.Hashes))
	}
	for i := range deposits {
		if err := deposits[i].validate(); err != nil {
			return fmt.Errorf("storage: deposit %s: %w", deposits[i].TxHash, err)
		}
		if deposits[i].ChainID != cur.ChainID || deposits[i].Block > cur.Block {
			return fmt.Errorf("storage: deposit %s: %w: chain %d block %d is not in the cursor's range (chain %d up to %d)",
				deposits[i].TxHash, ErrInvalid, deposits[i].ChainID, deposits[i].Block, cur.ChainID, cur.Block)
		}
	}
	return nil
}

// EncodeTransfer is the canonical encoding of a transfer (docs/storage.md),
// the bbolt value and the PostgreSQL data column alike.
func EncodeTransfer(t *Transfer) []byte { return encodeTransfer(t) }

// DecodeTransfer reads EncodeTransfer's output strictly (ErrCorrupt).
func DecodeTransfer(b []byte) (Transfer, error) { return decodeTransfer(b) }

// EncodeDeposit is the canonical encoding of a deposit.
func EncodeDeposit(d *Deposit) []byte { return encodeDeposit(d) }

// DecodeDeposit reads EncodeDeposit's output strictly (ErrCorrupt).
func DecodeDeposit(b []byte) (Deposit, error) { return decodeDeposit(b) }

// EncodeCursor and DecodeCursor: the canonical encoding of a watch cursor.
func EncodeCursor(c *WatchCursor) []byte { return encodeCursor(c) }

// DecodeCursor reads EncodeCursor's output strictly (ErrCorrupt).
func DecodeCursor(chainID uint64, b []byte) (WatchCursor, error) { return decodeCursor(chainID, b) }

// EncodeUser is the canonical encoding of a user (docs/storage.md).
func EncodeUser(u *User) []byte { return encodeUser(u) }

// EncodeWallet is the canonical encoding of a wallet (its sealed record
// inside, opaque).
func EncodeWallet(w *Wallet) []byte { return encodeWallet(w) }
