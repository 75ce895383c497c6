package storage

import (
	"bytes"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/autowallet/autowallet/storage/internal/codec"
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
	e := codec.Encoder{B: make([]byte, 0, 200+len(t.ID)+len(t.Intent)+len(t.StartParam)+len(t.SignedTx)+len(t.Reason)+len(t.Replaces))}
	e.Byte(v)
	e.String(t.ID)
	e.Uvarint(uint64(t.Owner))
	e.Varint(t.ChatID)
	e.Varint(int64(t.MessageID))
	e.Uvarint(t.ChainID)
	e.Address(t.From)
	e.Address(t.To)
	e.Address(t.Token)
	e.Big(t.Amount)
	e.Uvarint(t.Nonce)
	e.Big(t.MaxFee)
	e.Bytes(t.Intent)
	e.String(t.StartParam)
	e.Byte(byte(t.State))
	e.Bytes(t.SignedTx)
	e.Hash(t.TxHash)
	e.Uvarint(t.Block)
	e.String(t.Reason)
	e.Time(t.Created)
	e.Time(t.Updated)
	e.Time(t.Expiry)
	if v >= transferV2 {
		e.Byte(byte(t.Kind))
		e.String(t.Replaces)
	}
	if v >= transferV3 {
		e.Big(t.L1Fee)
		e.Big(t.FeePaid)
	}
	return e.B
}

func decodeTransfer(b []byte) (Transfer, error) {
	d := codec.Decoder{B: b, What: "transfer"}
	var t Transfer
	// v1 records (written before replacements existed) keep decoding: kind
	// ordinary, no replaced transfer, and only the v1 states.
	v := d.Byte("version")
	if d.Err == nil && (v < transferV1 || v > transferV3) {
		d.Fail("unknown format version %d (this program reads %d to %d)", v, transferV1, transferV3)
	}
	t.ID = d.String("id")
	if d.Err == nil && (t.ID == "" || len(t.ID) > maxIDLen) {
		d.Fail("id must be 1..%d bytes", maxIDLen)
	}
	t.Owner = d.Owner("owner")
	t.ChatID = d.Varint("chat id")
	msg := d.Varint("message id")
	t.MessageID = int(msg)
	if d.Err == nil && int64(t.MessageID) != msg {
		d.Fail("message id %d does not fit in int", msg)
	}
	t.ChainID = d.Uvarint("chain id")
	t.From = d.Address("from")
	t.To = d.Address("to")
	t.Token = d.Address("token")
	t.Amount = d.Big("amount")
	t.Nonce = d.Uvarint("nonce")
	t.MaxFee = d.Big("max fee")
	t.Intent = d.Bytes("intent")
	t.StartParam = d.String("start param")
	t.State = State(d.Byte("state"))
	if d.Err == nil && (!t.State.Valid() || (v == transferV1 && t.State > lastStateV1)) {
		d.Fail("unknown state %d", t.State)
	}
	t.SignedTx = d.Bytes("signed tx")
	t.TxHash = d.Hash("tx hash")
	t.Block = d.Uvarint("block")
	t.Reason = d.String("reason")
	t.Created = d.Time("created")
	t.Updated = d.Time("updated")
	t.Expiry = d.Time("expiry")
	if v >= transferV2 {
		t.Kind = Kind(d.Byte("kind"))
		if d.Err == nil && !t.Kind.Valid() {
			d.Fail("unknown kind %d", t.Kind)
		}
		t.Replaces = d.String("replaces")
		if d.Err == nil && (t.Kind == KindReplacement) != (t.Replaces != "") {
			d.Fail("kind %d with replaces %q", t.Kind, t.Replaces)
		}
	}
	if v >= transferV3 {
		// Zero is stored as nothing and read back as nil: "no fee".
		if t.L1Fee = d.Big("L1 fee"); t.L1Fee.Sign() == 0 {
			t.L1Fee = nil
		}
		if t.FeePaid = d.Big("fee paid"); t.FeePaid.Sign() == 0 {
			t.FeePaid = nil
		}
	}
	if err := d.Finish(); err != nil {
		return Transfer{}, err
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
