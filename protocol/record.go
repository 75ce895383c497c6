package protocol

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/common"
)

// The sealed wallet record's plaintext header (docs/protocol.md, "Sealed
// wallet record"): version (1 byte), owner (8 bytes, big-endian), address
// (20 bytes), then the nonce and the AES-GCM ciphertext. The header is the
// record's additional data, so the enclave opens the record only under
// exactly these values (enclave/record.go); the host can read them without
// any key.
const (
	RecordV1           byte = 1
	RecordHeaderLength      = 1 + 8 + common.AddressLength
	RecordV1Length          = RecordHeaderLength + 12 + 32 + 16
)

// RecordHeader reads the owner and address of a sealed wallet record from
// its plaintext header, as strictly as the enclave reads it: version 1,
// exactly RecordV1Length bytes, owner 1..2^63-1. It opens nothing, so it
// proves nothing about the key inside; it lets the host refuse a wallet
// row whose columns disagree with its record (a database writer who
// changed wallets.address: docs/threat-model.md, "Issue 11: the database
// as an attacker (rows the bot shows)"). Errors wrap ErrMalformedRecord.
func RecordHeader(rec []byte) (owner int64, addr common.Address, err error) {
	switch {
	case len(rec) == 0:
		return 0, common.Address{}, fmt.Errorf("%w: empty", ErrMalformedRecord)
	case rec[0] != RecordV1:
		return 0, common.Address{}, fmt.Errorf("%w: unknown version %d", ErrMalformedRecord, rec[0])
	case len(rec) != RecordV1Length:
		return 0, common.Address{}, fmt.Errorf("%w: %d bytes, want %d", ErrMalformedRecord, len(rec), RecordV1Length)
	}
	o := binary.BigEndian.Uint64(rec[1:9])
	if o == 0 || o > math.MaxInt64 {
		return 0, common.Address{}, fmt.Errorf("%w: owner out of range", ErrMalformedRecord)
	}
	return int64(o), common.Address(rec[9:RecordHeaderLength]), nil
}
