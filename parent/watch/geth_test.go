package watch

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/autowallet/autowallet/contracts"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/networks"
)

// On geth --dev over JSON-RPC (RPCSource, batched block reads, eth_getLogs):
// the compiled OpenZeppelin ERC-20 (TestUSDC), the USDT-style token whose
// transfer returns nothing, a native transfer and a transfer between two of
// our users each make one alert; a spam token that calls itself USDC, the
// sender's outgoing transfers and a transfer to oneself make none.
func TestGethDepositsExactlyOnce(t *testing.T) {
	node := testchain.Start(t, testchain.WithPeriod(0))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ec, err := ethclient.DialContext(ctx, node.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	issuer, alice, bob := newWallet(0), newWallet(1), newWallet(2)
	node.Fund(t, issuer.addr, eth(10))
	node.Fund(t, alice.addr, eth(1))
	chainID := new(big.Int).SetUint64(testchain.ChainID)
	dep := contracts.NewDeployer(ec, issuer.key, chainID)
	usdc, _, err := dep.DeployTestUSDC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	usdt, _, err := dep.DeployTestUSDT(ctx)
	if err != nil {
		t.Fatal(err)
	}
	spam, _, err := dep.DeployTestUSDC(ctx) // also says "USDC", not listed
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []common.Address{usdc, usdt, spam} {
		if _, err := dep.Mint(ctx, tok, issuer.addr, big.NewInt(1e12)); err != nil {
			t.Fatal(err)
		}
	}

	n := networks.DevL1()
	n.Confirmations = 2
	n.ExplorerURL = "https://explorer.test"
	n.Tokens = []networks.Token{{Address: usdc, Symbol: "USDC", Decimals: 6}, {Address: usdt, Symbol: "USDT", Decimals: 6}}
	db := openStore(t, tempDir(t))
	defer db.Close()
	storeWallets(t, db, alice, bob)
	addrs, _ := LoadAddresses(db)
	src, err := Dial(ctx, node.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w, err := New(Options{Network: n, Source: src, Store: db, Addresses: addrs})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CheckChain(ctx); err != nil {
		t.Fatal(err)
	}
	var in inbox
	d := NewDeliverer(db, in.notify, nil)
	drain(t, w, d) // fresh start: the mints above are history

	txOf := func(r *types.Receipt, err error) common.Hash {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r.TxHash
	}
	usdcIn := txOf(dep.Transfer(ctx, usdc, alice.addr, big.NewInt(25_000_000)))
	usdtIn := txOf(dep.Transfer(ctx, usdt, bob.addr, big.NewInt(10_500_000)))
	spamIn := txOf(dep.Transfer(ctx, spam, alice.addr, big.NewInt(1_000_000_000)))
	nativeIn := node.Fund(t, bob.addr, eth(3)).TxHash
	aliceDep := contracts.NewDeployer(ec, alice.key, chainID)
	aliceToBob := txOf(aliceDep.Transfer(ctx, usdc, bob.addr, big.NewInt(5_000_000)))
	aliceSelf := txOf(aliceDep.Transfer(ctx, usdc, alice.addr, big.NewInt(1_000_000)))
	aliceOut := txOf(aliceDep.Transfer(ctx, usdc, issuer.addr, big.NewInt(1_000_000)))
	node.Mine(t)
	node.Mine(t)
	drain(t, w, d)
	drain(t, w, d)

	for _, c := range []struct {
		name  string
		tx    common.Hash
		owner int64
		want  int
	}{
		{"USDC in", usdcIn, alice.owner, 1}, {"USDT in", usdtIn, bob.owner, 1}, {"native in", nativeIn, bob.owner, 1},
		{"alice to bob", aliceToBob, bob.owner, 1}, {"spam USDC", spamIn, 0, 0}, {"alice to herself", aliceSelf, 0, 0},
		{"alice's outgoing", aliceOut, 0, 0},
	} {
		got := in.byTx(c.tx)
		if len(got) != c.want || (c.want == 1 && got[0].Owner != c.owner) {
			t.Errorf("%s: alerts %+v, want %d for owner %d", c.name, got, c.want, c.owner)
		}
	}
	if len(in.list()) != 4 {
		t.Errorf("%d alerts, want 4: %+v", len(in.list()), in.list())
	}
	usdt1 := in.byTx(usdtIn)
	if len(usdt1) == 1 {
		if txt := AlertText(usdt1[0], &n); txt != "Received 10.5 USDT on Dev L1 from "+issuer.addr.Hex()+"\nhttps://explorer.test/tx/"+usdtIn.Hex() {
			t.Errorf("text %q", txt)
		}
	}
	// Later blocks announce nothing again.
	node.Mine(t)
	node.Mine(t)
	drain(t, w, d)
	if len(in.list()) != 4 {
		t.Errorf("repeat alerts: %+v", in.list())
	}
}
