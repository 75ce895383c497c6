package watch

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent/lease"
)

// A wallet created on another parent after this parent's watcher started
// is in neither its loaded set nor its hook: the watcher finds it in the
// store when a deposit names it (learn.go), token transfers included.
func TestWalletFromAnotherParentIsWatched(t *testing.T) {
	s := newSim(t)
	token := s.deploy()
	db := openStore(t, tempDir(t))
	defer db.Close()
	var in inbox
	n := devNetwork(1, networks.Token{Address: token, Symbol: "TST", Decimals: 6})
	a, err := NewAlerts(Config{Store: db, Networks: []networks.Network{n}, Notify: in.notify,
		Sources: map[uint64]Source{n.ChainID: s.source()}})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, a.Watchers[0], a.Deliverer)
	bob := newWallet(2)
	storeWallets(t, db, bob) // by the other parent: this one's set is not told
	native := s.send(s.faucet, &bob.addr, eth(1), nil)
	tok := s.send(s.faucet, &token, nil, transferData(bob.addr, big.NewInt(5)))
	s.mine(1, native.Hash(), tok.Hash())
	drain(t, a.Watchers[0], a.Deliverer)
	if len(in.byTx(native.Hash())) != 1 || len(in.byTx(tok.Hash())) != 1 {
		t.Fatalf("alerts %+v: want bob's two deposits", in.list())
	}
	if o, ok := a.Addresses.Owner(bob.addr); !ok || o != bob.owner {
		t.Fatal("bob's wallet not added to the set")
	}
}

// Two parents' watchers and deliverers on one store under leases: each
// deposit is alerted once, and when the holder stops in the middle, the
// other carries on from the stored cursor.
func TestTwoWatchersUnderLeasesAlertOnce(t *testing.T) {
	alice := newWallet(1)
	s := newSim(t)
	db := openStore(t, tempDir(t))
	defer db.Close()
	storeWallets(t, db, alice)
	var in inbox
	n := devNetwork(1)
	start := func(holder string) (context.CancelFunc, *sync.WaitGroup) {
		a, err := NewAlerts(Config{Store: db, Networks: []networks.Network{n}, Notify: in.notify,
			Sources: map[uint64]Source{n.ChainID: s.source()}, Poll: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		a.Deliverer.Poll = 10 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			a.RunLeased(ctx, lease.Config{Store: db, Holder: holder, TTL: time.Second, Retry: 10 * time.Millisecond})
		})
		return cancel, &wg
	}
	stopA, wgA := start("parent-a")
	stopB, wgB := start("parent-b")
	defer func() { stopB(); wgB.Wait() }()
	// A fresh deployment announces nothing before its first cursor:
	// wait for it before the first deposit.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := db.WatchCursor(n.ChainID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no watcher stored a cursor")
		}
	}
	var sent []string
	for i := range 20 {
		tx := s.send(s.faucet, &alice.addr, eth(1), nil)
		sent = append(sent, tx.Hash().Hex())
		s.mine(1, tx.Hash())
		if i == 10 {
			stopA() // mid-work: the next deposits are B's
			wgA.Wait()
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.commit(2)
	deadline := time.Now().Add(20 * time.Second)
	for len(in.list()) < len(sent) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got := map[string]int{}
	for _, d := range in.list() {
		got[d.TxHash.Hex()]++
	}
	for _, h := range sent {
		if got[h] != 1 {
			t.Fatalf("deposit %s alerted %d times", h, got[h])
		}
	}
	if len(in.list()) != len(sent) {
		t.Fatalf("%d alerts for %d deposits", len(in.list()), len(sent))
	}
}
