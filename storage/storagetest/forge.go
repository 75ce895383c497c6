package storagetest

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	bbolt "go.etcd.io/bbolt"

	"github.com/autowallet/autowallet/storage"
)

// ForgeBoltWalletAddress plays someone who writes a closed bbolt file
// directly (docs/storage.md's file format), past the program: owner's
// wallet row gets the address to, and the address index follows it (to
// leads to owner; the old address leads nowhere), so every read by owner
// or by address sees the forged address. The record is left as it was.
func ForgeBoltWalletAddress(path string, owner int64, to common.Address) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bbolt.Tx) error {
		wallets, index := tx.Bucket([]byte("wallets")), tx.Bucket([]byte("wallet_addresses"))
		if wallets == nil || index == nil {
			return fmt.Errorf("storagetest: %s has no wallet buckets", path)
		}
		key := binary.BigEndian.AppendUint64(nil, uint64(owner))
		raw := wallets.Get(key)
		if raw == nil {
			return fmt.Errorf("storagetest: no wallet of user %d", owner)
		}
		w, err := storage.DecodeWallet(raw)
		if err != nil {
			return err
		}
		ref := append([]byte(nil), index.Get(w.Address[:])...)
		if err := index.Delete(w.Address[:]); err != nil {
			return err
		}
		w.Address = to
		if err := index.Put(to[:], ref); err != nil {
			return err
		}
		return wallets.Put(key, storage.EncodeWallet(&w))
	})
}
