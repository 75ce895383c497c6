package parent_test

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/contracts"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// devL2BaseFee is the L1 base fee of the dev L2's GasPriceOracle stand-in.
var devL2BaseFee = big.NewInt(3_000_000_000)

// multiStack is the parent serving two real chains (the dev L1 and L2
// stand-ins, go-ethereum's simulated backend over HTTP, each with the
// OpenZeppelin test USDC; the L2 with the GasPriceOracle stand-in), the L2
// behind a proxy a test can take down.
type multiStack struct {
	l1, l2  *devchain.Chain
	l2Down  atomic.Bool
	enclave *testenv.Enclave
	store   *bolt.DB
	svc     *parent.Service
	nets    networks.Set
}

func newMultiStack(t *testing.T) *multiStack {
	t.Helper()
	m := &multiStack{}
	var err error
	if m.l1, err = devchain.StartWith(devchain.Options{ChainID: networks.DevL1ChainID, Period: 300 * time.Millisecond, TestUSDC: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.l1.Close() })
	if m.l2, err = devchain.StartWith(devchain.Options{ChainID: networks.DevL2ChainID, Period: 200 * time.Millisecond,
		TestUSDC: true, L1BaseFee: devL2BaseFee}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.l2.Close() })
	// The L2's node, behind a proxy that answers 503 while l2Down is set.
	target, _ := url.Parse(m.l2.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	l2Proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.l2Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(l2Proxy.Close)

	m.enclave = testenv.StartEnclaveWithTokens(t, map[uint64][]common.Address{
		networks.DevL1ChainID: {m.l1.USDC}, networks.DevL2ChainID: {m.l2.USDC},
	}, networks.DevL1ChainID, networks.DevL2ChainID)
	if m.store, err = bolt.Open(t.TempDir(), bolt.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.store.Close() })
	l1, l2 := networks.DevL1(), networks.DevL2()
	l1.Tokens = []networks.Token{{Address: m.l1.USDC, Symbol: "USDC", Decimals: 6}}
	l2.Tokens = []networks.Token{{Address: m.l2.USDC, Symbol: "USDC", Decimals: 6}}
	l2.L1DataFee = true
	m.nets = networks.Set{l1, l2}
	opts := parent.ChainOptions{CallTimeout: 3 * time.Second, Retry: parent.RetryPolicy{MaxAttempts: 1}}
	c1, err := parent.DialChain(context.Background(), m.l1.URL, l1.ChainID, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c1.Close)
	c2, err := parent.DialChain(context.Background(), l2Proxy.URL, l2.ChainID, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c2.Close)
	m.svc, err = parent.NewService(m.store, parent.NewEnclaveClientTCP(m.enclave.Addr, 10*time.Second),
		[]parent.NetworkChain{{Network: l1, Chain: c1}, {Network: l2, Chain: c2}},
		parent.ServiceConfig{PollInterval: 200 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wallet creates user's wallet and drips what is asked on each chain,
// waiting until the balances show it.
func (m *multiStack) wallet(t *testing.T, user int64, ethL1, usdcL1, ethL2, usdcL2 bool) storage.Wallet {
	t.Helper()
	ctx := context.Background()
	w, _, err := m.svc.EnsureWallet(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	drips := []struct {
		on    bool
		drip  func(context.Context, common.Address) (*big.Int, common.Hash, error)
		chain uint64
		token common.Address
	}{
		{ethL1, m.l1.Drip, networks.DevL1ChainID, common.Address{}},
		{usdcL1, m.l1.DripToken, networks.DevL1ChainID, m.l1.USDC},
		{ethL2, m.l2.Drip, networks.DevL2ChainID, common.Address{}},
		{usdcL2, m.l2.DripToken, networks.DevL2ChainID, m.l2.USDC},
	}
	for _, d := range drips {
		if !d.on {
			continue
		}
		want, _, err := d.drip(ctx, w.Address)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			b := m.balanceOf(t, w.Address, d.chain, d.token)
			return b.Known() && b.Amount.Cmp(want) >= 0
		})
	}
	return w
}

func (m *multiStack) balanceOf(t *testing.T, a common.Address, chain uint64, token common.Address) parent.Balance {
	t.Helper()
	bs, err := m.svc.Balances(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.ChainID == chain && b.Token == token {
			return b
		}
	}
	t.Fatalf("no balance entry for chain %d token %s", chain, token)
	return parent.Balance{}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 100 {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("condition not met in 10 s")
}

var usdc25 = big.NewInt(25_000_000)

// TestBalancesPerNetworkAndToken: the native coin and the listed token on
// both networks, in the networks' order; with the L2's node down, its
// entries are unknown (Err wraps ErrNodeUnavailable, no amount) and the
// L1's are still read.
func TestBalancesPerNetworkAndToken(t *testing.T) {
	m := newMultiStack(t)
	w := m.wallet(t, 1, true, true, false, true)
	bs, err := m.svc.Balances(context.Background(), w.Address)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		chain  uint64
		symbol string
		amount *big.Int
	}{
		{networks.DevL1ChainID, "ETH", devchain.DripAmount},
		{networks.DevL1ChainID, "USDC", devchain.TokenDripAmount},
		{networks.DevL2ChainID, "ETH", new(big.Int)},
		{networks.DevL2ChainID, "USDC", devchain.TokenDripAmount},
	}
	if len(bs) != len(want) {
		t.Fatalf("%d balances, want %d: %+v", len(bs), len(want), bs)
	}
	for i, b := range bs {
		if b.ChainID != want[i].chain || b.Symbol != want[i].symbol || !b.Known() || b.Amount.Cmp(want[i].amount) != 0 {
			t.Errorf("balance %d: %+v, want %+v", i, b, want[i])
		}
	}
	m.l2Down.Store(true)
	bs, err = m.svc.Balances(context.Background(), w.Address)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		switch b.ChainID {
		case networks.DevL1ChainID:
			if !b.Known() {
				t.Errorf("L1 %s unknown while only the L2 is down: %v", b.Symbol, b.Err)
			}
		case networks.DevL2ChainID:
			if b.Known() || b.Amount != nil || !errors.Is(b.Err, parent.ErrNodeUnavailable) {
				t.Errorf("L2 %s with its node down: amount %v, err %v; want unknown", b.Symbol, b.Amount, b.Err)
			}
		}
	}
}

