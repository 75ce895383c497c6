// Package codec holds the primitives of autowallet's stored value
// encodings (docs/storage.md, "Value encodings"): uvarints, zigzag varints,
// length-prefixed bytes, fixed addresses and hashes, minimal big-endian
// numbers and nanosecond times. Package storage builds the canonical
// records on them (users, wallets, transfers, deposits, cursors, cards),
// the bbolt engine (storage/bolt) its own records (update claims, leases,
// chat flows). A Decoder is strict: a value has exactly one encoding.
package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// ErrCorrupt: a stored value does not decode. storage.ErrCorrupt is this
// error, so callers test it with errors.Is(err, storage.ErrCorrupt).
var ErrCorrupt = errors.New("stored value is corrupt")

// MaxBigBytes: numbers are uint256.
const MaxBigBytes = 32

// Encoder appends the primitive fields of the v1 encodings.
type Encoder struct{ B []byte }

func (e *Encoder) Byte(c byte)        { e.B = append(e.B, c) }
func (e *Encoder) Uvarint(v uint64)   { e.B = binary.AppendUvarint(e.B, v) }
func (e *Encoder) Varint(v int64)     { e.B = binary.AppendVarint(e.B, v) }
func (e *Encoder) Bytes(v []byte)     { e.Uvarint(uint64(len(v))); e.B = append(e.B, v...) }
func (e *Encoder) String(v string)    { e.Uvarint(uint64(len(v))); e.B = append(e.B, v...) }
func (e *Encoder) Address(a [20]byte) { e.B = append(e.B, a[:]...) }
func (e *Encoder) Hash(h [32]byte)    { e.B = append(e.B, h[:]...) }

func (e *Encoder) Bool(v bool) {
	if v {
		e.Byte(1)
	} else {
		e.Byte(0)
	}
}

// Big writes a length byte (0..32) and the minimal big-endian bytes; nil is
// written as zero. Callers check the sign and size first.
func (e *Encoder) Big(v *big.Int) {
	var raw []byte
	if v != nil {
		raw = v.Bytes()
	}
	e.Byte(byte(len(raw)))
	e.B = append(e.B, raw...)
}

// Time writes nanoseconds since the Unix epoch as a signed varint; the zero
// time is written as 0. Callers check the range first.
func (e *Encoder) Time(t time.Time) {
	if t.IsZero() {
		e.Varint(0)
		return
	}
	e.Varint(t.UnixNano())
}

// Decoder reads the primitives back, strictly; the first error sticks.
type Decoder struct {
	B    []byte // the input not read yet
	What string // the record, for messages
	Err  error  // the first error, wrapping ErrCorrupt
}

func (d *Decoder) Fail(format string, args ...any) {
	if d.Err == nil {
		d.Err = fmt.Errorf("%w: %s: %s", ErrCorrupt, d.What, fmt.Sprintf(format, args...))
	}
}

func (d *Decoder) take(n int, field string) []byte {
	if d.Err != nil {
		return nil
	}
	if n < 0 || len(d.B) < n {
		d.Fail("truncated at %s", field)
		return nil
	}
	v := d.B[:n:n]
	d.B = d.B[n:]
	return v
}

func (d *Decoder) Byte(field string) byte {
	v := d.take(1, field)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *Decoder) Uvarint(field string) uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.Fail("bad varint at %s", field)
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		d.Fail("non-canonical varint at %s", field)
		return 0
	}
	d.B = d.B[n:]
	return v
}

func (d *Decoder) Varint(field string) int64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.Fail("bad varint at %s", field)
		return 0
	}
	if n != len(binary.AppendVarint(nil, v)) {
		d.Fail("non-canonical varint at %s", field)
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Bytes returns a copy: values read from bbolt are only valid inside the
// transaction.
func (d *Decoder) Bytes(field string) []byte {
	n := d.Uvarint(field)
	if d.Err == nil && n > uint64(len(d.B)) {
		d.Fail("truncated at %s", field)
		return nil
	}
	v := d.take(int(n), field)
	if len(v) == 0 {
		return nil
	}
	return bytes.Clone(v)
}

func (d *Decoder) String(field string) string {
	n := d.Uvarint(field)
	if d.Err == nil && n > uint64(len(d.B)) {
		d.Fail("truncated at %s", field)
		return ""
	}
	return string(d.take(int(n), field))
}

func (d *Decoder) Address(field string) (a common.Address) {
	copy(a[:], d.take(common.AddressLength, field))
	return a
}

func (d *Decoder) Hash(field string) (h common.Hash) {
	copy(h[:], d.take(common.HashLength, field))
	return h
}

func (d *Decoder) Bool(field string) bool {
	switch d.Byte(field) {
	case 0:
		return false
	case 1:
		return true
	}
	d.Fail("%s is not 0 or 1", field)
	return false
}

// Big always returns a non-nil number (a stored nil reads back as zero).
func (d *Decoder) Big(field string) *big.Int {
	n := int(d.Byte(field))
	if d.Err == nil && n > MaxBigBytes {
		d.Fail("%s is %d bytes, at most %d allowed", field, n, MaxBigBytes)
	}
	v := d.take(n, field)
	if d.Err == nil && n > 0 && v[0] == 0 {
		d.Fail("%s has a leading zero byte", field)
	}
	if d.Err != nil {
		return new(big.Int)
	}
	return new(big.Int).SetBytes(v)
}

func (d *Decoder) Time(field string) time.Time {
	n := d.Varint(field)
	if d.Err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *Decoder) Owner(field string) int64 {
	v := d.Uvarint(field)
	if d.Err == nil && (v == 0 || v > math.MaxInt64) {
		d.Fail("%s %d is out of range", field, v)
	}
	return int64(v)
}

func (d *Decoder) Version(want byte) {
	v := d.Byte("version")
	if d.Err == nil && v != want {
		d.Fail("unknown format version %d (this program reads %d)", v, want)
	}
}

func (d *Decoder) Finish() error {
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("%d trailing bytes", len(d.B))
	}
	return d.Err
}
