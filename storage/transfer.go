package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// State is where a transfer is in its life. The numbers are stored (one
// byte in the transfer value and in the state index key): never renumber.
type State uint8

const (
	StateBuilt     State = 1 // intent built, card shown, waiting for approval
	StateApproved  State = 2 // approved; SignedTx stored, not yet broadcast
	StateSent      State = 3 // broadcast; TxHash known, waiting for a receipt
	StateConfirmed State = 4 // mined with status 1; Block set (final)
	StateFailed    State = 5 // refused, reverted, dropped or replaced; Reason set (final)
	StateCancelled State = 6 // the user tapped Cancel before approving (final)
	StateExpired   State = 7 // the intent expired before approval (final)
)

var stateNames = [...]string{
	StateBuilt: "built", StateApproved: "approved", StateSent: "sent",
	StateConfirmed: "confirmed", StateFailed: "failed",
	StateCancelled: "cancelled", StateExpired: "expired",
}

// transitions is the table of allowed state changes; docs/storage.md has the
// same table. Staying in the same state (to update mutable fields) is always
// allowed.
var transitions = map[State][]State{
	StateBuilt:     {StateApproved, StateCancelled, StateExpired},
	StateApproved:  {StateSent, StateFailed},
	StateSent:      {StateConfirmed, StateFailed},
	StateConfirmed: nil,
	StateFailed:    nil,
	StateCancelled: nil,
	StateExpired:   nil,
}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return s >= StateBuilt && s <= StateExpired }

// Active reports whether a transfer in state s holds its nonce: it may
// still be, or has been, broadcast and is not known to be final.
func (s State) Active() bool { return s == StateBuilt || s == StateApproved || s == StateSent }

// Final reports whether no transition leaves s.
func (s State) Final() bool { return s.Valid() && len(transitions[s]) == 0 }

// CanBecome reports whether the table allows the change from s to next.
func (s State) CanBecome(next State) bool { return slices.Contains(transitions[s], next) }

func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, s)
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i, name := range stateNames {
		if name != "" && name == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown transfer state %q", ErrInvalid, b)
}

// Transfer is one send from a user's wallet, from the card shown in the
// chat to its receipt.
type Transfer struct {
	ID        string // chosen by the caller, 1..128 bytes, unique
	Owner     int64  // Telegram user id
	ChatID    int64  // chat of the confirmation card
	MessageID int    // the card, edited as the transfer progresses

	// What the user approves; these fields never change after creation.
	ChainID    uint64
	From       common.Address // the owner's wallet
	To         common.Address
	Token      common.Address // zero: the native coin
	Amount     *big.Int       // wei (or token units)
	Nonce      uint64
	MaxFee     *big.Int  // most the network fee can cost: gas limit x max fee per gas
	Intent     []byte    // the binary-encoded protocol.Intent
	StartParam string    // the intent's base64url form in the Mini App link
	Expiry     time.Time // when the intent expires

	State    State
	SignedTx []byte      // raw signed transaction, stored on approval, before broadcast; then fixed
	TxHash   common.Hash // set on approval or on sending; then fixed
	Block    uint64      // block of the receipt
	Reason   string      // why it failed, expired or was cancelled

	Created time.Time
	Updated time.Time
}

func cloneBig(v *big.Int) *big.Int {
	if v == nil {
		return nil
	}
	return new(big.Int).Set(v)
}

// clone returns a deep copy, so a callback cannot alter the original.
func (t Transfer) clone() Transfer {
	t.Amount = cloneBig(t.Amount)
	t.MaxFee = cloneBig(t.MaxFee)
	t.Intent = bytes.Clone(t.Intent)
	t.SignedTx = bytes.Clone(t.SignedTx)
	return t
}