// TestTokenBuildRefusals: every refusal of a token build, by reason and
// with the numbers the bot turns into words.
func TestTokenBuildRefusals(t *testing.T) {
	m := newMultiStack(t)
	m.wallet(t, 1, true, true, false, true) // ETH + USDC on L1, USDC only on L2
	ctx := context.Background()
	to := common.HexToAddress("0x00000000000000000000000000000000000000c1")
	build := func(chain uint64, token common.Address, amount *big.Int) error {
		_, err := m.svc.Build(ctx, parent.BuildRequest{Owner: 1, ChainID: chain, Token: token, To: to, Amount: amount})
		return err
	}
	if err := build(8453, common.Address{}, usdc25); !errors.Is(err, parent.ErrUnknownNetwork) {
		t.Errorf("unknown network: %v", err)
	}
	// The L1's token contract is not on the L2's list.
	if err := build(networks.DevL2ChainID, m.l1.USDC, usdc25); !errors.Is(err, parent.ErrTokenNotListed) {
		t.Errorf("token of another network: %v", err)
	}
	var short *parent.InsufficientBalanceError
	err := build(networks.DevL1ChainID, m.l1.USDC, big.NewInt(100_000_001))
	if !errors.Is(err, parent.ErrBalanceTooLow) || !errors.As(err, &short) ||
		short.Symbol != "USDC" || short.Have.Cmp(devchain.TokenDripAmount) != 0 || short.Need.Int64() != 100_000_001 {
		t.Errorf("more than the token balance: %v (%+v)", err, short)
	}
	if err == nil || !strings.Contains(err.Error(), "you have 100 USDC on Dev L1") {
		t.Errorf("message: %v", err)
	}
	err = build(networks.DevL1ChainID, common.Address{}, devchain.DripAmount) // all of it: no room for the fee
	if !errors.As(err, &short) || short.Symbol != "ETH" || short.Fee == nil || short.Fee.Sign() <= 0 ||
		short.Need.Cmp(new(big.Int).Add(devchain.DripAmount, short.Fee)) != 0 {
		t.Errorf("native amount plus fee over the balance: %v (%+v)", err, short)
	}
	var noFee *parent.NoFeeCoinError
	err = build(networks.DevL2ChainID, m.l2.USDC, usdc25)
	if !errors.Is(err, parent.ErrNoFeeCoin) || !errors.Is(err, parent.ErrBalanceTooLow) || !errors.As(err, &noFee) {
		t.Fatalf("USDC but no ETH on the L2: %v", err)
	}
	if noFee.Network != "Dev L2" || noFee.TokenBalance.Cmp(devchain.TokenDripAmount) != 0 || noFee.NativeBalance.Sign() != 0 ||
		noFee.Fee.Sign() <= 0 || noFee.Likely.Sign() <= 0 || noFee.Likely.Cmp(noFee.Fee) > 0 {
		t.Errorf("no-fee-coin numbers: %+v", noFee)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "you have 100 USDC on Dev L2 but no ETH there to pay the network fee (about ") {
		t.Errorf("sentence: %q", msg)
	}
	// Nothing was stored by any refusal.
	if h, err := m.svc.History(1, 10, 0); err != nil || len(h) != 0 {
		t.Errorf("history after refusals: %d transfers, %v", len(h), err)
	}
}

