package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/autowallet/autowallet/storage/internal/codec"
)

// Value format versions: the first byte of every stored value. A decoder
// refuses a version it does not know, trailing bytes and every
// non-canonical spelling, so each value has exactly one encoding
// (docs/storage.md, "Value encodings").
const (
	userV1     byte = 1
	walletV1   byte = 1
	transferV1 byte = 1 // before replacements: states 1..7, no kind
	transferV2 byte = 2 // adds states replaced and superseded, kind and replaces
	transferV3 byte = 3 // adds the L1 data fee (fixed at creation) and the fee paid (set once final)
)

// maxIDLen bounds a transfer id.
const maxIDLen = 128

// minTime and maxTime bound the times that fit in int64 nanoseconds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// checkTime refuses a time that does not fit the encoding.
func checkTime(field string, t time.Time) error {
	if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
		return fmt.Errorf("%w: %s %s is outside the storable range", ErrInvalid, field, t)
	}
	return nil
}

// checkBig refuses a negative number or one wider than 256 bits.
func checkBig(field string, v *big.Int) error {
	if v != nil && (v.Sign() < 0 || v.BitLen() > 8*codec.MaxBigBytes) {
		return fmt.Errorf("%w: %s must be a uint256", ErrInvalid, field)
	}
	return nil
}

// ownerKey is the canonical key of a user's records (ItemOfUser,
// ItemOfWallet, ...): the id, 8 bytes big-endian.
func ownerKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }
