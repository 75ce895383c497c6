package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/ethereum/go-ethereum/common"
)

// Versions of the values only the bbolt engine stores.
const (
	indexV1 byte = 1 // wallet_addresses and transfer_nonces values
	metaV1  byte = 1
)

// ownerKey is the key of a user's records: the id, 8 bytes big-endian (the
// canonical key of storage.ItemOfUser and ItemOfWallet too).
func ownerKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

// chainKey is a watch cursor's key: the chain id, 8 bytes big-endian.
func chainKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

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

func stateIndexKey(s storage.State, id string) []byte { return append([]byte{byte(s)}, id...) }

// ---- index and meta values ----

func encodeOwnerRef(owner int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{indexV1}, uint64(owner))
}

func decodeOwnerRef(b []byte) (int64, error) {
	if len(b) != 9 || b[0] != indexV1 {
		return 0, fmt.Errorf("%w: address index value", storage.ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b[1:])), nil
}

func encodeIDRef(id string) []byte { return append([]byte{indexV1}, id...) }

func decodeIDRef(b []byte) (string, error) {
	if len(b) < 2 || b[0] != indexV1 {
		return "", fmt.Errorf("%w: nonce index value", storage.ErrCorrupt)
	}
	return string(b[1:]), nil
}

func encodeMetaValue(v []byte) []byte { return append([]byte{metaV1}, v...) }

func decodeMetaValue(b []byte) ([]byte, error) {
	if len(b) < 1 || b[0] != metaV1 {
		return nil, fmt.Errorf("%w: meta value", storage.ErrCorrupt)
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
		return 0, fmt.Errorf("%w: missing", storage.ErrCorrupt)
	}
	if len(b) != 9 || b[0] != metaV1 {
		return 0, fmt.Errorf("%w: % x", storage.ErrCorrupt, b)
	}
	v := binary.BigEndian.Uint64(b[1:])
	if v == 0 {
		return 0, fmt.Errorf("%w: version 0", storage.ErrCorrupt)
	}
	return v, nil
}
