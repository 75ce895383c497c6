// Package bolt is the embedded storage engine: it keeps the host's state
// (package storage's users, wallets with their sealed key records,
// transfers, deposits, chat flows, cards, update claims, leases and a small
// meta bucket) in one bbolt file, for one host. *DB implements storage.Store
// and storage.Copier; storage/postgres is the engine for several hosts, and
// storage/storagetest proves both behave the same. The file layout and the
// value encodings are described in docs/storage.md.
//
// Every change is one bbolt transaction. The package has no globals: a *DB
// carries its own logger and clock. Errors wrap package storage's sentinels
// (storage.ErrNotFound, ...), and ErrLocked of this package for a file
// another process holds.
package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/autowallet/autowallet/storage"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the database file inside the data folder.
const FileName = "autowallet.db"

// SchemaVersion is the layout version this code reads and writes. It is
// stored in the meta bucket; a file with a higher version is refused.
//
// Version 2 added transfer format v2 (replacements, states replaced and
// superseded). A version 1 file is upgraded at open by writing the new
// version only: its v1 records keep decoding as they are. An older program
// then refuses the file (ErrSchemaTooNew) instead of meeting v2 records it
// cannot read.
//
// Version 3 keys the nonce index by chain id + from + nonce (a deployment
// serves several networks, and every network has its own nonces for the
// same address). A version 1 or 2 file is upgraded at open, in one write
// transaction: the nonce index is rebuilt from the active transfers and
// every bucket of allBuckets that is missing is created (buckets added
// later without a version change, too).
const SchemaVersion uint64 = 3

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// ErrLocked: another process holds the database file (Open waited
// Options.Timeout for its lock).
var ErrLocked = errors.New("database file is locked by another process")

// Bucket names. They are part of the file format (docs/storage.md).
var (
	bucketUsers            = []byte("users")              // user id (8 BE) -> User
	bucketWallets          = []byte("wallets")            // owner id (8 BE) -> Wallet
	bucketWalletAddresses  = []byte("wallet_addresses")   // address (20) -> owner
	bucketTransfers        = []byte("transfers")          // id -> Transfer
	bucketTransfersByOwner = []byte("transfers_by_owner") // owner (8 BE) + created (8 BE) + id -> nil
	bucketTransfersByState = []byte("transfers_by_state") // state (1) + id -> nil
	bucketTransferNonces   = []byte("transfer_nonces")    // chain id (8 BE) + from (20) + nonce (8 BE) -> transfer id
	bucketMeta             = []byte("meta")               // key -> value

	allBuckets = [][]byte{
		bucketUsers, bucketWallets, bucketWalletAddresses, bucketTransfers,
		bucketTransfersByOwner, bucketTransfersByState, bucketTransferNonces, bucketMeta,
		// deposit.go (issue 10): incoming funds, their alert outbox and the
		// watcher's cursor per chain.
		bucketDeposits, bucketDepositsByOwner, bucketDepositOutbox, bucketWatchCursors,
		// flows.go (issue 11): the bot's conversation state per chat.
		bucketFlows,
		// coordination.go (issue 11): Telegram updates claimed once, leases.
		bucketUpdates, bucketLeases,
		// cards.go (issue 11): card edits queued with state changes, the
		// users' wallet cards.
		bucketCardEdits, bucketWalletCards,
	}
)

// metaSchemaKey holds the schema version in the meta bucket.
var metaSchemaKey = []byte("schema_version")

// Options tune Open. The zero value is usable.
type Options struct {
	// Timeout is how long to wait for the file lock; zero means
	// DefaultTimeout. A negative value means do not wait at all.
	Timeout time.Duration
	// Logger receives the few events worth logging (file created, mode
	// tightened). Nil discards them.
	Logger *slog.Logger
	// Now is the clock used for Created/Updated; nil means time.Now.
	Now func() time.Time
}

// DB is the open database. Its methods are safe for concurrent use.
type DB struct {
	bdb    *bbolt.DB
	path   string
	logger *slog.Logger
	now    func() time.Time
	slots  sendSlots // sendslots.go: Telegram's limits, in memory (one host)

	batcher batcher // group commit of independent writes (batch.go)
}

// The bbolt engine is a Store.
var _ storage.Store = (*DB)(nil)

// Open opens (or creates) the database file FileName in the data folder dir.
// See OpenFile.
func Open(dir string, opts Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: create data folder: %w", err)
	}
	return OpenFile(filepath.Join(dir, FileName), opts)
}

