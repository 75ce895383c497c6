package bolt

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/ethereum/go-ethereum/common"
	"go.etcd.io/bbolt"
)

var goldenDeposit = storage.Deposit{
	ChainID: 8453, Token: common.HexToAddress("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
	From: common.HexToAddress("0x00000000000000000000000000000000000000f1"), To: addrOf(7), Owner: 7,
	Amount: big.NewInt(25_000_000), TxHash: common.HexToHash("0xabc1"), LogIndex: 3, Block: 123456,
	Time: time.Unix(1_700_000_000, 0).UTC(),
}

func depositAt(owner int64, tx byte, logIndex uint32, block uint64, when time.Time) storage.Deposit {
	d := goldenDeposit
	d.Owner, d.To, d.TxHash, d.LogIndex, d.Block, d.Time = owner, addrOf(owner), common.Hash{tx}, logIndex, block, when
	if logIndex == storage.NativeLogIndex {
		d.Token = common.Address{}
	}
	return d
}

func cursorAt(block uint64, hashes ...byte) storage.WatchCursor {
	c := storage.WatchCursor{ChainID: 8453, Block: block}
	for _, h := range hashes {
		c.Hashes = append(c.Hashes, common.Hash{h})
	}
	return c
}

// The blocks' deposits, their alerts and the cursor are stored together; a
// deposit stored before (a range scanned again) gets no second alert.
func TestStoreWatchedBlocksOnceAndOutbox(t *testing.T) {
	db, _ := openTestDB(t)
	t0 := time.Unix(1_700_000_000, 0).UTC()
	a := depositAt(7, 1, 0, 100, t0)
	b := depositAt(7, 2, storage.NativeLogIndex, 101, t0.Add(time.Second))
	c := depositAt(8, 2, 4, 101, t0.Add(time.Second))
	if n, err := db.StoreWatchedBlocks(cursorAt(101, 1, 2), []storage.Deposit{a, b, c}); err != nil || n != 3 {
		t.Fatalf("store: %d %v", n, err)
	}
	if n, err := db.StoreWatchedBlocks(cursorAt(102, 1, 2, 3), []storage.Deposit{a, c}); err != nil || n != 0 {
		t.Fatalf("store again: %d %v, want 0 new", n, err)
	}
	if cur, err := db.WatchCursor(8453); err != nil || cur.Block != 102 || len(cur.Hashes) != 3 {
		t.Fatalf("cursor %+v %v", cur, err)
	}
	if _, err := db.WatchCursor(1); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cursor of an unwatched chain: %v", err)
	}
	p, err := db.PendingAlerts(10)
	if err != nil || len(p) != 3 || p[0].Deposit.TxHash != a.TxHash || p[0].Seq >= p[1].Seq || p[1].Seq >= p[2].Seq {
		t.Fatalf("outbox %+v %v", p, err)
	}
	if err := db.AlertDelivered(p[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := db.AlertDelivered(p[0].Seq); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	if p, _ := db.PendingAlerts(10); len(p) != 2 {
		t.Fatalf("outbox after delivery: %d", len(p))
	}
	hist, err := db.Deposits(7, 10, 0)
	if err != nil || len(hist) != 2 || hist[0].TxHash != b.TxHash || hist[1].TxHash != a.TxHash {
		t.Fatalf("history newest first: %+v %v", hist, err)
	}
	if hist, _ := db.Deposits(7, 1, 1); len(hist) != 1 || hist[0].TxHash != a.TxHash {
		t.Fatalf("page 2: %+v", hist)
	}
	if hist, _ := db.Deposits(8, 10, 0); len(hist) != 1 || hist[0].LogIndex != 4 {
		t.Fatalf("owner 8: %+v", hist)
	}
	if hist, _ := db.Deposits(9, 10, 0); len(hist) != 0 {
		t.Fatalf("owner 9: %+v", hist)
	}
}

func TestStoreWatchedBlocksRefusesBadInput(t *testing.T) {
	db, _ := openTestDB(t)
	t0 := time.Unix(1_700_000_000, 0).UTC()
	ok := depositAt(7, 1, 0, 100, t0)
	bad := func(f func(d *storage.Deposit)) storage.Deposit { d := ok; f(&d); return d }
	cases := map[string]struct {
		cur storage.WatchCursor
		ds  []storage.Deposit
	}{
		"no hashes":         {storage.WatchCursor{ChainID: 8453, Block: 100}, nil},
		"no chain":          {storage.WatchCursor{Block: 100, Hashes: []common.Hash{{1}}}, nil},
		"zero amount":       {cursorAt(100, 1), []storage.Deposit{bad(func(d *storage.Deposit) { d.Amount = new(big.Int) })}},
		"no owner":          {cursorAt(100, 1), []storage.Deposit{bad(func(d *storage.Deposit) { d.Owner = 0 })}},
		"other chain":       {cursorAt(100, 1), []storage.Deposit{bad(func(d *storage.Deposit) { d.ChainID = 1 })}},
		"after the cursor":  {cursorAt(99, 1), []storage.Deposit{ok}},
		"native with index": {cursorAt(100, 1), []storage.Deposit{bad(func(d *storage.Deposit) { d.Token = common.Address{} })}},
		"token no index":    {cursorAt(100, 1), []storage.Deposit{bad(func(d *storage.Deposit) { d.LogIndex = storage.NativeLogIndex })}},
		"no time":           {cursorAt(100, 1), []storage.Deposit{bad(func(d *storage.Deposit) { d.Time = time.Time{} })}},
	}
	for name, c := range cases {
		if _, err := db.StoreWatchedBlocks(c.cur, c.ds); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := db.WatchCursor(8453); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused store left a cursor: %v", err)
	}
	if _, err := db.Deposits(7, 0, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("limit 0: %v", err)
	}
}

// A schema-2 file written before these buckets existed gets them at open.
func TestDepositBucketsCreatedOnOpen(t *testing.T) {
	db, dir := openTestDB(t)
	mustWallet(t, db, 7)
	if err := db.bdb.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketDeposits, bucketDepositsByOwner, bucketDepositOutbox, bucketWatchCursors} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if n, err := db2.StoreWatchedBlocks(cursorAt(100, 1), []storage.Deposit{depositAt(7, 1, 0, 100, time.Unix(1, 0))}); err != nil || n != 1 {
		t.Fatalf("store after upgrade: %d %v", n, err)
	}
	var seen []common.Address
	db2.ForEachWalletAddress(func(a common.Address, owner int64) error { seen = append(seen, a); return nil })
	if len(seen) != 1 || seen[0] != addrOf(7) {
		t.Fatalf("wallet addresses: %v", seen)
	}
}
