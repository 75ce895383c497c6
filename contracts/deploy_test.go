package contracts

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"

	"github.com/autowallet/autowallet/internal/testchain"
)

var transferSig = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// simChain is a simulated backend with funded keys; blocks are made by the
// Deployers' Commit.
type simChain struct {
	sim  *simulated.Backend
	keys []*ecdsa.PrivateKey
}

func newSimChain(t *testing.T, n int, extra types.GenesisAlloc) *simChain {
	t.Helper()
	alloc := types.GenesisAlloc{}
	for a, acct := range extra {
		alloc[a] = acct
	}
	c := &simChain{}
	for i := 0; i < n; i++ {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, k)
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether))}
	}
	c.sim = simulated.NewBackend(alloc)
	t.Cleanup(func() { c.sim.Close() })
	return c
}

func (c *simChain) deployer(i int) *Deployer {
	d := NewDeployer(c.sim.Client(), c.keys[i], params.AllDevChainProtocolChanges.ChainID)
	d.Commit = func() { c.sim.Commit() }
	return d
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// usdt6 is n whole tokens in 6-decimal units.
func usdt6(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1_000_000)) }

// checkTokenFlow mints to the owner, transfers from the owner to bob, and
// checks balances, the Transfer log and what transfer returns: 32 bytes (true)
// for an OpenZeppelin token, nothing for a USDT-style one.
func checkTokenFlow(t *testing.T, ctx context.Context, b Backend, d *Deployer, token common.Address, wantReturn []byte) {
	t.Helper()
	owner, bob := d.Address(), common.HexToAddress("0x00000000000000000000000000000000000b0b01")
	if _, err := d.Mint(ctx, token, owner, usdt6(1000)); err != nil {
		t.Fatalf("mint: %v", err)
	}
	caller, err := NewTestUSDTCaller(token, b)
	if err != nil {
		t.Fatal(err)
	}
	// What transfer returns, by eth_call from the owner.
	data, err := testUSDTABI(t).Pack("transfer", bob, usdt6(25))
	if err != nil {
		t.Fatal(err)
	}
	ret, err := b.CallContract(ctx, ethereum.CallMsg{From: owner, To: &token, Data: data}, nil)
	if err != nil {
		t.Fatalf("eth_call transfer: %v", err)
	}
	if !bytes.Equal(ret, wantReturn) {
		t.Fatalf("transfer returned %x, want %x", ret, wantReturn)
	}
	r, err := d.Transfer(ctx, token, bob, usdt6(25))
	if err != nil {
		t.Fatalf("transfer: %v", err)
	}
	for who, want := range map[common.Address]*big.Int{owner: usdt6(975), bob: usdt6(25)} {
		got, err := caller.BalanceOf(&bind.CallOpts{Context: ctx}, who)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cmp(want) != 0 {
			t.Errorf("balance of %s = %s, want %s", who, got, want)
		}
	}
	if len(r.Logs) != 1 {
		t.Fatalf("transfer left %d logs, want 1 Transfer", len(r.Logs))
	}
	l := r.Logs[0]
	if l.Address != token || len(l.Topics) != 3 || l.Topics[0] != transferSig ||
		common.BytesToAddress(l.Topics[1].Bytes()) != owner || common.BytesToAddress(l.Topics[2].Bytes()) != bob ||
		new(big.Int).SetBytes(l.Data).Cmp(usdt6(25)) != 0 {
		t.Fatalf("Transfer log = %+v", l)
	}
	// More than the balance reverts; the balance stays.
	if _, err := d.Transfer(ctx, token, bob, usdt6(976)); !errors.Is(err, ErrReverted) && !isEstimateRevert(err) {
		t.Fatalf("transfer above the balance: %v, want a revert", err)
	}
}

// isEstimateRevert reports an error from gas estimation of a call that
// reverts (bind estimates the gas before it signs).
func isEstimateRevert(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("revert"))
}

