package watch

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// replace sends, after a Fork, a transaction with the nonce of tx from the
// same key and a higher fee, so the reorged-out tx can never come back. The
// pool takes the reorg in asynchronously, so it retries for a while.
func (s *sim) replace(key walletKey, nonce uint64, to common.Address, value *big.Int) common.Hash {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.nonces[addrOf(key)] = nonce
		h, err := s.trySend(key, &to, value, big.NewInt(100e9))
		if err == nil {
			return h
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("replacement not accepted: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *sim) headHash() common.Hash {
	h, err := s.b.Client().HeaderByNumber(context.Background(), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return h.Hash()
}

// A reorg within the confirmation depth: the deposit that left the chain is
// never announced, the one that replaced it is, once.
func TestReorgWithinConfirmationsNoWrongAlert(t *testing.T) {
	alice := newWallet(1)
	s := newSim(t)
	db := openStore(t, tempDir(t))
	storeWallets(t, db, alice)
	addrs, _ := LoadAddresses(db)
	w, _ := New(Options{Network: devNetwork(2), Source: s.source(), Store: db, Addresses: addrs})
	var in inbox
	d := NewDeliverer(db, in.notify, nil)
	s.commit(3)
	drain(t, w, d)

	fork := s.headHash()
	nonce := s.nonces[s.faucetAddr()]
	gone := s.send(s.faucet, &alice.addr, eth(1), nil)
	s.commit(2) // the deposit has 1 block on top: not confirmed at depth 2
	drain(t, w, d)
	if len(in.list()) != 0 {
		t.Fatalf("alert before the confirmations: %+v", in.list())
	}

	if err := s.b.Fork(fork); err != nil {
		t.Fatal(err)
	}
	kept := s.replace(s.faucet, nonce, alice.addr, eth(2))
	s.commit(5)
	drain(t, w, d)
	drain(t, w, d)
	if len(in.byTx(gone.Hash())) != 0 {
		t.Fatalf("the reorged-out deposit was announced: %+v", in.list())
	}
	if got := in.byTx(kept); len(got) != 1 || got[0].Amount.Cmp(eth(2)) != 0 || len(in.list()) != 1 {
		t.Fatalf("alerts: %+v, want one for %s", in.list(), kept)
	}
}

// A reorg deeper than the confirmation depth: the watcher finds the common
// ancestor among its stored hashes and scans the new blocks. The deposit
// announced from the replaced block cannot be taken back (documented); the
// new one is announced once.
func TestDeepReorgRewinds(t *testing.T) {
	alice := newWallet(1)
	s := newSim(t)
	db := openStore(t, tempDir(t))
	storeWallets(t, db, alice)
	addrs, _ := LoadAddresses(db)
	w, _ := New(Options{Network: devNetwork(1), Source: s.source(), Store: db, Addresses: addrs})
	var in inbox
	d := NewDeliverer(db, in.notify, nil)
	s.commit(3)
	drain(t, w, d)

	fork, forkNum := s.headHash(), s.head()
	nonce := s.nonces[s.faucetAddr()]
	old := s.send(s.faucet, &alice.addr, eth(1), nil)
	s.commit(3)
	drain(t, w, d)
	if len(in.byTx(old.Hash())) != 1 {
		t.Fatalf("alerts: %+v", in.list())
	}
	cur, _ := db.WatchCursor(1337)

	if err := s.b.Fork(fork); err != nil {
		t.Fatal(err)
	}
	kept := s.replace(s.faucet, nonce, alice.addr, eth(2))
	s.commit(6)
	drain(t, w, d) // detects the reorg and rewinds
	back, _ := db.WatchCursor(1337)
	if back.Block != forkNum || cur.Block <= forkNum {
		t.Fatalf("cursor rewound to %d, want the common ancestor %d (was %d)", back.Block, forkNum, cur.Block)
	}
	drain(t, w, d)
	if len(in.byTx(kept)) != 1 || len(in.byTx(old.Hash())) != 1 || len(in.list()) != 2 {
		t.Fatalf("alerts: %+v", in.list())
	}
}

// Below every stored hash: the watcher stops on that network (ErrDeepReorg)
// instead of guessing.
func TestReorgBeyondStoredHashesStops(t *testing.T) {
	s := newSim(t)
	s.commit(5)
	db := openStore(t, tempDir(t))
	bogus := storage.WatchCursor{ChainID: 1337, Block: 3, Hashes: []common.Hash{{1}, {2}}}
	if _, err := db.StoreWatchedBlocks(bogus, nil); err != nil {
		t.Fatal(err)
	}
	w, _ := New(Options{Network: devNetwork(1), Source: s.source(), Store: db, Addresses: NewAddresses(0)})
	if _, err := w.Step(context.Background()); !errors.Is(err, ErrDeepReorg) {
		t.Fatalf("step: %v, want ErrDeepReorg", err)
	}
	if c, _ := db.WatchCursor(1337); c.Block != 3 {
		t.Fatalf("cursor moved: %+v", c)
	}
}

// The common ancestor is found by binary search over the stored hashes: a
// few block reads, not one per stored block.
func TestRewindFindsAncestorQuickly(t *testing.T) {
	db := openStore(t, tempDir(t))
	defer db.Close()
	cur := storage.WatchCursor{ChainID: 1337, Block: 355}
	for n := uint64(100); n <= 355; n++ {
		h := blockHash(n)
		if n >= 300 {
			h = common.Hash{0xee, byte(n)} // the blocks that left the chain
		}
		cur.Hashes = append(cur.Hashes, h)
	}
	if _, err := db.StoreWatchedBlocks(cur, nil); err != nil {
		t.Fatal(err)
	}
	mem := &memSource{head: 400}
	src := &countingSource{Source: mem}
	w, _ := New(Options{Network: devNetwork(1), Source: src, Store: db, Addresses: NewAddresses(0), StepBlocks: 10})
	if _, err := w.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	back, _ := db.WatchCursor(1337)
	if back.Block != 299 || len(back.Hashes) != 200 {
		t.Fatalf("rewound to %d with %d hashes, want 299 with 200", back.Block, len(back.Hashes))
	}
	if src.blocks > 10+11 { // the step's 10, then the search
		t.Fatalf("%d blocks read to find the ancestor", src.blocks)
	}
	t.Logf("ancestor found with %d block reads", src.blocks-10)
}
