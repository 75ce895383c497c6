package parent_test

import (
	"context"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/autowallet/autowallet/contracts"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// TestGethTokensThroughMiniAppApproval sends the compiled OpenZeppelin
// ERC-20 and the USDT-style token (whose transfer returns nothing) on a real
// geth --dev, each end to end: Build, the Mini App API's approve with the
// Telegram-signed initData the page posts, the enclave's own transfer
// calldata, broadcast, confirmation. Token balances move by exactly the
// amount, and the wallet's ETH falls by exactly the fee the receipt says
// was paid.
func TestGethTokensThroughMiniAppApproval(t *testing.T) {
	node := testchain.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Deploy both tokens with a key of our own (geth's dev account is not a
	// key we hold).
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	node.Fund(t, crypto.PubkeyToAddress(key.PublicKey), big.NewInt(params.Ether))
	cl, err := ethclient.DialContext(ctx, node.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	d := contracts.NewDeployer(cl, key, new(big.Int).SetUint64(node.ChainID))
	usdc, _, err := d.DeployTestUSDC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	usdt, _, err := d.DeployTestUSDT(ctx)
	if err != nil {
		t.Fatal(err)
	}

	net := networks.Network{ChainID: node.ChainID, Name: "geth dev", NativeSymbol: "ETH", NativeDecimals: 18, Confirmations: 2,
		Tokens: []networks.Token{{Address: usdc, Symbol: "USDC", Decimals: 6}, {Address: usdt, Symbol: "USDT", Decimals: 6}}}
	enc := testenv.StartEnclaveWithTokens(t, map[uint64][]common.Address{node.ChainID: {usdc, usdt}}, node.ChainID)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	chain, err := parent.DialChain(ctx, node.URL, node.ChainID, parent.ChainOptions{CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chain.Close)
	svc, err := parent.NewService(store, parent.NewEnclaveClientTCP(enc.Addr, 10*time.Second),
		[]parent.NetworkChain{{Network: net, Chain: chain}},
		parent.ServiceConfig{PollInterval: 200 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.RegisterAPI(mux)
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	s := &stack{node: node, enclave: enc, store: store, chain: chain, svc: svc, api: api}

	w := s.fundedWallet(t, 7, big.NewInt(params.Ether/10))
	const minted = 1_000_000_000 // 1,000 tokens of 6 decimals
	for _, tok := range []common.Address{usdc, usdt} {
		if _, err := d.Mint(ctx, tok, w.Address, big.NewInt(minted)); err != nil {
			t.Fatal(err)
		}
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000000d7")

	for _, tc := range []struct {
		name  string
		token common.Address
	}{{"OpenZeppelin ERC-20", usdc}, {"USDT-style, transfer returns nothing", usdt}} {
		t.Run(tc.name, func(t *testing.T) {
			amount := big.NewInt(25_000_000) // 25 tokens
			ethBefore := s.balance(t, w.Address)
			tr, err := svc.Build(ctx, parent.BuildRequest{Owner: 7, ChatID: 7, ChainID: node.ChainID, Token: tc.token, To: to, Amount: amount})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			var in protocol.Intent
			if err := in.UnmarshalBinary(tr.Intent); err != nil {
				t.Fatal(err)
			}
			if in.Token != tc.token || in.To != to || in.GasLimit <= 21000 {
				t.Fatalf("intent: token %s to %s gas %d", in.Token, in.To, in.GasLimit)
			}
			if code, _, perr := s.approve(t, enc.InitData(7, tr.StartParam)); code != http.StatusOK {
				t.Fatalf("approve: %d %v", code, perr)
			}
			done := s.trackUntil(t, tr.ID, storage.StateConfirmed)
			tok := parentTokenBalance(t, cl, tc.token)
			if got := tok(w.Address); got.Cmp(big.NewInt(minted-25_000_000)) != 0 {
				t.Errorf("sender holds %v, want %d", got, minted-25_000_000)
			}
			if got := tok(to); got.Cmp(amount) != 0 {
				t.Errorf("recipient holds %v, want %v", got, amount)
			}
			spent := new(big.Int).Sub(ethBefore, s.balance(t, w.Address))
			if done.FeePaid == nil || spent.Cmp(done.FeePaid) != 0 || spent.Sign() <= 0 {
				t.Errorf("ETH spent %v, fee paid %v: a token transfer must cost exactly its fee", spent, done.FeePaid)
			}
			if max := in.MaxFee(); spent.Cmp(max) > 0 {
				t.Errorf("ETH spent %v above the approved max fee %v", spent, max)
			}
		})
		// The second token's transfer starts from the first one's balance:
		// reset the recipient's expectation by sending to a fresh address.
		to = common.BigToAddress(new(big.Int).Add(to.Big(), big.NewInt(1)))
	}
}

// parentTokenBalance reads balanceOf through the committed bindings.
func parentTokenBalance(t *testing.T, cl *ethclient.Client, token common.Address) func(common.Address) *big.Int {
	t.Helper()
	c, err := contracts.NewTestUSDC(token, cl) // balanceOf is the same ABI on both tokens
	if err != nil {
		t.Fatal(err)
	}
	return func(a common.Address) *big.Int {
		b, err := c.BalanceOf(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}