// TestTokenBuildWithL1DataFee: a USDC transfer on the dev L2 goes to the
// token contract with transfer(to, amount), its gas limit is the node's
// estimate plus the margin, and its L1 data fee is the GasPriceOracle's
// answer for the transaction's unsigned bytes. EstimateFee shows the L1 fee
// on the L2 and none on the L1; on a network flagged for it whose oracle
// does not answer, it is unknown (not zero), and Build refuses.
func TestTokenBuildWithL1DataFee(t *testing.T) {
	m := newMultiStack(t)
	m.wallet(t, 1, true, false, true, true)
	ctx := context.Background()
	to := common.HexToAddress("0x00000000000000000000000000000000000000c2")
	tr, err := m.svc.Build(ctx, parent.BuildRequest{Owner: 1, ChainID: networks.DevL2ChainID, Token: m.l2.USDC, To: to, Amount: usdc25})
	if err != nil {
		t.Fatal(err)
	}
	var in protocol.Intent
	if err := in.UnmarshalBinary(tr.Intent); err != nil {
		t.Fatal(err)
	}
	if tr.ChainID != networks.DevL2ChainID || tr.Token != m.l2.USDC || in.Token != m.l2.USDC || in.To != to ||
		in.Amount.Cmp(usdc25) != 0 || in.GasLimit <= parent.GasLimitETH || tr.Nonce != 0 {
		t.Fatalf("transfer %+v, intent %+v", tr, in)
	}
	if want := new(big.Int).Mul(new(big.Int).SetUint64(in.GasLimit), in.MaxFeePerGas); tr.MaxFee.Cmp(want) != 0 {
		t.Errorf("max fee %v, want %v", tr.MaxFee, want)
	}
	// The L1 fee, computed independently from the stand-in's formula.
	unsigned, err := parent.UnsignedTxBytes(unsignedOf(&in))
	if err != nil {
		t.Fatal(err)
	}
	if want := contracts.L1Fee(unsigned, devL2BaseFee); tr.L1Fee == nil || tr.L1Fee.Cmp(want) != 0 {
		t.Errorf("L1 fee %v, want %v", tr.L1Fee, want)
	}
	stored, err := m.store.Transfer(tr.ID)
	if err != nil || stored.L1Fee == nil || stored.L1Fee.Cmp(tr.L1Fee) != 0 {
		t.Errorf("stored L1 fee %v, %v", stored.L1Fee, err)
	}

	f, err := m.svc.EstimateFee(ctx, networks.DevL2ChainID, m.l2.USDC)
	if err != nil || !f.HasL1DataFee || f.L1DataFee == nil || f.L1DataFee.Sign() <= 0 || f.GasLimit != parent.TypicalTokenGas {
		t.Fatalf("L2 estimate %+v, %v", f, err)
	}
	if total, ok := f.MaxTotal(); !ok || total.Cmp(new(big.Int).Add(f.MaxNetworkFee, f.L1DataFee)) != 0 {
		t.Errorf("max total %v %v", total, ok)
	}
	// For this very transfer: the node's estimate with the margin, as Build.
	f, err = m.svc.EstimateTransferFee(ctx, networks.DevL2ChainID, m.l2.USDC, tr.From, to, usdc25)
	if err != nil || f.GasLimit != in.GasLimit || f.L1DataFee == nil {
		t.Fatalf("transfer estimate %+v, %v; want gas %d", f, err, in.GasLimit)
	}
	f, err = m.svc.EstimateFee(ctx, networks.DevL1ChainID, common.Address{})
	if err != nil || f.HasL1DataFee || f.L1DataFee != nil || f.GasLimit != parent.GasLimitETH {
		t.Fatalf("L1 estimate %+v, %v", f, err)
	}

	// A network flagged for an L1 data fee whose chain has no oracle.
	l1 := networks.DevL1()
	l1.L1DataFee = true
	c, err := parent.DialChain(ctx, m.l1.URL, l1.ChainID, parent.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	svc, err := parent.NewService(m.store, parent.NewEnclaveClientTCP(m.enclave.Addr, 10*time.Second),
		[]parent.NetworkChain{{Network: l1, Chain: c}}, parent.ServiceConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f, err = svc.EstimateFee(ctx, l1.ChainID, common.Address{})
	if err != nil || !f.HasL1DataFee || f.L1DataFee != nil || !errors.Is(f.L1DataFeeErr, parent.ErrL1FeeUnknown) || f.L1Known() {
		t.Fatalf("estimate without an oracle: %+v, %v; want the L1 fee unknown", f, err)
	}
	if _, ok := f.MaxTotal(); ok {
		t.Error("a total without the L1 fee claims to be complete")
	}
	_, err = svc.Build(ctx, parent.BuildRequest{Owner: 1, To: to, Amount: big.NewInt(1e15)})
	if !errors.Is(err, parent.ErrL1FeeUnknown) {
		t.Errorf("build without the L1 fee: %v, want ErrL1FeeUnknown", err)
	}
}

// unsignedOf is the transaction the enclave signs for a token intent: to
// the token contract, value 0, data transfer(to, amount).
func unsignedOf(in *protocol.Intent) *types.Transaction {
	return types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(in.ChainID), Nonce: in.Nonce, GasTipCap: in.MaxPriorityFeePerGas,
		GasFeeCap: in.MaxFeePerGas, Gas: in.GasLimit, To: &in.Token, Value: new(big.Int),
		Data: parent.TransferCalldata(in.To, in.Amount),
	})
}

