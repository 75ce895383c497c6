package watch

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// An RPC node that lies. The watcher trusts the node for what happened on
// the chain, so a consistent lie makes an alert (documented in the threat
// model); answers that do not fit together, and logs of contracts that are
// not listed, make none.
func TestLyingNode(t *testing.T) {
	token := common.HexToAddress("0x00000000000000000000000000000000000000c0")
	alice := benchAddress(7)
	setup := func(t *testing.T) (*Watcher, *memSource, *bolt.DB) {
		db := openStore(t, tempDir(t))
		t.Cleanup(func() { db.Close() })
		// alice's wallet is stored: a deposit is announced only to a wallet
		// whose row and record agree (verify.go).
		if _, _, err := db.CreateWallet(storage.Wallet{Owner: 7, Address: alice, Record: recordOf(7, alice)}); err != nil {
			t.Fatal(err)
		}
		addrs := NewAddresses(1)
		addrs.Watch(alice, 7)
		src := &memSource{token: token, ours: []common.Address{alice}}
		n := networks.DevL1()
		n.Tokens = []networks.Token{{Address: token, Symbol: "USDC", Decimals: 6}}
		if _, err := db.StoreWatchedBlocks(storage.WatchCursor{ChainID: n.ChainID, Block: 1, Hashes: []common.Hash{blockHash(1)}}, nil); err != nil {
			t.Fatal(err)
		}
		w, err := New(Options{Network: n, Source: src, Store: db, Addresses: addrs, StepBlocks: 2})
		if err != nil {
			t.Fatal(err)
		}
		src.head = 4
		src.prepare(2, 3)
		return w, src, db
	}
	invented := func(block uint64, contract common.Address) types.Log {
		return types.Log{Address: contract, Topics: []common.Hash{TransferTopic, common.BytesToHash(benchAddress(1).Bytes()), common.BytesToHash(alice.Bytes())},
			Data: common.LeftPadBytes(big.NewInt(1e9).Bytes(), 32), BlockNumber: block, BlockHash: blockHash(block), TxHash: common.Hash{9}}
	}

	t.Run("consistent invented transfer is announced", func(t *testing.T) {
		w, src, db := setup(t)
		src.logs = []types.Log{invented(3, token)}
		if _, err := w.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.PendingAlerts(10); len(p) != 1 {
			t.Fatalf("outbox %+v: the watcher believes the node", p)
		}
	})
	t.Run("log naming another block hash", func(t *testing.T) {
		w, src, db := setup(t)
		l := invented(3, token)
		l.BlockHash = common.Hash{0xbb}
		src.logs = []types.Log{l}
		if _, err := w.Step(context.Background()); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("step: %v, want ErrInconsistent", err)
		}
		if c, _ := db.WatchCursor(networks.DevL1ChainID); c.Block != 1 {
			t.Fatalf("cursor moved to %d", c.Block)
		}
	})
	t.Run("log outside the asked range", func(t *testing.T) {
		w, src, _ := setup(t)
		src.logs = []types.Log{invented(9, token)}
		if _, err := w.Step(context.Background()); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("step: %v, want ErrInconsistent", err)
		}
	})
	t.Run("blocks that do not chain", func(t *testing.T) {
		w, src, _ := setup(t)
		src.blocks[1].ParentHash = common.Hash{0xcc}
		if _, err := w.Step(context.Background()); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("step: %v, want ErrInconsistent", err)
		}
	})
	t.Run("unlisted contract slipped past the filter", func(t *testing.T) {
		w, src, db := setup(t)
		src.logs = []types.Log{invented(3, common.HexToAddress("0x00000000000000000000000000000000000000dd"))}
		if _, err := w.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.PendingAlerts(10); len(p) != 0 {
			t.Fatalf("spam announced: %+v", p)
		}
	})
	t.Run("zero-amount transfer (address poisoning)", func(t *testing.T) {
		w, src, db := setup(t)
		l := invented(3, token)
		l.Data = make([]byte, 32)
		src.logs = []types.Log{l}
		if _, err := w.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.PendingAlerts(10); len(p) != 0 {
			t.Fatalf("zero transfer announced: %+v", p)
		}
	})
}
