package watch

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
)

// One native and one ERC-20 deposit each make exactly one alert; a spam
// token, a self-transfer, a zero self-transfer (Replace's cancel), a
// reverted... and an outgoing transfer make none for the sender, while a
// transfer between two of our users is incoming for the receiver.
func TestDepositsAlertExactlyOnce(t *testing.T) {
	alice, bob := newWallet(1), newWallet(2)
	s := newSim(t, alice.addr, bob.addr)
	usdc, spam := s.deploy(), s.deploy()
	n := devNetwork(2, networks.Token{Address: usdc, Symbol: "USDC", Decimals: 6})
	db := openStore(t, tempDir(t))
	storeWallets(t, db, alice, bob)
	addrs, err := LoadAddresses(db)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{Network: n, Source: s.source(), Store: db, Addresses: addrs})
	if err != nil {
		t.Fatal(err)
	}
	var in inbox
	d := NewDeliverer(db, in.notify, nil)
	drain(t, w, d) // fresh start at the confirmed head

	stranger := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	native := s.send(s.faucet, &alice.addr, eth(1), nil)
	token := s.send(s.faucet, &usdc, new(big.Int), transferData(bob.addr, big.NewInt(25_000_000)))
	spamTx := s.send(s.faucet, &spam, new(big.Int), transferData(alice.addr, big.NewInt(1_000_000_000)))
	self := s.send(alice.key, &alice.addr, eth(1), nil)
	zeroSelf := s.send(alice.key, &alice.addr, new(big.Int), nil)
	out := s.send(alice.key, &stranger, eth(1), nil)
	tokenOut := s.send(alice.key, &usdc, new(big.Int), transferData(stranger, big.NewInt(5)))
	tokenSelf := s.send(bob.key, &usdc, new(big.Int), transferData(bob.addr, big.NewInt(7)))
	aliceToBob := s.send(alice.key, &bob.addr, eth(2), nil)
	all := []common.Hash{native.Hash(), token.Hash(), spamTx.Hash(), self.Hash(), zeroSelf.Hash(), out.Hash(), tokenOut.Hash(), tokenSelf.Hash(), aliceToBob.Hash()}
	s.mine(0, all...)
	r, _ := s.b.Client().TransactionReceipt(context.Background(), native.Hash())
	deposit := r.BlockNumber.Uint64()

	// Only blocks with 2 on top are announced.
	s.commit(1)
	drain(t, w, d)
	for _, a := range in.list() {
		if a.Block+2 > s.head() {
			t.Fatalf("alert for block %d at head %d (2 confirmations): %+v", a.Block, s.head(), a)
		}
	}
	s.commit(1)
	drain(t, w, d)
	drain(t, w, d)

	got := in.list()
	if len(got) != 3 {
		t.Fatalf("got %d alerts, want 3: %+v", len(got), got)
	}
	for _, h := range []common.Hash{native.Hash(), token.Hash(), aliceToBob.Hash()} {
		if n := len(in.byTx(h)); n != 1 {
			t.Errorf("tx %s: %d alerts, want 1", h, n)
		}
	}
	for _, h := range []common.Hash{spamTx.Hash(), self.Hash(), zeroSelf.Hash(), out.Hash(), tokenOut.Hash(), tokenSelf.Hash()} {
		if n := len(in.byTx(h)); n != 0 {
			t.Errorf("tx %s: %d alerts, want none", h, n)
		}
	}
	nd := in.byTx(native.Hash())[0]
	if nd.Owner != alice.owner || !nd.Native() || nd.Amount.Cmp(eth(1)) != 0 || nd.Block != deposit || nd.LogIndex != storage.NativeLogIndex {
		t.Errorf("native deposit: %+v", nd)
	}
	td := in.byTx(token.Hash())[0]
	if td.Owner != bob.owner || td.Token != usdc || td.Amount.Int64() != 25_000_000 || td.From != s.faucetAddr() {
		t.Errorf("token deposit: %+v", td)
	}
	if txt := AlertText(td, &n); txt != "Received 25 USDC on Dev L1 from "+s.faucetAddr().Hex()+"\nhttps://explorer.test/tx/"+token.Hash().Hex() {
		t.Errorf("text: %q", txt)
	}
	if bd := in.byTx(aliceToBob.Hash())[0]; bd.Owner != bob.owner || bd.From != alice.addr {
		t.Errorf("alice to bob: %+v", bd)
	}

	// History: newest first, per owner.
	hist, err := db.Deposits(bob.owner, 10, 0)
	if err != nil || len(hist) != 2 {
		t.Fatalf("bob's deposits: %v %+v", err, hist)
	}
	if hist, _ := db.Deposits(alice.owner, 10, 0); len(hist) != 1 || hist[0].TxHash != native.Hash() {
		t.Fatalf("alice's deposits: %+v", hist)
	}
	// More steps and passes change nothing.
	s.commit(3)
	drain(t, w, d)
	if len(in.list()) != 3 {
		t.Fatalf("repeat alerts: %+v", in.list())
	}
	if p, _ := db.PendingAlerts(10); len(p) != 0 {
		t.Fatalf("outbox not empty: %+v", p)
	}
}