// OpenFile opens (or creates) the database file at path with mode 0600. It
// waits at most opts.Timeout for the file lock and fails with ErrLocked if
// another process holds it. A fresh file gets SchemaVersion; a file with a
// newer schema is refused with ErrSchemaTooNew and left untouched.
func OpenFile(path string, opts Options) (*DB, error) {
	db := &DB{path: path, logger: opts.Logger, now: opts.Now}
	if db.logger == nil {
		db.logger = slog.New(slog.DiscardHandler)
	}
	if db.now == nil {
		db.now = time.Now
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = time.Nanosecond // bbolt: zero would wait forever
	}

	fi, statErr := os.Stat(path)
	fresh := errors.Is(statErr, os.ErrNotExist)
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("storage: open %s: %w (waited %s for the lock; is another autowallet running?)", path, ErrLocked, timeout)
		}
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	db.bdb = bdb
	if err := db.checkSchema(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	if fresh {
		db.logger.Info("storage: created database", "path", path, "schema", SchemaVersion)
	} else if statErr == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("storage: restrict mode of %s: %w", path, err)
		}
		db.logger.Warn("storage: database file was readable by others; mode set to 0600", "path", path, "was", fi.Mode().Perm().String())
	}
	return db, nil
}

// checkSchema reads the schema version and initialises a fresh file. It
// never writes to a file with a version other than SchemaVersion.
func (db *DB) checkSchema() error {
	var version uint64
	var missing bool
	err := db.bdb.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if b := firstBucket(tx); b != nil {
				return fmt.Errorf("storage: %s: %w: bucket %q without a meta bucket; not an autowallet database", db.path, storage.ErrCorrupt, b)
			}
			return nil // fresh file
		}
		v, err := decodeSchemaVersion(meta.Get(metaSchemaKey))
		if err != nil {
			return fmt.Errorf("storage: %s: schema version: %w", db.path, err)
		}
		version = v
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				missing = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch {
	case version > SchemaVersion:
		return fmt.Errorf("storage: %s: %w: file has schema version %d, this program knows up to %d; upgrade autowallet (the file was not modified)", db.path, storage.ErrSchemaTooNew, version, SchemaVersion)
	case version == SchemaVersion && !missing:
		return nil
	case version == 1 || version == 2:
		// 1 -> 2: nothing to rewrite (see SchemaVersion); 2 -> 3: the
		// nonce index is rebuilt below.
		db.logger.Info("storage: upgrading schema", "path", db.path, "from", version, "to", SchemaVersion)
	}
	return db.bdb.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("storage: create bucket %q: %w", name, err)
			}
		}
		if version != 0 && version < 3 {
			if err := rebuildNonceIndex(&boltTx{tx: tx, now: db.now()}); err != nil {
				return fmt.Errorf("storage: %s: upgrading to schema 3: %w", db.path, err)
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchemaKey, encodeSchemaVersion(SchemaVersion))
	})
}

// rebuildNonceIndex drops the nonce index and writes it again from the
// active (built, approved, sent) ordinary transfers, keyed by chain id +
// from + nonce (schema 3). Replacements hold no entry of their own. Two
// active transfers at one key would be a corrupt file: the upgrade fails
// and nothing is written.
func rebuildNonceIndex(tx *boltTx) error {
	if err := tx.tx.DeleteBucket(bucketTransferNonces); err != nil {
		return fmt.Errorf("drop the nonce index: %w", err)
	}
	nonces, err := tx.tx.CreateBucket(bucketTransferNonces)
	if err != nil {
		return fmt.Errorf("create the nonce index: %w", err)
	}
	active, err := tx.TransfersInState(storage.StateBuilt, storage.StateApproved, storage.StateSent)
	if err != nil {
		return err
	}
	for _, t := range active {
		if t.Kind == storage.KindReplacement {
			continue
		}
		nk := nonceKey(t.ChainID, t.From, t.Nonce)
		if ref := nonces.Get(nk); ref != nil {
			holder, _ := decodeIDRef(ref)
			return fmt.Errorf("%w: transfers %q and %q both hold nonce %d of %s on chain %d", storage.ErrCorrupt, holder, t.ID, t.Nonce, t.From, t.ChainID)
		}
		if err := nonces.Put(nk, encodeIDRef(t.ID)); err != nil {
			return err
		}
	}
	return nil
}

func firstBucket(tx *bbolt.Tx) []byte {
	c := tx.Cursor()
	k, _ := c.First()
	return k
}

// Close closes the file and releases its lock.
func (db *DB) Close() error {
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", db.path, err)
	}
	return nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// boltTx is a bbolt transaction (a Tx of the bbolt engine). A writable Tx must end with Commit or Rollback; a
