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
	StateFailed    State = 5 // mined with status 0 (reverted, the fee was paid); Reason set (final)
	StateCancelled State = 6 // the user tapped Cancel before approving (final)
	StateExpired   State = 7 // the intent expired before approval (final)
	// Added in transfer format v2 (a v1 record never holds them).
	StateReplaced   State = 8 // signed, but another transaction at its nonce was mined: not paid (final)
	StateSuperseded State = 9 // built, then a newer request of the wallet took its nonce (final)
)

// lastState is the highest state number; lastStateV1 the highest a v1
// record may hold.
const (
	lastState   = StateSuperseded
	lastStateV1 = StateExpired
)

var stateNames = [...]string{
	StateBuilt: "built", StateApproved: "approved", StateSent: "sent",
	StateConfirmed: "confirmed", StateFailed: "failed",
	StateCancelled: "cancelled", StateExpired: "expired",
	StateReplaced: "replaced", StateSuperseded: "superseded",
}

// Kind says what a transfer is for. The numbers are stored (v2): never
// renumber.
type Kind uint8

const (
	// KindTransfer: an ordinary transfer the user asked for.
	KindTransfer Kind = 0
	// KindReplacement: zero value to the wallet itself at the nonce of a
	// signed transfer (Replaces) that the network has not included, with
	// higher fees: if it is mined first, that transfer can never be.
	KindReplacement Kind = 1
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k <= KindReplacement }

// transitions is the table of allowed state changes; docs/storage.md has the
// same table. Staying in the same state (to update mutable fields) is always
// allowed.
//
// A signed transfer (approved, sent) leaves the open states only from the
// chain: mined (confirmed, or failed when it reverted) or another
// transaction at its nonce mined (replaced). Nothing a node says about a
// broadcast ends it, since the signed transaction stays valid and may still
// be mined; sent -> approved is the way back when the node lost it.
var transitions = map[State][]State{
	StateBuilt:      {StateApproved, StateCancelled, StateExpired, StateSuperseded},
	StateApproved:   {StateSent, StateConfirmed, StateFailed, StateReplaced},
	StateSent:       {StateApproved, StateConfirmed, StateFailed, StateReplaced},
	StateConfirmed:  nil,
	StateFailed:     nil,
	StateCancelled:  nil,
	StateExpired:    nil,
	StateReplaced:   nil,
	StateSuperseded: nil,
}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return s >= StateBuilt && s <= lastState }

// Active reports whether a transfer in state s holds its nonce: it may
// still be, or has been, broadcast and is not known to be final.
func (s State) Active() bool { return s == StateBuilt || s == StateApproved || s == StateSent }

// Signed reports whether a transfer in state s is signed and not final: its
// transaction may be mined at any time.
func (s State) Signed() bool { return s == StateApproved || s == StateSent }

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
	Reason   string      // why it failed, expired, was cancelled or replaced; or why the network has not accepted it yet

	// Added in format v2; fixed after creation.
	Kind     Kind   // KindTransfer or KindReplacement
	Replaces string // a replacement: the id of the signed transfer whose nonce it takes

	// Added in format v3 (schema 3).
	// L1Fee is the L1 data fee estimated at build on an OP-stack network
	// (read from its GasPriceOracle), in wei; nil or zero: none. Fixed
	// after creation. It is an estimate, not a bound: the network charges
	// it at inclusion from the L1 fee of that moment.
	L1Fee *big.Int
	// FeePaid is what the transaction cost in the native coin once mined
	// (gas used x effective gas price, plus the L1 data fee the receipt
	// reports on an OP-stack network); nil until then. Set once.
	FeePaid *big.Int

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
	t.L1Fee = cloneBig(t.L1Fee)
	t.FeePaid = cloneBig(t.FeePaid)
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
	case !t.Kind.Valid():
		return fmt.Errorf("%w: transfer kind %d", ErrInvalid, t.Kind)
	case t.Kind == KindTransfer && t.Replaces != "":
		return fmt.Errorf("%w: an ordinary transfer replaces nothing", ErrInvalid)
	case t.Kind == KindReplacement && (t.Replaces == "" || len(t.Replaces) > maxIDLen || t.To != t.From || (t.Amount != nil && t.Amount.Sign() != 0)):
		return fmt.Errorf("%w: a replacement sends zero to its own wallet and names the transfer it replaces", ErrInvalid)
	case t.Created.UnixNano() <= 0:
		return fmt.Errorf("%w: transfer created time %s", ErrInvalid, t.Created)
	}
	for _, f := range []struct {
		name string
		v    *big.Int
	}{{"amount", t.Amount}, {"max fee", t.MaxFee}, {"L1 fee", t.L1Fee}, {"fee paid", t.FeePaid}} {
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
	case StateFailed, StateReplaced, StateSuperseded:
		if strings.TrimSpace(t.Reason) == "" {
			return fmt.Errorf("%w: a %s transfer needs a reason", ErrInvalidTransition, t.State)
		}
	}
	if t.State == StateReplaced && len(t.SignedTx) == 0 {
		return fmt.Errorf("%w: only a signed transfer can be replaced", ErrInvalidTransition)
	}
	return nil
}