func (t *Transfer) validate() error {
	switch {
	case t.ID == "" || len(t.ID) > maxIDLen:
		return fmt.Errorf("%w: transfer id must be 1..%d bytes", ErrInvalid, maxIDLen)
	case t.Owner <= 0:
		return fmt.Errorf("%w: transfer owner %d", ErrInvalid, t.Owner)
	case t.From == (common.Address{}):
		return fmt.Errorf("%w: transfer sender is the zero address", ErrInvalid)
	case len(t.Intent) == 0:
		return fmt.Errorf("%w: transfer intent is empty", ErrInvalid)
	case len(t.Intent) > 1024 || len(t.StartParam) > 1024 || len(t.SignedTx) > 1<<16 || len(t.Reason) > 4096:
		return fmt.Errorf("%w: a transfer field is too long", ErrInvalid)
	case !t.State.Valid():
		return fmt.Errorf("%w: transfer state %s", ErrInvalid, t.State)
	case t.Created.UnixNano() <= 0:
		return fmt.Errorf("%w: transfer created time %s", ErrInvalid, t.Created)
	}
	for _, f := range []struct {
		name string
		v    *big.Int
	}{{"amount", t.Amount}, {"max fee", t.MaxFee}} {
		if err := checkBig(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    time.Time
	}{{"created", t.Created}, {"updated", t.Updated}, {"expiry", t.Expiry}} {
		if err := checkTime(f.name, f.v); err != nil {
			return err
		}
	}
	// What each state requires.
	switch t.State {
	case StateApproved:
		if len(t.SignedTx) == 0 {
			return fmt.Errorf("%w: an approved transfer needs its signed transaction", ErrInvalidTransition)
		}
	case StateSent:
		if len(t.SignedTx) == 0 || t.TxHash == (common.Hash{}) {
			return fmt.Errorf("%w: a sent transfer needs its signed transaction and hash", ErrInvalidTransition)
		}
	case StateConfirmed:
		if t.TxHash == (common.Hash{}) || t.Block == 0 {
			return fmt.Errorf("%w: a confirmed transfer needs its hash and block", ErrInvalidTransition)
		}
	case StateFailed:
		if strings.TrimSpace(t.Reason) == "" {
			return fmt.Errorf("%w: a failed transfer needs a reason", ErrInvalidTransition)
		}
	}
	return nil
}

// encodeTransfer: version 1, then id, owner, chat id, message id, chain id,
// from, to, token, amount, nonce, max fee, intent, start param, state,
// signed tx, tx hash, block, reason, created, updated, expiry
// (docs/storage.md has the table of field encodings).
func encodeTransfer(t *Transfer) []byte {
	e := encoder{b: make([]byte, 0, 200+len(t.ID)+len(t.Intent)+len(t.StartParam)+len(t.SignedTx)+len(t.Reason))}
	e.byte(transferV1)
	e.string(t.ID)
	e.uvarint(uint64(t.Owner))
	e.varint(t.ChatID)
	e.varint(int64(t.MessageID))
	e.uvarint(t.ChainID)
	e.address(t.From)
	e.address(t.To)
	e.address(t.Token)
	e.big(t.Amount)
	e.uvarint(t.Nonce)
	e.big(t.MaxFee)
	e.bytes(t.Intent)
	e.string(t.StartParam)
	e.byte(byte(t.State))
	e.bytes(t.SignedTx)
	e.hash(t.TxHash)
	e.uvarint(t.Block)
	e.string(t.Reason)
	e.time(t.Created)
	e.time(t.Updated)
	e.time(t.Expiry)
	return e.b
}

func decodeTransfer(b []byte) (Transfer, error) {
	d := decoder{b: b, what: "transfer"}
	var t Transfer
	d.version(transferV1)
	t.ID = d.string("id")
	if d.err == nil && (t.ID == "" || len(t.ID) > maxIDLen) {
		d.fail("id must be 1..%d bytes", maxIDLen)
	}
	t.Owner = d.owner("owner")
	t.ChatID = d.varint("chat id")
	msg := d.varint("message id")
	t.MessageID = int(msg)
	if d.err == nil && int64(t.MessageID) != msg {
		d.fail("message id %d does not fit in int", msg)
	}
	t.ChainID = d.uvarint("chain id")
	t.From = d.address("from")
	t.To = d.address("to")
	t.Token = d.address("token")
	t.Amount = d.big("amount")
	t.Nonce = d.uvarint("nonce")
	t.MaxFee = d.big("max fee")
	t.Intent = d.bytes("intent")
	t.StartParam = d.string("start param")
	t.State = State(d.byte("state"))
	if d.err == nil && !t.State.Valid() {
		d.fail("unknown state %d", t.State)
	}
	t.SignedTx = d.bytes("signed tx")
	t.TxHash = d.hash("tx hash")
	t.Block = d.uvarint("block")
	t.Reason = d.string("reason")
	t.Created = d.time("created")
	t.Updated = d.time("updated")
	t.Expiry = d.time("expiry")
	if err := d.finish(); err != nil {
		return Transfer{}, err
	}
	return t, nil
}

// CreateTransfer stores a new transfer in state built (State must be zero
// or StateBuilt). From must be the owner's wallet. It fails with
// ErrTransferExists if the id is taken and with ErrNonceInUse if another
// active transfer of the wallet holds the nonce. Created and Updated
// default to now. It returns the stored transfer.
func (db *DB) CreateTransfer(t Transfer) (Transfer, error) {
	return write(db, func(tx *Tx) (Transfer, error) { return tx.CreateTransfer(t) })
}

// Transfer returns the transfer with that id, or ErrNotFound.
func (db *DB) Transfer(id string) (Transfer, error) {
	return read(db, func(tx *Tx) (Transfer, error) { return tx.Transfer(id) })
}

// UpdateTransfer runs fn on a copy of the stored transfer inside one write
// transaction, checks the result and stores it. A change of State must be
// in the table of allowed transitions, and the fields fixed at creation
// (id, owner, chain, from, to, token, amount, nonce, max fee, intent, start
// param, expiry, created) and, once set, SignedTx and TxHash may not
// change; otherwise nothing is stored and the error wraps
// ErrInvalidTransition. An error from fn aborts the update and is returned
// as is. Updated is set to now. Leaving the active states frees the nonce.
func (db *DB) UpdateTransfer(id string, fn func(*Transfer) error) (Transfer, error) {
	var out Transfer
	err := db.update(func(tx *Tx) error {
		var err error
		out, err = tx.UpdateTransfer(id, fn)
		return err
	})
	return out, err
}

// TransfersByOwner returns up to limit transfers of the user, newest first,
// skipping the offset newest.
func (db *DB) TransfersByOwner(owner int64, limit, offset int) ([]Transfer, error) {
	return read(db, func(tx *Tx) ([]Transfer, error) { return tx.TransfersByOwner(owner, limit, offset) })
}

// TransfersInState returns every transfer in one of the given states,
// oldest first: the tracker's work list and what to resume after a restart.
func (db *DB) TransfersInState(states ...State) ([]Transfer, error) {
	return read(db, func(tx *Tx) ([]Transfer, error) { return tx.TransfersInState(states...) })
}

// ActiveNonces returns the nonces held by active (built, approved, sent)
// transfers of the wallet from, ascending. The parent takes the lowest
// nonce from the chain's pending nonce up that none of them holds.
func (db *DB) ActiveNonces(from common.Address) ([]uint64, error) {
	return read(db, func(tx *Tx) ([]uint64, error) { return tx.ActiveNonces(from) })
}

// CreateTransfer: see DB.CreateTransfer.
func (tx *Tx) CreateTransfer(t Transfer) (Transfer, error) {
	t = t.clone()
	if t.State == 0 {
		t.State = StateBuilt
	}
	if t.Created.IsZero() {
		t.Created = tx.now
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
	w, err := tx.WalletByOwner(t.Owner)
	if err != nil {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if w.Address != t.From {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w: sender %s is not the wallet %s of user %d", t.ID, ErrInvalid, t.From, w.Address, t.Owner)
	}
	transfers := tx.tx.Bucket(bucketTransfers)
	if transfers.Get([]byte(t.ID)) != nil {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, ErrTransferExists)
	}
	nonces := tx.tx.Bucket(bucketTransferNonces)
	nk := nonceKey(t.From, t.Nonce)
	if ref := nonces.Get(nk); ref != nil {
		holder, _ := decodeIDRef(ref)
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w: nonce %d of %s is held by transfer %q", t.ID, ErrNonceInUse, t.Nonce, t.From, holder)
	}
	if err := transfers.Put([]byte(t.ID), encodeTransfer(&t)); err != nil {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if err := tx.tx.Bucket(bucketTransfersByOwner).Put(ownerIndexKey(t.Owner, t.Created, t.ID), nil); err != nil {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if err := tx.tx.Bucket(bucketTransfersByState).Put(stateIndexKey(t.State, t.ID), nil); err != nil {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if err := nonces.Put(nk, encodeIDRef(t.ID)); err != nil {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	return t, nil
}

// Transfer: see DB.Transfer.
func (tx *Tx) Transfer(id string) (Transfer, error) {
	raw := tx.tx.Bucket(bucketTransfers).Get([]byte(id))
	if raw == nil {
		return Transfer{}, fmt.Errorf("storage: transfer %q: %w", id, ErrNotFound)
	}
	t, err := decodeTransfer(raw)
	if err != nil {
		return Transfer{}, fmt.Errorf("storage: transfer %q: %w", id, err)
	}
	return t, nil
}

func bigEqual(a, b *big.Int) bool {
	if a == nil {
		a = new(big.Int)
	}
	if b == nil {
		b = new(big.Int)
	}
	return a.Cmp(b) == 0
}

// checkChange enforces the transition table and the fixed fields.
func checkChange(old, t *Transfer) error {
	if t.State != old.State && !old.State.CanBecome(t.State) {
		return fmt.Errorf("%w: %s -> %s is not allowed", ErrInvalidTransition, old.State, t.State)
	}
	fixed := []struct {
		name string
		same bool
	}{
		{"id", t.ID == old.ID},
		{"owner", t.Owner == old.Owner},
		{"chain id", t.ChainID == old.ChainID},
		{"from", t.From == old.From},
		{"to", t.To == old.To},
		{"token", t.Token == old.Token},
		{"amount", bigEqual(t.Amount, old.Amount)},
		{"nonce", t.Nonce == old.Nonce},
		{"max fee", bigEqual(t.MaxFee, old.MaxFee)},
		{"intent", bytes.Equal(t.Intent, old.Intent)},
		{"start param", t.StartParam == old.StartParam},
		{"expiry", t.Expiry.Equal(old.Expiry)},
		{"created", t.Created.Equal(old.Created)},
	}
	for _, f := range fixed {
		if !f.same {
			return fmt.Errorf("%w: %s may not change", ErrInvalidTransition, f.name)
		}
	}
	if len(old.SignedTx) != 0 && !bytes.Equal(t.SignedTx, old.SignedTx) {
		return fmt.Errorf("%w: the signed transaction may not change once stored", ErrInvalidTransition)
	}
	if len(old.SignedTx) == 0 && len(t.SignedTx) != 0 && !(old.State == StateBuilt && t.State == StateApproved) {
		return fmt.Errorf("%w: the signed transaction is stored only on approval", ErrInvalidTransition)
	}
	if old.TxHash != (common.Hash{}) && t.TxHash != old.TxHash {
		return fmt.Errorf("%w: the transaction hash may not change once stored", ErrInvalidTransition)
	}
	return nil
}

// UpdateTransfer: see DB.UpdateTransfer.
func (tx *Tx) UpdateTransfer(id string, fn func(*Transfer) error) (Transfer, error) {
	old, err := tx.Transfer(id)
	if err != nil {
		return Transfer{}, err
	}
	t := old.clone()
	if err := fn(&t); err != nil {
		return Transfer{}, err
	}
	if err := checkChange(&old, &t); err != nil {
		return Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
	}
	t.Updated = tx.now
	if err := t.validate(); err != nil {
		return Transfer{}, fmt.Errorf("storage: update transfer %q (%s -> %s): %w", id, old.State, t.State, err)
	}
	if err := tx.tx.Bucket(bucketTransfers).Put([]byte(id), encodeTransfer(&t)); err != nil {
		return Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
	}
	if t.State != old.State {
		byState := tx.tx.Bucket(bucketTransfersByState)
		if err := byState.Delete(stateIndexKey(old.State, id)); err != nil {
			return Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
		}
		if err := byState.Put(stateIndexKey(t.State, id), nil); err != nil {
			return Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
		}
		if old.State.Active() && !t.State.Active() {
			nonces := tx.tx.Bucket(bucketTransferNonces)
			nk := nonceKey(t.From, t.Nonce)
			if ref := nonces.Get(nk); ref != nil {
				if holder, err := decodeIDRef(ref); err == nil && holder == id {
					if err := nonces.Delete(nk); err != nil {
						return Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
					}
				}
			}
		}
	}
	return t, nil
}

// TransfersByOwner: see DB.TransfersByOwner.
func (tx *Tx) TransfersByOwner(owner int64, limit, offset int) ([]Transfer, error) {
	if limit <= 0 || offset < 0 {
		return nil, fmt.Errorf("storage: transfers of user %d: %w: limit %d, offset %d", owner, ErrInvalid, limit, offset)
	}
	prefix := ownerKey(owner)
	c := tx.tx.Bucket(bucketTransfersByOwner).Cursor()
	// Start after the last key of this owner and walk backwards.
	k, _ := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(owner)+1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	var out []Transfer
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if offset > 0 {
			offset--
			continue
		}
		if len(k) <= 16 {
			return nil, fmt.Errorf("storage: transfers of user %d: %w: index key %x", owner, ErrCorrupt, k)
		}
		t, err := tx.Transfer(string(k[16:]))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// TransfersInState: see DB.TransfersInState.
func (tx *Tx) TransfersInState(states ...State) ([]Transfer, error) {
	var out []Transfer
	c := tx.tx.Bucket(bucketTransfersByState).Cursor()
	var seen [StateExpired + 1]bool
	for _, s := range states {
		if !s.Valid() {
			return nil, fmt.Errorf("storage: transfers in state: %w: %s", ErrInvalid, s)
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		prefix := []byte{byte(s)}
		for k, _ := c.Seek(prefix); k != nil && k[0] == byte(s); k, _ = c.Next() {
			t, err := tx.Transfer(string(k[1:]))
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Transfer) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// ActiveNonces: see DB.ActiveNonces.
func (tx *Tx) ActiveNonces(from common.Address) ([]uint64, error) {
	var out []uint64
	c := tx.tx.Bucket(bucketTransferNonces).Cursor()
	for k, _ := c.Seek(from[:]); k != nil && bytes.HasPrefix(k, from[:]); k, _ = c.Next() {
		if len(k) != common.AddressLength+8 {
			return nil, fmt.Errorf("storage: active nonces of %s: %w: index key %x", from, ErrCorrupt, k)
		}
		out = append(out, binary.BigEndian.Uint64(k[common.AddressLength:]))
	}
	return out, nil
}
