package storage

// Incoming funds (issue 10): the deposits the watcher found in confirmed
// blocks, the outbox of alerts not yet delivered and the watcher's cursor per
// chain. StoreWatchedBlocks writes a range of blocks' deposits, their alerts
// and the cursor in ONE transaction: after a crash either all of it is stored
// (the alerts wait in the outbox) or none of it (the blocks are scanned
// again). That is the exactly-once argument of docs/watcher.md.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Buckets of this file (docs/storage.md).
var (
	bucketDeposits        = []byte("deposits")          // chain id (8) + tx hash (32) + log index (4) -> Deposit
	bucketDepositsByOwner = []byte("deposits_by_owner") // owner (8) + block time (8) + deposit key -> nil
	bucketDepositOutbox   = []byte("deposit_outbox")    // sequence (8) -> deposit key
	bucketWatchCursors    = []byte("watch_cursors")     // chain id (8) -> WatchCursor
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
	e := encoder{b: make([]byte, 0, 150)}
	e.byte(depositV1)
	e.uvarint(d.ChainID)
	e.address(d.Token)
	e.address(d.From)
	e.address(d.To)
	e.uvarint(uint64(d.Owner))
	e.big(d.Amount)
	e.hash(d.TxHash)
	e.uvarint(uint64(d.LogIndex))
	e.uvarint(d.Block)
	e.time(d.Time)
	return e.b
}

func decodeDeposit(b []byte) (Deposit, error) {
	dec := decoder{b: b, what: "deposit"}
	var d Deposit
	dec.version(depositV1)
	d.ChainID = dec.uvarint("chain id")
	d.Token = dec.address("token")
	d.From = dec.address("from")
	d.To = dec.address("to")
	d.Owner = dec.owner("owner")
	d.Amount = dec.big("amount")
	d.TxHash = dec.hash("tx hash")
	li := dec.uvarint("log index")
	if dec.err == nil && li > math.MaxUint32 {
		dec.fail("log index %d out of range", li)
	}
	d.LogIndex = uint32(li)
	d.Block = dec.uvarint("block")
	d.Time = dec.time("time")
	if err := dec.finish(); err != nil {
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
	e := encoder{b: make([]byte, 0, 12+32*len(c.Hashes))}
	e.byte(cursorV1)
	e.uvarint(c.Block)
	e.uvarint(uint64(len(c.Hashes)))
	for _, h := range c.Hashes {
		e.hash(h)
	}
	return e.b
}

func decodeCursor(chainID uint64, b []byte) (WatchCursor, error) {
	d := decoder{b: b, what: "watch cursor"}
	c := WatchCursor{ChainID: chainID}
	d.version(cursorV1)
	c.Block = d.uvarint("block")
	n := d.uvarint("hash count")
	if d.err == nil && (n == 0 || n > MaxCursorHashes || n > c.Block+1) {
		d.fail("%d hashes", n)
	}
	for i := uint64(0); d.err == nil && i < n; i++ {
		c.Hashes = append(c.Hashes, d.hash("hash"))
	}
	if err := d.finish(); err != nil {
		return WatchCursor{}, err
	}
	return c, nil
}

func chainKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// WatchCursor returns the cursor of the chain's watcher, or ErrNotFound on
// a fresh deployment.
func (db *DB) WatchCursor(chainID uint64) (WatchCursor, error) {
	return read(db, func(tx *boltTx) (WatchCursor, error) {
		raw := tx.tx.Bucket(bucketWatchCursors).Get(chainKey(chainID))
		if raw == nil {
			return WatchCursor{}, fmt.Errorf("storage: watch cursor of chain %d: %w", chainID, ErrNotFound)
		}
		c, err := decodeCursor(chainID, raw)
		if err != nil {
			return WatchCursor{}, fmt.Errorf("storage: watch cursor of chain %d: %w", chainID, err)
		}
		return c, nil
	})
}

// StoreWatchedBlocks stores, in one transaction, the deposits found in a
// range of blocks, an outbox entry (alert to deliver) for each deposit not
// stored before, and the chain's new cursor. A deposit already stored (same
// chain, tx hash and log index: the range was scanned again after a reorg)
// is left as it is and gets no second alert. It returns how many deposits
// were new. Every deposit must be of cur's chain.
func (db *DB) StoreWatchedBlocks(cur WatchCursor, deposits []Deposit) (int, error) {
	if cur.ChainID == 0 || len(cur.Hashes) == 0 || len(cur.Hashes) > MaxCursorHashes || uint64(len(cur.Hashes)) > cur.Block+1 {
		return 0, fmt.Errorf("storage: watch cursor: %w: chain %d block %d with %d hashes", ErrInvalid, cur.ChainID, cur.Block, len(cur.Hashes))
	}
	for i := range deposits {
		if err := deposits[i].validate(); err != nil {
			return 0, fmt.Errorf("storage: deposit %s: %w", deposits[i].TxHash, err)
		}
		if deposits[i].ChainID != cur.ChainID || deposits[i].Block > cur.Block {
			return 0, fmt.Errorf("storage: deposit %s: %w: chain %d block %d is not in the cursor's range (chain %d up to %d)",
				deposits[i].TxHash, ErrInvalid, deposits[i].ChainID, deposits[i].Block, cur.ChainID, cur.Block)
		}
	}
	return write(db, func(tx *boltTx) (int, error) {
		all := tx.tx.Bucket(bucketDeposits)
		byOwner := tx.tx.Bucket(bucketDepositsByOwner)
		outbox := tx.tx.Bucket(bucketDepositOutbox)
		added := 0
		for i := range deposits {
			d := &deposits[i]
			key := d.Key()
			if all.Get(key) != nil {
				continue // stored before: announced once already
			}
			if err := all.Put(key, encodeDeposit(d)); err != nil {
				return 0, fmt.Errorf("storage: store deposit: %w", err)
			}
			if err := byOwner.Put(depositOwnerKey(d.Owner, d.Time, key), nil); err != nil {
				return 0, fmt.Errorf("storage: store deposit: %w", err)
			}
			seq, err := outbox.NextSequence()
			if err != nil {
				return 0, fmt.Errorf("storage: store deposit: %w", err)
			}
			if err := outbox.Put(binary.BigEndian.AppendUint64(nil, seq), key); err != nil {
				return 0, fmt.Errorf("storage: store deposit: %w", err)
			}
			added++
		}
		if err := tx.tx.Bucket(bucketWatchCursors).Put(chainKey(cur.ChainID), encodeCursor(&cur)); err != nil {
			return 0, fmt.Errorf("storage: store watch cursor: %w", err)
		}
		return added, nil
	})
}

func depositOwnerKey(owner int64, t time.Time, key []byte) []byte {
	k := make([]byte, 0, 16+len(key))
	k = binary.BigEndian.AppendUint64(k, uint64(owner))
	k = binary.BigEndian.AppendUint64(k, uint64(t.UnixNano()))
	return append(k, key...)
}

// Deposits returns up to limit deposits of the user, newest first (by
// block time), skipping the offset newest.
func (db *DB) Deposits(owner int64, limit, offset int) ([]Deposit, error) {
	if limit <= 0 || offset < 0 {
		return nil, fmt.Errorf("storage: deposits of user %d: %w: limit %d, offset %d", owner, ErrInvalid, limit, offset)
	}
	return read(db, func(tx *boltTx) ([]Deposit, error) {
		prefix := ownerKey(owner)
		c := tx.tx.Bucket(bucketDepositsByOwner).Cursor()
		k, _ := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(owner)+1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		var out []Deposit
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if offset > 0 {
				offset--
				continue
			}
			if len(k) != 16+44 {
				return nil, fmt.Errorf("storage: deposits of user %d: %w: index key %x", owner, ErrCorrupt, k)
			}
			d, err := tx.deposit(k[16:])
			if err != nil {
				return nil, err
			}
			out = append(out, d)
			if len(out) == limit {
				break
			}
		}
		return out, nil
	})
}