// encodeTransfer writes the current format, v2: the v1 fields (id, owner,
// chat id, message id, chain id, from, to, token, amount, nonce, max fee,
// intent, start param, state, signed tx, tx hash, block, reason, created,
// updated, expiry), then kind and replaces (docs/storage.md has the table
// of field encodings).
func encodeTransfer(t *Transfer) []byte { return encodeTransferAs(t, transferV3) }

// encodeTransferAs writes version v (v1 and v2 only for tests of old
// records: they cannot hold the later fields). v3 adds the L1 fee and the
// fee paid.
func encodeTransferAs(t *Transfer, v byte) []byte {
	e := encoder{b: make([]byte, 0, 200+len(t.ID)+len(t.Intent)+len(t.StartParam)+len(t.SignedTx)+len(t.Reason)+len(t.Replaces))}
	e.byte(v)
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
	if v >= transferV2 {
		e.byte(byte(t.Kind))
		e.string(t.Replaces)
	}
	if v >= transferV3 {
		e.big(t.L1Fee)
		e.big(t.FeePaid)
	}
	return e.b
}

func decodeTransfer(b []byte) (Transfer, error) {
	d := decoder{b: b, what: "transfer"}
	var t Transfer
	// v1 records (written before replacements existed) keep decoding: kind
	// ordinary, no replaced transfer, and only the v1 states.
	v := d.byte("version")
	if d.err == nil && (v < transferV1 || v > transferV3) {
		d.fail("unknown format version %d (this program reads %d to %d)", v, transferV1, transferV3)
	}
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
	if d.err == nil && (!t.State.Valid() || (v == transferV1 && t.State > lastStateV1)) {
		d.fail("unknown state %d", t.State)
	}
	t.SignedTx = d.bytes("signed tx")
	t.TxHash = d.hash("tx hash")
	t.Block = d.uvarint("block")
	t.Reason = d.string("reason")
	t.Created = d.time("created")
	t.Updated = d.time("updated")
	t.Expiry = d.time("expiry")
	if v >= transferV2 {
		t.Kind = Kind(d.byte("kind"))
		if d.err == nil && !t.Kind.Valid() {
			d.fail("unknown kind %d", t.Kind)
		}
		t.Replaces = d.string("replaces")
		if d.err == nil && (t.Kind == KindReplacement) != (t.Replaces != "") {
			d.fail("kind %d with replaces %q", t.Kind, t.Replaces)
		}
	}
	if v >= transferV3 {
		// Zero is stored as nothing and read back as nil: "no fee".
		if t.L1Fee = d.big("L1 fee"); t.L1Fee.Sign() == 0 {
			t.L1Fee = nil
		}
		if t.FeePaid = d.big("fee paid"); t.FeePaid.Sign() == 0 {
			t.FeePaid = nil
		}
	}
	if err := d.finish(); err != nil {
		return Transfer{}, err
	}
	return t, nil
}

