package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// sealedRecord is a record of the v1 layout for owner and addr (its nonce
// and ciphertext are filler: RecordHeader opens nothing).
func sealedRecord(owner uint64, addr common.Address) []byte {
	b := make([]byte, RecordV1Length)
	b[0] = RecordV1
	binary.BigEndian.PutUint64(b[1:9], owner)
	copy(b[9:], addr[:])
	for i := RecordHeaderLength; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

func TestRecordHeader(t *testing.T) {
	addr := common.HexToAddress("0x00000000000000000000000000000000000000a1")
	owner, got, err := RecordHeader(sealedRecord(1<<40, addr))
	if err != nil || owner != 1<<40 || got != addr {
		t.Fatalf("RecordHeader = %d, %s, %v", owner, got, err)
	}
	good := sealedRecord(7, addr)
	for name, rec := range map[string][]byte{
		"empty":        nil,
		"version 2":    append([]byte{2}, good[1:]...),
		"short":        good[:RecordV1Length-1],
		"long":         append(bytes.Clone(good), 0),
		"owner 0":      sealedRecord(0, addr),
		"owner 2^63":   sealedRecord(1<<63, addr),
		"header alone": good[:RecordHeaderLength],
	} {
		if _, _, err := RecordHeader(rec); !errors.Is(err, ErrMalformedRecord) {
			t.Errorf("%s: got %v, want ErrMalformedRecord", name, err)
		}
	}
}

// FuzzRecordHeader: never panics, refuses only with ErrMalformedRecord,
// and what it accepts is a record of the right length whose header says
// exactly the owner and address returned.
func FuzzRecordHeader(f *testing.F) {
	f.Add(sealedRecord(7, common.HexToAddress("0x00000000000000000000000000000000000000a1")))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, rec []byte) {
		owner, addr, err := RecordHeader(rec)
		if err != nil {
			if !errors.Is(err, ErrMalformedRecord) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if len(rec) != RecordV1Length || owner <= 0 {
			t.Fatalf("accepted %d bytes, owner %d", len(rec), owner)
		}
		if !bytes.Equal(sealedRecord(uint64(owner), addr)[:RecordHeaderLength], rec[:RecordHeaderLength]) {
			t.Fatalf("header %x read as %d, %s", rec[:RecordHeaderLength], owner, addr)
		}
	})
}
