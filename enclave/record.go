package enclave

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/protocol"
)

// Sealed wallet record, version 1 (docs/protocol.md, "Sealed wallet record"):
//
//	offset size  field
//	0      1     version (1)
//	1      8     owner: Telegram user id, big-endian, 1..2^63-1
//	9      20    address
//	29     12    AES-GCM nonce
//	41     48    AES-256-GCM ciphertext of the 32-byte key, with its 16-byte tag
//
// The first 29 bytes (version, owner, address) are the additional data, so a
// record moved to another user or address, or relabelled as another version,
// no longer opens.
const (
	RecordV1       byte = 1
	recordHeader        = 1 + 8 + common.AddressLength
	recordNonce         = 12
	recordSealed        = 32 + 16
	RecordV1Length      = recordHeader + recordNonce + recordSealed
)

// record is a decoded, still sealed, wallet record.
type record struct {
	Owner   int64
	Address common.Address
	Nonce   []byte
	Sealed  []byte
	header  []byte // the additional data
}

// decodeRecord parses a record strictly; it does not open it.
func decodeRecord(b []byte) (*record, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", protocol.ErrMalformedRecord)
	}
	if b[0] != RecordV1 {
		return nil, fmt.Errorf("%w: unknown version %d", protocol.ErrMalformedRecord, b[0])
	}
	if len(b) != RecordV1Length {
		return nil, fmt.Errorf("%w: %d bytes, want %d", protocol.ErrMalformedRecord, len(b), RecordV1Length)
	}
	owner := binary.BigEndian.Uint64(b[1:9])
	if owner == 0 || owner > math.MaxInt64 {
		return nil, fmt.Errorf("%w: owner out of range", protocol.ErrMalformedRecord)
	}
	r := &record{
		Owner:  int64(owner),
		Nonce:  b[recordHeader : recordHeader+recordNonce],
		Sealed: b[recordHeader+recordNonce:],
		header: b[:recordHeader],
	}
	copy(r.Address[:], b[9:recordHeader])
	return r, nil
}

// recordHeaderFor is the additional data of a record for owner and address.
func recordHeaderFor(owner int64, addr common.Address) []byte {
	h := make([]byte, recordHeader, RecordV1Length)
	h[0] = RecordV1
	binary.BigEndian.PutUint64(h[1:9], uint64(owner))
	copy(h[9:], addr[:])
	return h
}