// TestNoncesPerChain: the same wallet builds on both networks with nonce 0
// on each; approved and mined on both, the next builds take nonce 1 on
// each, and the nonce index holds one entry per chain.
func TestNoncesPerChain(t *testing.T) {
	m := newMultiStack(t)
	w := m.wallet(t, 1, true, false, true, false)
	ctx := context.Background()
	to := common.HexToAddress("0x00000000000000000000000000000000000000c3")
	var built []storage.Transfer
	for _, chain := range []uint64{networks.DevL1ChainID, networks.DevL2ChainID} {
		tr, err := m.svc.Build(ctx, parent.BuildRequest{Owner: 1, ChainID: chain, To: to, Amount: big.NewInt(1e15)})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Nonce != 0 || tr.ChainID != chain {
			t.Fatalf("first build on %d: nonce %d chain %d", chain, tr.Nonce, tr.ChainID)
		}
		built = append(built, tr)
	}
	for _, chain := range []uint64{networks.DevL1ChainID, networks.DevL2ChainID} {
		if ns, err := m.store.ActiveNonces(chain, w.Address); err != nil || len(ns) != 1 || ns[0] != 0 {
			t.Fatalf("active nonces on %d: %v, %v", chain, ns, err)
		}
	}
	for _, tr := range built {
		if _, err := m.svc.Approve(ctx, m.enclave.InitData(1, tr.StartParam)); err != nil {
			t.Fatalf("approve on %d: %v", tr.ChainID, err)
		}
	}
	for _, tr := range built {
		for i := 0; ; i++ {
			m.svc.TrackOnce(ctx)
			got, _ := m.store.Transfer(tr.ID)
			if got.State == storage.StateConfirmed {
				if got.FeePaid == nil || got.FeePaid.Sign() <= 0 {
					t.Errorf("confirmed on %d without the fee paid", tr.ChainID)
				}
				break
			}
			if i == 100 {
				t.Fatalf("transfer on %d: %s (%s)", tr.ChainID, got.State, got.Reason)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, chain := range []uint64{networks.DevL1ChainID, networks.DevL2ChainID} {
		tr, err := m.svc.Build(ctx, parent.BuildRequest{Owner: 1, ChainID: chain, To: to, Amount: big.NewInt(1e15)})
		if err != nil || tr.Nonce != 1 {
			t.Fatalf("second build on %d: nonce %d, %v", chain, tr.Nonce, err)
		}
	}
}

// TestTokenTransferMinedOnL2: a USDC transfer on the dev L2, built by the
// parent, approved with Telegram-signed initData, signed by the enclave
// (which builds transfer(to, amount) itself) and checked by the parent, is
// mined: the token balances move by exactly the amount, the ETH balance by
// exactly the fee paid, which the confirmed transfer records.
func TestTokenTransferMinedOnL2(t *testing.T) {
	m := newMultiStack(t)
	w := m.wallet(t, 1, false, false, true, true)
	ctx := context.Background()
	to := common.HexToAddress("0x00000000000000000000000000000000000000c4")
	ethBefore := m.balanceOf(t, w.Address, networks.DevL2ChainID, common.Address{}).Amount
	tr, err := m.svc.Build(ctx, parent.BuildRequest{Owner: 1, ChainID: networks.DevL2ChainID, Token: m.l2.USDC, To: to, Amount: usdc25})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.svc.Approve(ctx, m.enclave.InitData(1, tr.StartParam)); err != nil {
		t.Fatalf("approve: %v", err)
	}
	var done storage.Transfer
	for i := 0; ; i++ {
		m.svc.TrackOnce(ctx)
		done, _ = m.store.Transfer(tr.ID)
		if done.State == storage.StateConfirmed {
			break
		}
		if i == 100 || done.State.Final() {
			t.Fatalf("transfer: %s (%s)", done.State, done.Reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := m.balanceOf(t, w.Address, networks.DevL2ChainID, m.l2.USDC).Amount; got.Cmp(new(big.Int).Sub(devchain.TokenDripAmount, usdc25)) != 0 {
		t.Errorf("sender USDC %v", got)
	}
	if got := m.balanceOf(t, to, networks.DevL2ChainID, m.l2.USDC).Amount; got.Cmp(usdc25) != 0 {
		t.Errorf("recipient USDC %v", got)
	}
	ethAfter := m.balanceOf(t, w.Address, networks.DevL2ChainID, common.Address{}).Amount
	if done.FeePaid == nil || new(big.Int).Sub(ethBefore, ethAfter).Cmp(done.FeePaid) != 0 {
		t.Errorf("ETH %v -> %v, fee paid %v", ethBefore, ethAfter, done.FeePaid)
	}
}

// TestBuildRefusesTokenContractRecipient: a transfer to a listed token's
// own contract (the token sent, another listed token, or the native coin
// to it) is refused with ErrRecipientIsToken in words, before any balance
// is read, and nothing is stored; a plain address still builds.
func TestBuildRefusesTokenContractRecipient(t *testing.T) {
	m := newMultiStack(t)
	m.wallet(t, 1, true, true, false, false)
	ctx := context.Background()
	build := func(chain uint64, token, to common.Address, amount *big.Int) error {
		_, err := m.svc.Build(ctx, parent.BuildRequest{Owner: 1, ChainID: chain, Token: token, To: to, Amount: amount})
		return err
	}
	cases := []struct {
		name      string
		chain     uint64
		token, to common.Address
		amount    *big.Int
		want      string
	}{
		{"the token sent, to its own contract", networks.DevL1ChainID, m.l1.USDC, m.l1.USDC, usdc25,
			"that address is the USDC token contract itself on Dev L1; tokens sent to it are lost"},
		{"the native coin, to a listed token's contract", networks.DevL1ChainID, common.Address{}, m.l1.USDC, big.NewInt(1e15),
			"that address is the USDC token contract itself on Dev L1; ETH sent to it is lost"},
		// The L2's USDC needs no balance: the refusal comes first.
		{"on the other network", networks.DevL2ChainID, m.l2.USDC, m.l2.USDC, usdc25,
			"that address is the USDC token contract itself on Dev L2; tokens sent to it are lost"},
	}
	for _, c := range cases {
		err := build(c.chain, c.token, c.to, c.amount)
		if !errors.Is(err, parent.ErrRecipientIsToken) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrRecipientIsToken %q", c.name, err, c.want)
		}
	}
	if h, err := m.svc.History(1, 10, 0); err != nil || len(h) != 0 {
		t.Errorf("history after refusals: %d transfers, %v", len(h), err)
	}
	// The same amount to an ordinary address builds.
	if err := build(networks.DevL1ChainID, m.l1.USDC, common.HexToAddress("0x00000000000000000000000000000000000000c1"), usdc25); err != nil {
		t.Errorf("USDC to a plain address: %v", err)
	}
}
