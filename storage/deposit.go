package storage

// Incoming funds (issue 10): the deposits the watcher found in confirmed
// blocks, the outbox of alerts not yet delivered and the watcher's cursor per
// chain. StoreWatchedBlocks writes a range of blocks' deposits, their alerts
// and the cursor in ONE transaction: after a crash either all of it is stored
// (the alerts wait in the outbox) or none of it (the blocks are scanned
// again). That is the exactly-once argument of docs/watcher.md.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/autowallet/autowallet/storage/internal/codec"
	"github.com/ethereum/go-ethereum/common"
)

const (
	depositV1 byte = 1
	cursorV1  byte = 1
)

// NativeLogIndex is the LogIndex of a native-coin deposit (a top-level
// transaction's value has no log): one such deposit per transaction.
const NativeLogIndex uint32 = math.MaxUint32

// MaxCursorHashes is how many recent block hashes a WatchCursor keeps (the
// watcher uses them to find where a reorg deeper than the confirmation
// depth forked off).
const MaxCursorHashes = 256

// Deposit is money that arrived at one of our wallets in a confirmed block:
// a native transfer (Token zero, LogIndex NativeLogIndex) or an ERC-20
// Transfer event of a listed token.
type Deposit struct {
	ChainID  uint64
	Token    common.Address // zero = the network's native coin
	From, To common.Address
	Owner    int64 // the Telegram user whose wallet To is
	Amount   *big.Int
	TxHash   common.Hash
	LogIndex uint32 // the log's index in its block; NativeLogIndex for native
	Block    uint64
	Time     time.Time // the block's timestamp
}

// Native reports whether the deposit is of the native coin.
func (d *Deposit) Native() bool { return d.Token == (common.Address{}) }

// Key is the deposit's storage key: chain id, tx hash, log index.
func (d *Deposit) Key() []byte {
	k := make([]byte, 0, 44)
	k = binary.BigEndian.AppendUint64(k, d.ChainID)
	k = append(k, d.TxHash[:]...)
	return binary.BigEndian.AppendUint32(k, d.LogIndex)
}

func (d *Deposit) validate() error {
	switch {
	case d.ChainID == 0:
		return fmt.Errorf("%w: deposit chain id is 0", ErrInvalid)
	case d.Owner <= 0:
		return fmt.Errorf("%w: deposit owner %d", ErrInvalid, d.Owner)
	case d.To == (common.Address{}):
		return fmt.Errorf("%w: deposit recipient is zero", ErrInvalid)
	case d.Amount == nil || d.Amount.Sign() <= 0:
		return fmt.Errorf("%w: deposit amount must be positive", ErrInvalid)
	case d.TxHash == (common.Hash{}):
		return fmt.Errorf("%w: deposit tx hash is zero", ErrInvalid)
	case d.Native() != (d.LogIndex == NativeLogIndex):
		return fmt.Errorf("%w: deposit log index %d does not match its token %s", ErrInvalid, d.LogIndex, d.Token)
	case d.Time.IsZero():
		return fmt.Errorf("%w: deposit has no time", ErrInvalid)
	}
	if err := checkBig("amount", d.Amount); err != nil {
		return err
	}
	return checkTime("time", d.Time)
}

// encodeDeposit: version 1, chain id uvarint, token (20), from (20), to
// (20), owner uvarint, amount (big), tx hash (32), log index uvarint, block
// uvarint, time (varint ns).
func encodeDeposit(d *Deposit) []byte {
	e := codec.Encoder{B: make([]byte, 0, 150)}
	e.Byte(depositV1)
	e.Uvarint(d.ChainID)
	e.Address(d.Token)
	e.Address(d.From)
	e.Address(d.To)
	e.Uvarint(uint64(d.Owner))
	e.Big(d.Amount)
	e.Hash(d.TxHash)
	e.Uvarint(uint64(d.LogIndex))
	e.Uvarint(d.Block)
	e.Time(d.Time)
	return e.B
}

func decodeDeposit(b []byte) (Deposit, error) {
	dec := codec.Decoder{B: b, What: "deposit"}
	var d Deposit
	dec.Version(depositV1)
	d.ChainID = dec.Uvarint("chain id")
	d.Token = dec.Address("token")
	d.From = dec.Address("from")
	d.To = dec.Address("to")
	d.Owner = dec.Owner("owner")
	d.Amount = dec.Big("amount")
	d.TxHash = dec.Hash("tx hash")
	li := dec.Uvarint("log index")
	if dec.Err == nil && li > math.MaxUint32 {
		dec.Fail("log index %d out of range", li)
	}
	d.LogIndex = uint32(li)
	d.Block = dec.Uvarint("block")
	d.Time = dec.Time("time")
	if err := dec.Finish(); err != nil {
		return Deposit{}, err
	}
	return d, nil
}

// WatchCursor is where the watcher of one chain stands: Block is the last
// block it processed, Hashes the hashes of the last len(Hashes) processed
// blocks, oldest first, ending with Block's (at most MaxCursorHashes).
type WatchCursor struct {
	ChainID uint64
	Block   uint64
	Hashes  []common.Hash
}

// Hash returns the stored hash of block n, if the cursor still has it.
func (c *WatchCursor) Hash(n uint64) (common.Hash, bool) {
	if n > c.Block || c.Block-n >= uint64(len(c.Hashes)) {
		return common.Hash{}, false
	}
	return c.Hashes[uint64(len(c.Hashes))-1-(c.Block-n)], true
}

func encodeCursor(c *WatchCursor) []byte {
	e := codec.Encoder{B: make([]byte, 0, 12+32*len(c.Hashes))}
	e.Byte(cursorV1)
	e.Uvarint(c.Block)
	e.Uvarint(uint64(len(c.Hashes)))
	for _, h := range c.Hashes {
		e.Hash(h)
	}
	return e.B
}

func decodeCursor(chainID uint64, b []byte) (WatchCursor, error) {
	d := codec.Decoder{B: b, What: "watch cursor"}
	c := WatchCursor{ChainID: chainID}
	d.Version(cursorV1)
	c.Block = d.Uvarint("block")
	n := d.Uvarint("hash count")
	if d.Err == nil && (n == 0 || n > MaxCursorHashes || n > c.Block+1) {
		d.Fail("%d hashes", n)
	}
	for i := uint64(0); d.Err == nil && i < n; i++ {
		c.Hashes = append(c.Hashes, d.Hash("hash"))
	}
	if err := d.Finish(); err != nil {
		return WatchCursor{}, err
	}
	return c, nil
}

func chainKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// Alert is an outbox entry: a deposit whose message is not delivered yet.
type Alert struct {
	Seq     uint64 // order of finding; alerts are delivered by ascending Seq
	Deposit Deposit
}