// CreateTransfer stores a new transfer in state built (State must be zero
// or StateBuilt). From must be the owner's wallet. It fails with
// ErrTransferExists if the id is taken and with ErrNonceInUse if another
// active transfer of the wallet holds the nonce. A replacement instead needs
// its nonce held by the signed open transfer it names (ErrInvalid
// otherwise), and holds no index entry of its own. Created and Updated
// default to now. It returns the stored transfer.
func (db *DB) CreateTransfer(t Transfer) (Transfer, error) {
	return write(db, func(tx *boltTx) (Transfer, error) { return tx.CreateTransfer(t) })
}

// Transfer returns the transfer with that id, or ErrNotFound.
func (db *DB) Transfer(id string) (Transfer, error) {
	return read(db, func(tx *boltTx) (Transfer, error) { return tx.Transfer(id) })
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
	err := db.update(func(tx *boltTx) error {
		var err error
		out, err = tx.UpdateTransfer(id, fn)
		return err
	})
	return out, err
}

// TransfersByOwner returns up to limit transfers of the user, newest first,
// skipping the offset newest.
func (db *DB) TransfersByOwner(owner int64, limit, offset int) ([]Transfer, error) {
	return read(db, func(tx *boltTx) ([]Transfer, error) { return tx.TransfersByOwner(owner, limit, offset) })
}

// TransfersInState returns every transfer in one of the given states,
// oldest first: the tracker's work list and what to resume after a restart.
func (db *DB) TransfersInState(states ...State) ([]Transfer, error) {
	return read(db, func(tx *boltTx) ([]Transfer, error) { return tx.TransfersInState(states...) })
}

// ActiveNonces returns the nonces held by active (built, approved, sent)
// transfers of the wallet from on chain chainID, ascending. Nonces are per
// chain: the same address has its own sequence on every network.
func (db *DB) ActiveNonces(chainID uint64, from common.Address) ([]uint64, error) {
	return read(db, func(tx *boltTx) ([]uint64, error) { return tx.ActiveNonces(chainID, from) })
}

// NonceHolders returns the open (built, approved, sent) transfers that hold
// a nonce of the wallet from on chain chainID, by ascending nonce.
// Replacements share their original's nonce and are not listed.
func (db *DB) NonceHolders(chainID uint64, from common.Address) ([]Transfer, error) {
	return read(db, func(tx *boltTx) ([]Transfer, error) { return tx.NonceHolders(chainID, from) })
}

