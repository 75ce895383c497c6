package watch

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// world is a store, a watcher and a deliverer that a test can stop and
// start again on the same data folder (a restart of the parent).
type world struct {
	t   *testing.T
	dir string
	net networks.Network
	src Source
	in  *inbox
	db  *bolt.DB
	w   *Watcher
	d   *Deliverer
}

func (x *world) open() {
	x.db = openStore(x.t, x.dir)
	addrs, err := LoadAddresses(x.db)
	if err != nil {
		x.t.Fatal(err)
	}
	x.w, err = New(Options{Network: x.net, Source: x.src, Store: x.db, Addresses: addrs, StepBlocks: 10})
	if err != nil {
		x.t.Fatal(err)
	}
	x.d = NewDeliverer(x.db, x.in.notify, nil)
}

func (x *world) close() {
	if err := x.db.Close(); err != nil {
		x.t.Fatal(err)
	}
}

// Restarts at every point of the pipeline neither repeat nor skip an
// alert: a clean restart, a crash before the step's commit (nothing
// stored: the blocks are scanned again) and a crash after the commit but
// before delivery (the alerts wait in the outbox).
func TestRestartExactlyOnce(t *testing.T) {
	alice, bob := newWallet(1), newWallet(2)
	s := newSim(t)
	usdc := s.deploy()
	x := &world{t: t, dir: tempDir(t), net: devNetwork(1, networks.Token{Address: usdc, Symbol: "USDC", Decimals: 6}), src: s.source(), in: &inbox{}}
	x.open()
	storeWallets(t, x.db, alice, bob)
	x.close()
	x.open()
	drain(t, x.w, x.d)

	var want []common.Hash
	deposit := func() {
		want = append(want, s.send(s.faucet, &alice.addr, eth(1), nil).Hash())
		want = append(want, s.send(s.faucet, &usdc, new(big.Int), transferData(bob.addr, big.NewInt(1e6))).Hash())
		s.mine(1, want[len(want)-2:]...)
	}

	// 1. Clean restart between blocks.
	deposit()
	drain(t, x.w, x.d)
	x.close()
	x.open()
	deposit()
	drain(t, x.w, x.d)

	// 2. Crash before the step's commit: the store is gone when the step
	// would write, so nothing of the step is stored.
	deposit()
	x.close()
	if _, err := x.w.Step(context.Background()); err == nil {
		t.Fatal("step on a closed store succeeded")
	}
	x.open()
	drain(t, x.w, x.d)

	// 3. Crash after the commit, before delivery.
	deposit()
	for {
		n, err := x.w.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if p, _ := x.db.PendingAlerts(10); len(p) != 2 {
		for _, a := range p {
			t.Logf("%+v", a.Deposit)
		}
		t.Logf("want %v head %d", want[len(want)-2:], s.head())
		t.Fatalf("outbox: %d alerts, want 2", len(p))
	}
	x.close()
	x.open()
	drain(t, x.w, x.d)
	drain(t, x.w, x.d)

	got := x.in.list()
	if len(got) != len(want) {
		t.Fatalf("%d alerts, want %d", len(got), len(want))
	}
	for _, h := range want {
		if n := len(x.in.byTx(h)); n != 1 {
			t.Errorf("tx %s: %d alerts", h, n)
		}
	}
	x.close()
}

// The one window that remains: Telegram accepted the message and the
// process died before the outbox entry was removed. The alert is sent once
// more at the next start (at-least-once there, never skipped).
func TestCrashAfterSendRepeatsOnce(t *testing.T) {
	alice := newWallet(1)
	s := newSim(t)
	x := &world{t: t, dir: tempDir(t), net: devNetwork(1), src: s.source(), in: &inbox{}}
	x.open()
	storeWallets(t, x.db, alice)
	x.close()
	x.open()
	drain(t, x.w, x.d)
	tx := s.send(s.faucet, &alice.addr, eth(1), nil)
	s.commit(2)
	drain(t, x.w, nil)
	x.in.fail = func(storage.Deposit) error {
		x.close() // "crash" right after the message was accepted
		return nil
	}
	if _, err := x.d.Deliver(context.Background()); err == nil {
		t.Fatal("deliver on a store closed mid-way succeeded")
	}
	x.in.fail = nil
	x.open()
	drain(t, x.w, x.d)
	if n := len(x.in.byTx(tx.Hash())); n != 2 {
		t.Fatalf("%d deliveries, want 2 (the documented repeat)", n)
	}
	x.close()
}

// countingSource records the eth_getLogs ranges and block reads.
type countingSource struct {
	Source
	mu     sync.Mutex
	logs   [][2]uint64
	blocks int
}

func (c *countingSource) Logs(ctx context.Context, from, to uint64, contracts []common.Address, topic common.Hash) ([]types.Log, error) {
	c.mu.Lock()
	c.logs = append(c.logs, [2]uint64{from, to})
	c.mu.Unlock()
	return c.Source.Logs(ctx, from, to, contracts, topic)
}

func (c *countingSource) Blocks(ctx context.Context, from, to uint64) ([]Block, error) {
	c.mu.Lock()
	c.blocks += int(to - from + 1)
	c.mu.Unlock()
	return c.Source.Blocks(ctx, from, to)
}

// After a long downtime the watcher catches up in bounded chunks: every
// eth_getLogs call spans at most StepBlocks blocks, the calls tile the
// missed range exactly, and the deposits in it are each announced once.
func TestCatchUpInBoundedChunks(t *testing.T) {
	alice := newWallet(1)
	s := newSim(t)
	usdc := s.deploy()
	src := &countingSource{Source: s.source()}
	x := &world{t: t, dir: tempDir(t), net: devNetwork(1, networks.Token{Address: usdc, Symbol: "USDC", Decimals: 6}), src: src, in: &inbox{}}
	x.open()
	storeWallets(t, x.db, alice)
	drain(t, x.w, x.d)
	x.close()

	// Down for 1,050 blocks with deposits at the edges and in the middle.
	var want []common.Hash
	for i := range 1050 {
		if i == 0 || i == 499 || i == 1048 {
			want = append(want, s.send(s.faucet, &usdc, new(big.Int), transferData(alice.addr, big.NewInt(int64(i+1)))).Hash())
			want = append(want, s.send(s.faucet, &alice.addr, big.NewInt(int64(i+1)), nil).Hash())
		}
		s.commit(1)
	}
	x.open()
	cur, _ := x.db.WatchCursor(1337)
	src.logs = nil
	x.w.o.StepBlocks = 100
	drain(t, x.w, x.d)
	end, _ := x.db.WatchCursor(1337)
	if end.Block != s.head()-1 {
		t.Fatalf("cursor at %d, head %d", end.Block, s.head())
	}
	next := cur.Block + 1
	for _, r := range src.logs {
		if r[0] != next || r[1] < r[0] || r[1]-r[0]+1 > 100 {
			t.Fatalf("eth_getLogs ranges %v: %v is not the next chunk of at most 100 from %d", src.logs, r, next)
		}
		next = r[1] + 1
	}
	calls := int((end.Block - cur.Block + 99) / 100) // 11, or 12 if s.commit added blocks
	if next != end.Block+1 || len(src.logs) != calls || calls < 11 {
		t.Fatalf("eth_getLogs ranges %v do not tile %d..%d in %d calls", src.logs, cur.Block+1, end.Block, calls)
	}
	for _, h := range want {
		if n := len(x.in.byTx(h)); n != 1 {
			t.Errorf("tx %s: %d alerts", h, n)
		}
	}
	if len(x.in.list()) != len(want) {
		t.Fatalf("%d alerts, want %d", len(x.in.list()), len(want))
	}
	t.Logf("caught up %d blocks in %d eth_getLogs calls: %v", end.Block-cur.Block, len(src.logs), src.logs)
	x.close()
}

// A failing delivery is retried with backoff; the owner's later alerts wait
// behind it (in order), other owners are not held up; an undeliverable
// alert is dropped.
func TestDeliveryRetriesInOrder(t *testing.T) {
	alice, bob, carol := newWallet(1), newWallet(2), newWallet(3)
	s := newSim(t)
	db := openStore(t, tempDir(t))
	storeWallets(t, db, alice, bob, carol)
	addrs, _ := LoadAddresses(db)
	w, _ := New(Options{Network: devNetwork(1), Source: s.source(), Store: db, Addresses: addrs})
	in := &inbox{}
	d := NewDeliverer(db, in.notify, nil)
	drain(t, w, d)
	a1 := s.send(s.faucet, &alice.addr, eth(1), nil)
	s.mine(0, a1.Hash())
	a2 := s.send(s.faucet, &alice.addr, eth(2), nil)
	b1 := s.send(s.faucet, &bob.addr, eth(3), nil)
	c1 := s.send(s.faucet, &carol.addr, eth(4), nil)
	s.mine(1, a1.Hash(), a2.Hash(), b1.Hash(), c1.Hash())
	down := true
	in.fail = func(dep storage.Deposit) error {
		switch {
		case dep.Owner == alice.owner && down:
			return errors.New("telegram: 502")
		case dep.Owner == carol.owner:
			return fmt.Errorf("telegram: 403 blocked by user: %w", ErrUndeliverable)
		}
		return nil
	}
	drain(t, w, d)
	if p, _ := db.Deposits(bob.owner, 10, 0); len(p) != 1 {
		t.Fatalf("bob's deposits: %+v", p)
	}
	if got := in.list(); len(got) != 1 || got[0].TxHash != b1.Hash() {
		t.Fatalf("first pass delivered %+v, want only bob's", got)
	}
	if p, _ := db.PendingAlerts(10); len(p) != 2 {
		t.Fatalf("outbox has %d, want alice's 2 (carol's dropped)", len(p))
	}
	// Before the backoff ends nothing is tried again.
	d.Deliver(context.Background())
	if len(in.list()) != 1 {
		t.Fatal("retried before the backoff")
	}
	down = false
	d.MinBackoff = 0
	d.retry = map[uint64]retryState{}
	d.Deliver(context.Background())
	got := in.list()
	if len(got) != 3 || got[1].TxHash != a1.Hash() || got[2].TxHash != a2.Hash() {
		t.Fatalf("alice's alerts out of order or missing: %+v", got)
	}
	if len(in.byTx(c1.Hash())) != 0 {
		t.Fatal("undeliverable alert delivered")
	}
}

// More alerts than one page of the outbox, all of a failing owner first:
// another owner's alert behind them is still delivered.
func TestDeliveryPagesPastAFailingOwner(t *testing.T) {
	db := openStore(t, tempDir(t))
	defer db.Close()
	var ds []storage.Deposit
	for i := range outboxPage + 1 {
		owner := int64(1)
		if i == outboxPage {
			owner = 2
		}
		ds = append(ds, storage.Deposit{ChainID: 1337, To: benchAddress(uint64(owner)), Owner: owner, Amount: big.NewInt(1),
			TxHash: common.BytesToHash(big.NewInt(int64(i + 1)).Bytes()), LogIndex: storage.NativeLogIndex, Block: 5, Time: time.Unix(1, 0)})
	}
	if n, err := db.StoreWatchedBlocks(storage.WatchCursor{ChainID: 1337, Block: 5, Hashes: []common.Hash{{5}}}, ds); err != nil || n != len(ds) {
		t.Fatalf("store: %d %v", n, err)
	}
	in := &inbox{fail: func(d storage.Deposit) error {
		if d.Owner == 1 {
			return errors.New("down")
		}
		return nil
	}}
	d := NewDeliverer(db, in.notify, nil)
	if n, err := d.Deliver(context.Background()); err != nil || n != 1 {
		t.Fatalf("delivered %d, %v; want owner 2's one alert", n, err)
	}
	if got := in.list(); len(got) != 1 || got[0].Owner != 2 {
		t.Fatalf("got %+v", got)
	}
}