func testUSDTABI(t *testing.T) interface {
	Pack(string, ...interface{}) ([]byte, error)
} {
	a, err := TestUSDTMetaData.GetAbi()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSimulatedTestUSDC(t *testing.T) {
	c := newSimChain(t, 2, nil)
	ctx, d := ctxT(t), c.deployer(0)
	addr, usdc, err := d.DeployTestUSDC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opts := &bind.CallOpts{Context: ctx}
	if dec, _ := usdc.Decimals(opts); dec != Decimals {
		t.Errorf("decimals = %d", dec)
	}
	if s, _ := usdc.Symbol(opts); s != "USDC" {
		t.Errorf("symbol = %q", s)
	}
	if s, _ := usdc.Name(opts); s != "Test USD Coin" {
		t.Errorf("name = %q", s)
	}
	if o, _ := usdc.Owner(opts); o != d.Address() {
		t.Errorf("owner = %s, want the deployer %s", o, d.Address())
	}
	checkTokenFlow(t, ctx, c.sim.Client(), d, addr, common.LeftPadBytes([]byte{1}, 32))
	// Only the owner mints.
	if _, err := c.deployer(1).Mint(ctx, addr, d.Address(), usdt6(1)); !errors.Is(err, ErrReverted) && !isEstimateRevert(err) {
		t.Fatalf("mint by another key: %v, want a revert", err)
	}
}

func TestSimulatedTestUSDT(t *testing.T) {
	c := newSimChain(t, 2, nil)
	ctx, d := ctxT(t), c.deployer(0)
	addr, usdt, err := d.DeployTestUSDT(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opts := &bind.CallOpts{Context: ctx}
	if dec, _ := usdt.Decimals(opts); dec != Decimals {
		t.Errorf("decimals = %d", dec)
	}
	if s, _ := usdt.Symbol(opts); s != "USDT" {
		t.Errorf("symbol = %q", s)
	}
	// transfer moves the balance yet returns no data at all.
	checkTokenFlow(t, ctx, c.sim.Client(), d, addr, []byte{})
	if _, err := c.deployer(1).Mint(ctx, addr, d.Address(), usdt6(1)); !errors.Is(err, ErrReverted) && !isEstimateRevert(err) {
		t.Fatalf("mint by another key: %v, want a revert", err)
	}
	// The Tether quirk: a non-zero allowance must go to zero first.
	spender := c.deployer(1).Address()
	if _, err := d.send(ctx, func(o *bind.TransactOpts) (*types.Transaction, error) { return usdt.Approve(o, spender, usdt6(5)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := d.send(ctx, func(o *bind.TransactOpts) (*types.Transaction, error) { return usdt.Approve(o, spender, usdt6(6)) }); !errors.Is(err, ErrReverted) && !isEstimateRevert(err) {
		t.Fatalf("approve non-zero over non-zero: %v, want a revert", err)
	}
}

func TestGasPriceOracleGenesisAndDeployAgree(t *testing.T) {
	fee := big.NewInt(7_000_000_000) // 7 gwei
	c := newSimChain(t, 1, types.GenesisAlloc{GasPriceOracleAddress: GasPriceOracleGenesis(fee)})
	ctx, d := ctxT(t), c.deployer(0)
	deployed, _, err := d.DeployGasPriceOracle(ctx, fee)
	if err != nil {
		t.Fatal(err)
	}
	// The genesis account's code is what the constructor leaves.
	code, err := c.sim.Client().CodeAt(ctx, GasPriceOracleAddress, nil)
	if err != nil || !bytes.Equal(code, GasPriceOracleRuntimeCode()) {
		t.Fatalf("code at the predeploy: %d bytes, %v", len(code), err)
	}
	datas := [][]byte{nil, {0}, {1}, bytes.Repeat([]byte{0, 0xff, 3}, 100), common.FromHex("0x02f86c8205398084")}
	for _, at := range []common.Address{GasPriceOracleAddress, deployed} {
		o, err := NewGasPriceOracleCaller(at, c.sim.Client())
		if err != nil {
			t.Fatal(err)
		}
		opts := &bind.CallOpts{Context: ctx}
		if got, err := o.L1BaseFee(opts); err != nil || got.Cmp(fee) != 0 {
			t.Fatalf("%s l1BaseFee = %v, %v", at, got, err)
		}
		if got, err := o.Decimals(opts); err != nil || got.Int64() != 6 {
			t.Fatalf("%s decimals = %v, %v", at, got, err)
		}
		for _, data := range datas {
			got, err := o.GetL1Fee(opts, data)
			if err != nil {
				t.Fatal(err)
			}
			if want := L1Fee(data, fee); got.Cmp(want) != 0 {
				t.Errorf("%s getL1Fee(%d bytes) = %s, want %s", at, len(data), got, want)
			}
			bound, err := o.GetL1FeeUpperBound(opts, big.NewInt(int64(len(data))))
			if err != nil || bound.Cmp(got) < 0 {
				t.Errorf("%s getL1FeeUpperBound(%d) = %v (%v), below getL1Fee %s", at, len(data), bound, err, got)
			}
		}
	}
	// A known figure: 3 non-zero bytes, 1 zero byte at 7 gwei.
	want := new(big.Int).Mul(big.NewInt(3*16+4+68*16), fee)
	if got := L1Fee([]byte{1, 0, 2, 3}, fee); got.Cmp(want) != 0 {
		t.Fatalf("L1Fee = %s, want %s", got, want)
	}
}

// TestGethDevTokens deploys both tokens on a real geth --dev node, mints and
// transfers.
func TestGethDevTokens(t *testing.T) {
	node := testchain.Start(t, testchain.WithPeriod(0))
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	node.Fund(t, crypto.PubkeyToAddress(key.PublicKey), big.NewInt(params.Ether))
	ctx := ctxT(t)
	cl, err := ethclient.DialContext(ctx, node.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	d := NewDeployer(cl, key, new(big.Int).SetUint64(node.ChainID))
	usdc, _, err := d.DeployTestUSDC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkTokenFlow(t, ctx, cl, d, usdc, common.LeftPadBytes([]byte{1}, 32))
	usdt, _, err := d.DeployTestUSDT(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkTokenFlow(t, ctx, cl, d, usdt, []byte{})
}

// lyingCode is a chain whose node reports other code than what was deployed
// (a hostile or broken RPC node).
type lyingCode struct{ Backend }

func (l lyingCode) CodeAt(ctx context.Context, a common.Address, n *big.Int) ([]byte, error) {
	code, err := l.Backend.CodeAt(ctx, a, n)
	if len(code) > 0 {
		code[len(code)-1] ^= 1
	}
	return code, err
}

// TestDeployRefusesOtherCode: a deployment whose on-chain code is not the
// committed build is an error, not a token the tests would trust.
func TestDeployRefusesOtherCode(t *testing.T) {
	c := newSimChain(t, 1, nil)
	d := NewDeployer(lyingCode{c.sim.Client()}, c.keys[0], params.AllDevChainProtocolChanges.ChainID)
	d.Commit = func() { c.sim.Commit() }
	if _, _, err := d.DeployTestUSDC(ctxT(t)); !errors.Is(err, ErrCodeMismatch) {
		t.Fatalf("deploy with other code on chain: %v, want ErrCodeMismatch", err)
	}
}
