package storage

import (
	"errors"
	"fmt"

	"github.com/autowallet/autowallet/storage/internal/codec"
)

// Errors. Callers test them with errors.Is; the wrapped message says what
// exactly went wrong.
var (
	// ErrNotFound: no user, wallet, transfer or meta value under that key.
	ErrNotFound = errors.New("not found")
	// ErrWalletExists: the wallet's address already belongs to another user.
	ErrWalletExists = errors.New("wallet already exists")
	// ErrTransferExists: a transfer with that id is already stored.
	ErrTransferExists = errors.New("transfer already exists")
	// ErrNonceInUse: another active transfer of the wallet holds the nonce.
	ErrNonceInUse = errors.New("nonce is held by another pending transfer")
	// ErrInvalidTransition: the state change is not in the table of allowed
	// transitions, or the update touches a field that may not change.
	ErrInvalidTransition = errors.New("invalid transfer state change")
	// ErrInvalid: a value passed in is malformed or incomplete.
	ErrInvalid = errors.New("invalid value")
	// ErrSchemaTooNew: the file was written by a newer version of autowallet.
	ErrSchemaTooNew = errors.New("database schema is newer than this program")
	// ErrCorrupt: a stored value does not decode.
	ErrCorrupt = codec.ErrCorrupt
	// ErrUnavailable: the store could not be reached (a database server
	// down, restarting or failing over; connections refused or reset; no
	// connection free in time). Nothing was changed by the failed call
	// unless the failure hit its commit (then the outcome is unknown, as
	// with any lost commit answer); trying again later is right. The
	// PostgreSQL engine wraps its connection-class failures with it; the
	// bbolt engine never returns it.
	ErrUnavailable = errors.New("store unavailable")
)

// reservedMetaKey is where an engine keeps its schema version (bbolt: in
// its meta bucket); no caller may write it.
const reservedMetaKey = "schema_version"

func checkMetaKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("storage: meta: %w: empty key", ErrInvalid)
	case len(key) > 255:
		return fmt.Errorf("storage: meta: %w: key longer than 255 bytes", ErrInvalid)
	case key == reservedMetaKey:
		return fmt.Errorf("storage: meta: %w: %q is reserved", ErrInvalid, key)
	}
	return nil
}
