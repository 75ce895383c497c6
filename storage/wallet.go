package storage

import (
	"fmt"
	"time"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage/internal/codec"
	"github.com/ethereum/go-ethereum/common"
)

// Wallet is a user's wallet: its address and the sealed key record made by
// the enclave. The record is opaque to the host and is never replaced.
type Wallet struct {
	Owner   int64 // Telegram user id
	Address common.Address
	Record  []byte // sealed key record (enclave.RecordV1 layout)
	Created time.Time
}

const maxRecordLen = 4096

func (w *Wallet) validate() error {
	switch {
	case w.Owner <= 0:
		return fmt.Errorf("%w: wallet owner %d", ErrInvalid, w.Owner)
	case w.Address == (common.Address{}):
		return fmt.Errorf("%w: wallet address is zero", ErrInvalid)
	case len(w.Record) == 0:
		return fmt.Errorf("%w: wallet record is empty", ErrInvalid)
	case len(w.Record) > maxRecordLen:
		return fmt.Errorf("%w: wallet record is %d bytes, at most %d", ErrInvalid, len(w.Record), maxRecordLen)
	}
	return checkTime("created", w.Created)
}

// encodeWallet: version 1, owner uvarint, address (20), record (uvarint
// length + bytes), created (varint ns).
func encodeWallet(w *Wallet) []byte {
	e := codec.Encoder{B: make([]byte, 0, 40+len(w.Record))}
	e.Byte(walletV1)
	e.Uvarint(uint64(w.Owner))
	e.Address(w.Address)
	e.Bytes(w.Record)
	e.Time(w.Created)
	return e.B
}

func decodeWallet(b []byte) (Wallet, error) {
	d := codec.Decoder{B: b, What: "wallet"}
	var w Wallet
	d.Version(walletV1)
	w.Owner = d.Owner("owner")
	w.Address = d.Address("address")
	w.Record = d.Bytes("record")
	w.Created = d.Time("created")
	if err := d.Finish(); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

// ErrWalletTampered: a wallet row whose owner or address disagrees with the
// plaintext header of its sealed record (or whose record has no readable
// header). Only a write past the program makes one (a database writer: the
// engines store what CreateWallet was given, which came from the enclave),
// so it is corruption: errors.Is(err, ErrCorrupt) holds.
var ErrWalletTampered = fmt.Errorf("%w: wallet row disagrees with its sealed record", ErrCorrupt)

// CheckWalletRecord compares a wallet row with its sealed record's header
// (protocol.RecordHeader): owner and address must be the record's, the
// values the enclave bound into the record's additional data. A row that
// fails is ErrWalletTampered. The parent checks every wallet it reads
// before it shows an address or attributes a deposit to a user
// (parent.Service, parent/watch); the record itself stays opaque.
func CheckWalletRecord(w Wallet) error {
	owner, addr, err := protocol.RecordHeader(w.Record)
	if err != nil {
		return fmt.Errorf("storage: wallet of user %d: %w: %v", w.Owner, ErrWalletTampered, err)
	}
	if owner != w.Owner || addr != w.Address {
		return fmt.Errorf("storage: wallet of user %d: %w: the row says owner %d, address %s; the record says owner %d, address %s",
			w.Owner, ErrWalletTampered, w.Owner, w.Address.Hex(), owner, addr.Hex())
	}
	return nil
}