// read-only one with Rollback. Only one writable Tx runs at a time.
type boltTx struct {
	tx  *bbolt.Tx
	now time.Time // one clock reading per transaction
}

// begin starts a transaction. Store.Update combines several changes atomically;
// the DB methods each run in a transaction of their own.
func (db *DB) begin(writable bool) (*boltTx, error) {
	tx, err := db.bdb.Begin(writable)
	if err != nil {
		return nil, fmt.Errorf("storage: begin: %w", err)
	}
	return &boltTx{tx: tx, now: db.now().UTC()}, nil
}

// Commit writes the changes durably (fsync) and ends the transaction.
func (tx *boltTx) Commit() error {
	if err := tx.tx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	return nil
}

// Rollback discards the changes. It is safe to call after Commit (it then
// does nothing), so `defer tx.Rollback()` is the usual pattern.
func (tx *boltTx) Rollback() error {
	if err := tx.tx.Rollback(); err != nil && !errors.Is(err, bolterrors.ErrTxClosed) {
		return fmt.Errorf("storage: rollback: %w", err)
	}
	return nil
}

// Update runs fn in one write transaction, committed only if fn returns
// nil: several changes stored together or not at all.
func (db *DB) Update(fn func(tx storage.Tx) error) error {
	return db.update(func(tx *boltTx) error { return fn(tx) })
}

// update runs fn in a writable transaction and commits if fn succeeds.
func (db *DB) update(fn func(tx *boltTx) error) error {
	tx, err := db.begin(true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// read runs fn in a read-only transaction and returns its value.
func read[T any](db *DB, fn func(tx *boltTx) (T, error)) (T, error) {
	var out T
	err := db.view(func(tx *boltTx) (err error) {
		out, err = fn(tx)
		return err
	})
	return out, err
}

// write runs fn in a write transaction, committed if fn succeeds, and
// returns its value.
func write[T any](db *DB, fn func(tx *boltTx) (T, error)) (T, error) {
	var out T
	err := db.update(func(tx *boltTx) (err error) {
		out, err = fn(tx)
		return err
	})
	return out, err
}

// view runs fn in a read-only transaction.
func (db *DB) view(fn func(tx *boltTx) error) error {
	tx, err := db.begin(false)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// Backup writes a consistent snapshot of the whole file to w and returns the
// number of bytes written. It runs in a read transaction, so other readers
// and writers carry on meanwhile. The output is a valid database file: to
// restore, stop autowallet and put it in place of FileName.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.bdb.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	return n, nil
}

// Meta returns the value stored under key in the meta bucket (for example
// the KMS ciphertext of the vault key), or ErrNotFound.
func (db *DB) Meta(key string) ([]byte, error) {
	return read(db, func(tx *boltTx) ([]byte, error) { return tx.Meta(key) })
}

// PutMeta stores value under key in the meta bucket, replacing any value.
func (db *DB) PutMeta(key string, value []byte) error {
	return db.update(func(tx *boltTx) error { return tx.PutMeta(key, value) })
}

// Meta returns the value stored under key in the meta bucket.
func (tx *boltTx) Meta(key string) ([]byte, error) {
	if err := storage.CheckMetaKey(key); err != nil {
		return nil, err
	}
	raw := tx.tx.Bucket(bucketMeta).Get([]byte(key))
	if raw == nil {
		return nil, fmt.Errorf("storage: meta %q: %w", key, storage.ErrNotFound)
	}
	v, err := decodeMetaValue(raw)
	if err != nil {
		return nil, fmt.Errorf("storage: meta %q: %w", key, err)
	}
	return v, nil
}

// PutMeta stores value under key in the meta bucket.
func (tx *boltTx) PutMeta(key string, value []byte) error {
	if err := storage.CheckMetaKey(key); err != nil {
		return err
	}
	if err := tx.tx.Bucket(bucketMeta).Put([]byte(key), encodeMetaValue(value)); err != nil {
		return fmt.Errorf("storage: put meta %q: %w", key, err)
	}
	return nil
}

// CreateMeta: see Tx.CreateMeta. bbolt has one writer at a time, so the
// read and the put of one transaction cannot interleave with another's.
func (tx *boltTx) CreateMeta(key string, value []byte) ([]byte, bool, error) {
	old, err := tx.Meta(key)
	if err == nil {
		return old, false, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, false, err
	}
	if err := tx.PutMeta(key, value); err != nil {
		return nil, false, err
	}
	return bytes.Clone(value), true, nil
}