// CreateTransfer: see DB.CreateTransfer.
func (tx *boltTx) CreateTransfer(t Transfer) (Transfer, error) {
	t, err := PrepareTransfer(t, tx.now) // engine.go: shared with storage/postgres
	if err != nil {
		return Transfer{}, err
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
	nk := nonceKey(t.ChainID, t.From, t.Nonce)
	holder := ""
	if ref := nonces.Get(nk); ref != nil {
		holder, _ = decodeIDRef(ref)
	}
	if t.Kind == KindReplacement {
		// A replacement shares the nonce of the signed transfer it
		// replaces, which keeps holding it in the index (it is the one
		// the next build counts).
		orig, err := tx.Transfer(t.Replaces)
		if err != nil {
			return Transfer{}, fmt.Errorf("storage: create transfer %q: the replaced transfer: %w", t.ID, err)
		}
		if holder != orig.ID || !orig.State.Signed() || orig.ChainID != t.ChainID || orig.From != t.From || orig.Nonce != t.Nonce || orig.Kind != KindTransfer {
			return Transfer{}, fmt.Errorf("storage: create transfer %q: %w: %q is not a signed open transfer holding nonce %d of %s",
				t.ID, ErrInvalid, t.Replaces, t.Nonce, t.From)
		}
	} else if holder != "" {
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
	if t.Kind == KindReplacement {
		return t, nil
	}
	if err := nonces.Put(nk, encodeIDRef(t.ID)); err != nil {
		return Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	return t, nil
}

// Transfer: see DB.Transfer.
func (tx *boltTx) Transfer(id string) (Transfer, error) {
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
		{"L1 fee", bigEqual(t.L1Fee, old.L1Fee)},
		{"intent", bytes.Equal(t.Intent, old.Intent)},
		{"start param", t.StartParam == old.StartParam},
		{"expiry", t.Expiry.Equal(old.Expiry)},
		{"created", t.Created.Equal(old.Created)},
		{"kind", t.Kind == old.Kind},
		{"replaces", t.Replaces == old.Replaces},
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
	// Failed is a fact of the chain (mined and reverted), never a node's
	// refusal: the signed transaction could still be mined.
	if t.State == StateFailed && old.State != StateFailed && t.Block == 0 {
		return fmt.Errorf("%w: a transfer fails only when its transaction is mined and reverted (no block given)", ErrInvalidTransition)
	}
	if old.FeePaid != nil && !bigEqual(t.FeePaid, old.FeePaid) {
		return fmt.Errorf("%w: the fee paid may not change once stored", ErrInvalidTransition)
	}
	if old.TxHash != (common.Hash{}) && t.TxHash != old.TxHash {
		return fmt.Errorf("%w: the transaction hash may not change once stored", ErrInvalidTransition)
	}
	return nil
}

// UpdateTransfer: see DB.UpdateTransfer.
func (tx *boltTx) UpdateTransfer(id string, fn func(*Transfer) error) (Transfer, error) {
	old, err := tx.Transfer(id)
	if err != nil {
		return Transfer{}, err
	}
	t := old.clone()
	if err := fn(&t); err != nil {
		return Transfer{}, err
	}
	if err := CheckTransferUpdate(&old, &t, tx.now); err != nil { // engine.go: shared with storage/postgres
		return Transfer{}, err
	}
	if err := tx.tx.Bucket(bucketTransfers).Put([]byte(id), encodeTransfer(&t)); err != nil {
		return Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
	}
	// The card edit is queued with the change itself (cards.go): whichever
	// parent moved the transfer, the edit is neither lost nor doubled.
	if CardEditDue(&old, &t) {
		if err := tx.queueCardEdit(&t); err != nil {
			return Transfer{}, err
		}
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
			nk := nonceKey(t.ChainID, t.From, t.Nonce)
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
func (tx *boltTx) TransfersByOwner(owner int64, limit, offset int) ([]Transfer, error) {
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
func (tx *boltTx) TransfersInState(states ...State) ([]Transfer, error) {
	var out []Transfer
	c := tx.tx.Bucket(bucketTransfersByState).Cursor()
	var seen [lastState + 1]bool
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

// NonceHolders: see DB.NonceHolders.
func (tx *boltTx) NonceHolders(chainID uint64, from common.Address) ([]Transfer, error) {
	var out []Transfer
	prefix := noncePrefix(chainID, from)
	c := tx.tx.Bucket(bucketTransferNonces).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		id, err := decodeIDRef(v)
		if err != nil {
			return nil, fmt.Errorf("storage: nonce holders of %s: %w", from, err)
		}
		t, err := tx.Transfer(id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// ActiveNonces: see DB.ActiveNonces.
func (tx *boltTx) ActiveNonces(chainID uint64, from common.Address) ([]uint64, error) {
	var out []uint64
	prefix := noncePrefix(chainID, from)
	c := tx.tx.Bucket(bucketTransferNonces).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != nonceKeyLen {
			return nil, fmt.Errorf("storage: active nonces of %s on chain %d: %w: index key %x", from, chainID, ErrCorrupt, k)
		}
		out = append(out, binary.BigEndian.Uint64(k[len(prefix):]))
	}
	return out, nil
}
