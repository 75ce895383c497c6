package metrics

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// BenchmarkStoreRead: a store read (WalletByOwner on bbolt) bare and
// through the timing decorator; the difference is what metering a store
// call costs (two clock readings and one histogram observation).
func BenchmarkStoreRead(b *testing.B) {
	db, err := bolt.Open(b.TempDir(), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.CreateWallet(storage.Wallet{Owner: 1, Address: common.BigToAddress(big.NewInt(0x1001)), Record: []byte("sealed")}); err != nil {
		b.Fatal(err)
	}
	for name, s := range map[string]storage.Store{"bare": db, "metered": Store(db, New(Options{}))} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.WalletByOwner(1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecord: the cost of one counted event on a labelled series.
func BenchmarkRecord(b *testing.B) {
	m := New(Options{Networks: []string{"Base"}})
	b.Run("BotCall", func(b *testing.B) {
		for b.Loop() {
			m.BotCall("sendMessage", nil, false)
		}
	})
	b.Run("RPCCall", func(b *testing.B) {
		for b.Loop() {
			m.RPCCall("Base", "eth_blockNumber", 1000, false)
		}
	})
}