func (s *sim) faucetAddr() common.Address { return addrOf(s.faucet) }

// A reverted native transfer moved nothing and makes no alert.
func TestRevertedTransferNoAlert(t *testing.T) {
	alice := newWallet(1)
	s := newSim(t)
	// A contract that always reverts: PUSH1 0 DUP1 REVERT, deployed as code.
	revert := []byte{0x60, 0x03, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x03, 0x60, 0x00, 0xf3, 0x60, 0x00, 0x80, 0xfd}
	tx := s.send(s.faucet, nil, new(big.Int), revert)
	s.commit(1)
	r, _ := s.b.Client().TransactionReceipt(context.Background(), tx.Hash())
	reverter := r.ContractAddress
	db := openStore(t, tempDir(t))
	storeWallets(t, db, alice)
	// Our "wallet" is the reverting contract's address, as if a wallet
	// rejected value: the receipt check must drop the deposit.
	if _, _, err := db.CreateWallet(storage.Wallet{Owner: 9, Address: reverter, Record: recordOf(9, reverter)}); err != nil {
		t.Fatal(err)
	}
	addrs, _ := LoadAddresses(db)
	w, _ := New(Options{Network: devNetwork(1), Source: s.source(), Store: db, Addresses: addrs})
	var in inbox
	d := NewDeliverer(db, in.notify, nil)
	drain(t, w, d)
	bad := s.sendFee(s.faucet, &reverter, eth(1), nil, big.NewInt(1e10))
	good := s.send(s.faucet, &alice.addr, eth(1), nil)
	s.commit(3)
	drain(t, w, d)
	if r, err := s.b.Client().TransactionReceipt(context.Background(), bad.Hash()); err != nil || r.Status != 0 {
		t.Fatalf("the transfer to the reverting address should be mined and fail: %v %+v", err, r)
	}
	if len(in.byTx(bad.Hash())) != 0 || len(in.byTx(good.Hash())) != 1 || len(in.list()) != 1 {
		t.Fatalf("alerts: %+v", in.list())
	}
}

// A fresh deployment starts at the confirmed head: a deposit before it is
// history (not announced); a wallet created later (Alerts.Watch, the
// parent's OnWalletCreated hook) is watched from then on.
func TestFreshStartAndNewWallet(t *testing.T) {
	alice, bob := newWallet(1), newWallet(2)
	s := newSim(t)
	db := openStore(t, tempDir(t))
	defer db.Close()
	storeWallets(t, db, alice)
	before := s.send(s.faucet, &alice.addr, eth(1), nil)
	s.mine(2, before.Hash())

	var in inbox
	n := devNetwork(1)
	a, err := NewAlerts(Config{Store: db, Networks: []networks.Network{n}, Notify: in.notify,
		Sources: map[uint64]Source{n.ChainID: s.source()}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Watchers) != 1 || a.Addresses.Len() != 1 {
		t.Fatalf("%d watchers, %d addresses", len(a.Watchers), a.Addresses.Len())
	}
	drain(t, a.Watchers[0], a.Deliverer)
	storeWallets(t, db, bob)
	a.Watch(bob.addr, bob.owner)
	after := s.send(s.faucet, &bob.addr, eth(2), nil)
	s.mine(1, after.Hash())
	drain(t, a.Watchers[0], a.Deliverer)
	if len(in.byTx(before.Hash())) != 0 || len(in.byTx(after.Hash())) != 1 || len(in.list()) != 1 {
		t.Fatalf("alerts %+v: want only bob's deposit after the start", in.list())
	}
}