func (tx *boltTx) deposit(key []byte) (Deposit, error) {
	raw := tx.tx.Bucket(bucketDeposits).Get(key)
	if raw == nil {
		return Deposit{}, fmt.Errorf("storage: deposit %x: %w", key, ErrNotFound)
	}
	d, err := decodeDeposit(raw)
	if err != nil {
		return Deposit{}, fmt.Errorf("storage: deposit %x: %w", key, err)
	}
	if !bytes.Equal(d.Key(), key) {
		return Deposit{}, fmt.Errorf("storage: deposit %x: %w: stored under another key", key, ErrCorrupt)
	}
	return d, nil
}

// Alert is an outbox entry: a deposit whose message is not delivered yet.
type Alert struct {
	Seq     uint64 // order of finding; alerts are delivered by ascending Seq
	Deposit Deposit
}

// PendingAlerts returns up to limit undelivered alerts, oldest first.
func (db *DB) PendingAlerts(limit int) ([]Alert, error) { return db.PendingAlertsAfter(0, limit) }

// PendingAlertsAfter returns up to limit undelivered alerts with a sequence
// above after, oldest first (a deliverer pages through the outbox with it).
func (db *DB) PendingAlertsAfter(after uint64, limit int) ([]Alert, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("storage: pending alerts: %w: limit %d", ErrInvalid, limit)
	}
	return read(db, func(tx *boltTx) ([]Alert, error) {
		var out []Alert
		c := tx.tx.Bucket(bucketDepositOutbox).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 {
				return nil, fmt.Errorf("storage: pending alerts: %w: key %x", ErrCorrupt, k)
			}
			d, err := tx.deposit(v)
			if err != nil {
				return nil, err
			}
			out = append(out, Alert{Seq: binary.BigEndian.Uint64(k), Deposit: d})
		}
		return out, nil
	})
}

// AlertDelivered removes the alert from the outbox (the message was
// delivered, or given up on). Removing one that is gone is not an error.
func (db *DB) AlertDelivered(seq uint64) error {
	return db.update(func(tx *boltTx) error {
		if err := tx.tx.Bucket(bucketDepositOutbox).Delete(binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return fmt.Errorf("storage: alert %d delivered: %w", seq, err)
		}
		return nil
	})
}

// ForEachWalletAddress calls fn for every wallet address and its owner in
// one read transaction (the watcher's set of watched addresses is loaded
// with it at start). An error from fn stops the walk and is returned.
func (db *DB) ForEachWalletAddress(fn func(addr common.Address, owner int64) error) error {
	return db.view(func(tx *boltTx) error {
		return tx.tx.Bucket(bucketWalletAddresses).ForEach(func(k, v []byte) error {
			if len(k) != common.AddressLength {
				return fmt.Errorf("storage: wallet address key %x: %w", k, ErrCorrupt)
			}
			owner, err := decodeOwnerRef(v)
			if err != nil {
				return fmt.Errorf("storage: wallet address %x: %w", k, err)
			}
			return fn(common.Address(k), owner)
		})
	})
}
