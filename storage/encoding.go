package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
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
	indexV1    byte = 1 // wallet_addresses and transfer_nonces values
	metaV1     byte = 1
)

const (
	maxBigBytes = 32 // numbers are uint256
	maxIDLen    = 128
)

// minTime and maxTime bound the times that fit in int64 nanoseconds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encoder appends the primitive fields of the v1 encodings.
type encoder struct{ b []byte }

func (e *encoder) byte(c byte)        { e.b = append(e.b, c) }
func (e *encoder) uvarint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bytes(v []byte)     { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) string(v string)    { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) address(a [20]byte) { e.b = append(e.b, a[:]...) }
func (e *encoder) hash(h [32]byte)    { e.b = append(e.b, h[:]...) }

func (e *encoder) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

// big writes a length byte (0..32) and the minimal big-endian bytes; nil is
// written as zero. Callers check the sign and size first.
func (e *encoder) big(v *big.Int) {
	var raw []byte
	if v != nil {
		raw = v.Bytes()
	}
	e.byte(byte(len(raw)))
	e.b = append(e.b, raw...)
}

// time writes nanoseconds since the Unix epoch as a signed varint; the zero
// time is written as 0. Callers check the range first.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.varint(0)
		return
	}
	e.varint(t.UnixNano())
}

// decoder reads the primitives back, strictly; the first error sticks.
type decoder struct {
	b    []byte
	what string
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", ErrCorrupt, d.what, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(n int, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail("truncated at %s", field)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte(field string) byte {
	v := d.take(1, field)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint at %s", field)
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		d.fail("non-canonical varint at %s", field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint at %s", field)
		return 0
	}
	if n != len(binary.AppendVarint(nil, v)) {
		d.fail("non-canonical varint at %s", field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a copy: values read from bbolt are only valid inside the
// transaction.
func (d *decoder) bytes(field string) []byte {
	n := d.uvarint(field)
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("truncated at %s", field)
		return nil
	}
	v := d.take(int(n), field)
	if len(v) == 0 {
		return nil
	}
	return bytes.Clone(v)
}

func (d *decoder) string(field string) string {
	n := d.uvarint(field)
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("truncated at %s", field)
		return ""
	}
	return string(d.take(int(n), field))
}

func (d *decoder) address(field string) (a common.Address) {
	copy(a[:], d.take(common.AddressLength, field))
	return a
}

func (d *decoder) hash(field string) (h common.Hash) {
	copy(h[:], d.take(common.HashLength, field))
	return h
}

func (d *decoder) bool(field string) bool {
	switch d.byte(field) {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("%s is not 0 or 1", field)
	return false
}

// big always returns a non-nil number (a stored nil reads back as zero).
func (d *decoder) big(field string) *big.Int {
	n := int(d.byte(field))
	if d.err == nil && n > maxBigBytes {
		d.fail("%s is %d bytes, at most %d allowed", field, n, maxBigBytes)
	}
	v := d.take(n, field)
	if d.err == nil && n > 0 && v[0] == 0 {
		d.fail("%s has a leading zero byte", field)
	}
	if d.err != nil {
		return new(big.Int)
	}
	return new(big.Int).SetBytes(v)
}

func (d *decoder) time(field string) time.Time {
	n := d.varint(field)
	if d.err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *decoder) owner(field string) int64 {
	v := d.uvarint(field)
	if d.err == nil && (v == 0 || v > math.MaxInt64) {
		d.fail("%s %d is out of range", field, v)
	}
	return int64(v)
}

func (d *decoder) version(want byte) {
	v := d.byte("version")
	if d.err == nil && v != want {
		d.fail("unknown format version %d (this program reads %d)", v, want)
	}
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// checkTime refuses a time that does not fit the encoding.
func checkTime(field string, t time.Time) error {
	if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
		return fmt.Errorf("%w: %s %s is outside the storable range", ErrInvalid, field, t)
	}
	return nil
}

// checkBig refuses a negative number or one wider than 256 bits.
func checkBig(field string, v *big.Int) error {
	if v != nil && (v.Sign() < 0 || v.BitLen() > 8*maxBigBytes) {
		return fmt.Errorf("%w: %s must be a uint256", ErrInvalid, field)
	}
	return nil
}

// ---- keys ----

func ownerKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

// nonceKey orders the nonce index by chain, then wallet, then nonce: each
// network has its own nonces for the same address (schema 3).
func nonceKey(chainID uint64, from common.Address, nonce uint64) []byte {
	return binary.BigEndian.AppendUint64(noncePrefix(chainID, from), nonce)
}

// noncePrefix is the index prefix of one wallet on one chain.
func noncePrefix(chainID uint64, from common.Address) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, nonceKeyLen), chainID)
	return append(k, from[:]...)
}

// nonceKeyLen is the length of a nonce index key: chain id (8 BE), from
// (20), nonce (8 BE).
const nonceKeyLen = 8 + common.AddressLength + 8

// ownerIndexKey sorts a user's transfers by creation time, then id.
func ownerIndexKey(owner int64, created time.Time, id string) []byte {
	k := make([]byte, 0, 16+len(id))
	k = binary.BigEndian.AppendUint64(k, uint64(owner))
	k = binary.BigEndian.AppendUint64(k, uint64(created.UnixNano()))
	return append(k, id...)
}

func stateIndexKey(s State, id string) []byte { return append([]byte{byte(s)}, id...) }

// ---- index and meta values ----

func encodeOwnerRef(owner int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{indexV1}, uint64(owner))
}

func decodeOwnerRef(b []byte) (int64, error) {
	if len(b) != 9 || b[0] != indexV1 {
		return 0, fmt.Errorf("%w: address index value", ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b[1:])), nil
}

func encodeIDRef(id string) []byte { return append([]byte{indexV1}, id...) }

func decodeIDRef(b []byte) (string, error) {
	if len(b) < 2 || b[0] != indexV1 {
		return "", fmt.Errorf("%w: nonce index value", ErrCorrupt)
	}
	return string(b[1:]), nil
}

func encodeMetaValue(v []byte) []byte { return append([]byte{metaV1}, v...) }

func decodeMetaValue(b []byte) ([]byte, error) {
	if len(b) < 1 || b[0] != metaV1 {
		return nil, fmt.Errorf("%w: meta value", ErrCorrupt)
	}
	return bytes.Clone(b[1:]), nil
}

// The schema version value is [metaV1][8-byte big-endian version]. This
// layout is frozen: every future program must be able to read it to know
// whether it may open the file.
func encodeSchemaVersion(v uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{metaV1}, v)
}

func decodeSchemaVersion(b []byte) (uint64, error) {
	if b == nil {
		return 0, fmt.Errorf("%w: missing", ErrCorrupt)
	}
	if len(b) != 9 || b[0] != metaV1 {
		return 0, fmt.Errorf("%w: % x", ErrCorrupt, b)
	}
	v := binary.BigEndian.Uint64(b[1:])
	if v == 0 {
		return 0, fmt.Errorf("%w: version 0", ErrCorrupt)
	}
	return v, nil
}
