package parent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// stack is the parent wired to real parts: geth --dev, the enclave server on
// loopback, a bbolt file, and the Mini App API on a loopback listener.
type stack struct {
	node    *testchain.Node
	enclave *testenv.Enclave
	store   *bolt.DB
	chain   *parent.Chain
	svc     *parent.Service
	api     *httptest.Server
}

// newStack starts the stack; rpc, if given, maps the node's URL to the one
// the parent dials (a proxy in front of the node).
func newStack(t *testing.T, rpc ...func(nodeURL string) string) *stack {
	t.Helper()
	return newStackOn(t, testchain.Start(t), rpc...)
}

// newStackOn is newStack on a node the test started with its own options.
func newStackOn(t *testing.T, node *testchain.Node, rpc ...func(nodeURL string) string) *stack {
	t.Helper()
	rpcURL := node.URL
	for _, f := range rpc {
		rpcURL = f(rpcURL)
	}
	enc := testenv.StartEnclave(t, node.ChainID)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	chain, err := parent.DialChain(ctx, rpcURL, node.ChainID, parent.ChainOptions{
		CallTimeout: 3 * time.Second,
		Retry:       parent.RetryPolicy{MaxAttempts: 2, Initial: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chain.Close)
	svc, err := parent.NewService(store, parent.NewEnclaveClientTCP(enc.Addr, 10*time.Second), parent.OneNetwork(chain), parent.ServiceConfig{
		Confirmations: 2,
		PollInterval:  200 * time.Millisecond,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.RegisterAPI(mux)
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	return &stack{node: node, enclave: enc, store: store, chain: chain, svc: svc, api: api}
}

// fundedWallet creates user's wallet through the enclave and funds it.
func (s *stack) fundedWallet(t *testing.T, user int64, wei *big.Int) storage.Wallet {
	t.Helper()
	w, created, err := s.svc.EnsureWallet(context.Background(), user)
	if err != nil || !created {
		t.Fatalf("EnsureWallet(%d) = created %v, %v", user, created, err)
	}
	if wei != nil {
		s.node.Fund(t, w.Address, wei)
	}
	return w
}

func (s *stack) build(t *testing.T, user int64, to common.Address, eth string) storage.Transfer {
	t.Helper()
	amount, err := parent.ParseETH(eth)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.svc.Build(context.Background(), parent.BuildRequest{Owner: user, To: to, Amount: amount, ChatID: user})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return tr
}

// post sends body to an API path and decodes the answer.
func (s *stack) post(t *testing.T, path string, body []byte) (int, parent.MiniAppResponse, *protocol.Error) {
	t.Helper()
	resp, err := http.Post(s.api.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var ok parent.MiniAppResponse
	var bad struct {
		Error *protocol.Error `json:"error"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &ok); err != nil {
			t.Fatalf("200 with body %q", raw)
		}
		return resp.StatusCode, ok, nil
	}
	if err := json.Unmarshal(raw, &bad); err != nil || bad.Error == nil {
		t.Fatalf("status %d with body %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, ok, bad.Error
}

func (s *stack) approve(t *testing.T, initData string) (int, parent.MiniAppResponse, *protocol.Error) {
	t.Helper()
	body, _ := json.Marshal(parent.MiniAppRequest{InitData: initData})
	return s.post(t, parent.PathMiniAppApprove, body)
}

// trackUntil runs tracker passes until the transfer reaches want (bounded).
func (s *stack) trackUntil(t *testing.T, id string, want storage.State) storage.Transfer {
	t.Helper()
	for range 150 {
		s.svc.TrackOnce(context.Background())
		tr, err := s.store.Transfer(id)
		if err != nil {
			t.Fatal(err)
		}
		if tr.State == want {
			return tr
		}
		if tr.State.Final() {
			t.Fatalf("transfer ended %s (%s), want %s", tr.State, tr.Reason, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("transfer %s did not reach %s", id, want)
	return storage.Transfer{}
}

func (s *stack) balance(t *testing.T, a common.Address) *big.Int {
	t.Helper()
	b, err := s.chain.Balance(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *stack) pendingNonce(t *testing.T, a common.Address) uint64 {
	t.Helper()
	n, err := s.chain.PendingNonce(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func eth(s string) *big.Int {
	v, err := parent.ParseETH(s)
	if err != nil {
		panic(err)
	}
	return v
}

// TestTransferEndToEnd: a wallet made by the enclave, funded on geth, sends
// to a second wallet, approved only by Telegram-signed initData posted to the
// Mini App API; the transaction is mined and confirmed and both balances move
// by exactly the amount and the fee.
func TestTransferEndToEnd(t *testing.T) {
	s := newStack(t)
	alice := s.fundedWallet(t, 1001, eth("1"))
	bob := s.fundedWallet(t, 1002, nil)

	tr := s.build(t, 1001, bob.Address, "0.05")
	if tr.State != storage.StateBuilt || tr.Nonce != 0 || tr.From != alice.Address {
		t.Fatalf("built transfer = %+v", tr)
	}
	status, resp, apiErr := s.approve(t, s.enclave.InitData(1001, tr.StartParam))
	if apiErr != nil || status != http.StatusOK {
		t.Fatalf("approve: %d %v", status, apiErr)
	}
	if resp.Status != "sent" || resp.TransferID != tr.ID || !strings.HasPrefix(resp.TxHash, "0x") {
		t.Fatalf("approve response = %+v", resp)
	}
	done := s.trackUntil(t, tr.ID, storage.StateConfirmed)
	if done.TxHash.Hex() != resp.TxHash || done.Block == 0 {
		t.Fatalf("confirmed transfer = %+v", done)
	}
	r, err := s.chain.Receipt(context.Background(), done.TxHash)
	if err != nil || !r.Succeeded() || r.BlockNumber != done.Block {
		t.Fatalf("receipt = %+v, %v", r, err)
	}
	wantAlice := new(big.Int).Sub(eth("1"), eth("0.05"))
	wantAlice.Sub(wantAlice, r.Fee())
	if got := s.balance(t, alice.Address); got.Cmp(wantAlice) != 0 {
		t.Errorf("alice balance = %s, want %s", got, wantAlice)
	}
	if got := s.balance(t, bob.Address); got.Cmp(eth("0.05")) != 0 {
		t.Errorf("bob balance = %s, want 0.05 ETH", got)
	}
	// The same approval again: refused, and nothing more is broadcast.
	status, _, apiErr = s.approve(t, s.enclave.InitData(1001, tr.StartParam))
	if status != http.StatusConflict || apiErr == nil || apiErr.Code != protocol.CodeAlreadyApproved {
		t.Fatalf("second approval = %d %v, want 409 already_approved", status, apiErr)
	}
	if n := s.pendingNonce(t, alice.Address); n != 1 {
		t.Fatalf("alice nonce = %d after one transfer, want 1", n)
	}
}

// TestApprovalRefusals: every bad approval gets its code and nothing is
// broadcast (the wallet's nonce does not move, the transfer stays built).
func TestApprovalRefusals(t *testing.T) {
	s := newStack(t)
	alice := s.fundedWallet(t, 2001, eth("1"))
	bob := s.fundedWallet(t, 2002, eth("1"))
	tr := s.build(t, 2001, bob.Address, "0.01")

	forger := testenv.SignInitData(testenv.StartEnclave(t, s.node.ChainID).Key, 2001, tr.StartParam, time.Now())
	unknown := otherIntent(t, tr.StartParam)
	cases := []struct {
		name   string
		body   []byte
		status int
		code   protocol.Code
	}{
		{"another user's transfer", mustJSON(s.enclave.InitData(2002, tr.StartParam)), 403, protocol.CodeWrongOwner},
		{"forged signature", mustJSON(forger), 401, protocol.CodeBadSignature},
		{"stale auth_date", mustJSON(testenv.SignInitData(s.enclave.Key, 2001, tr.StartParam, time.Now().Add(-2*time.Hour))), 401, protocol.CodeStaleAuth},
		{"no start_param", mustJSON(s.enclave.InitData(2001, "")), 400, protocol.CodeMalformedIntent},
		{"unknown transfer", mustJSON(s.enclave.InitData(2001, unknown)), 404, protocol.CodeUnknownTransfer},
		{"garbage body", []byte("approve please"), 400, protocol.CodeMalformedRequest},
		{"wrong type", []byte(`{"init_data": 5}`), 400, protocol.CodeMalformedRequest},
		{"unknown field", []byte(`{"init_data": "", "record": "x"}`), 400, protocol.CodeMalformedRequest},
		{"trailing data", []byte(`{"init_data": ""} {}`), 400, protocol.CodeMalformedRequest},
		{"oversized body", mustJSON(strings.Repeat("a", 20<<10)), 413, protocol.CodeTooLarge},
		{"malformed initData", mustJSON("user=%zz"), 400, protocol.CodeMalformedInitData},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, apiErr := s.post(t, parent.PathMiniAppApprove, c.body)
			if status != c.status || apiErr == nil || apiErr.Code != c.code {
				t.Fatalf("got %d %v, want %d %s", status, apiErr, c.status, c.code)
			}
			if strings.Contains(apiErr.Message, "signature=") || strings.Contains(apiErr.Message, "auth_date=") {
				t.Fatalf("error message echoes initData: %q", apiErr.Message)
			}
		})
	}
	if n := s.pendingNonce(t, alice.Address); n != 0 {
		t.Fatalf("alice nonce = %d after refused approvals, want 0", n)
	}
	if got, _ := s.store.Transfer(tr.ID); got.State != storage.StateBuilt {
		t.Fatalf("transfer state = %s after refused approvals, want built", got.State)
	}

	t.Run("expired intent", func(t *testing.T) {
		s.svc.SetNow(func() time.Time { return time.Now().Add(-time.Hour) })
		old := s.build(t, 2001, bob.Address, "0.02")
		s.svc.SetNow(time.Now)
		status, _, apiErr := s.approve(t, s.enclave.InitData(2001, old.StartParam))
		if status != 403 || apiErr == nil || apiErr.Code != protocol.CodeIntentExpired {
			t.Fatalf("got %d %v, want 403 intent_expired", status, apiErr)
		}
		if got := s.trackUntil(t, old.ID, storage.StateExpired); got.Reason == "" {
			t.Fatal("expired transfer has no reason")
		}
		if n := s.pendingNonce(t, alice.Address); n != 0 {
			t.Fatalf("alice nonce = %d, want 0", n)
		}
	})

	// Cancelling is the chat card's Cancel (CancelByOwner): there is no
	// cancel with initData, which would hand the host an approval.
	t.Run("cancel then approve", func(t *testing.T) {
		c := s.build(t, 2002, alice.Address, "0.03")
		body := mustJSON(s.enclave.InitData(2002, c.StartParam))
		resp, err := http.Post(s.api.URL+"/miniapp/api/cancel", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("POST /miniapp/api/cancel = %d, want 404: the initData cancel is gone", resp.StatusCode)
		}
		if _, err := s.svc.CancelByOwner(c.ID, 2001); !errors.Is(err, protocol.ErrWrongOwner) {
			t.Fatalf("cancel by another user: %v, want wrong_owner", err)
		}
		if got, err := s.svc.CancelByOwner(c.ID, 2002); err != nil || got.State != storage.StateCancelled {
			t.Fatalf("cancel by owner = %v %v", got.State, err)
		}
		status, _, apiErr := s.post(t, parent.PathMiniAppApprove, body)
		if status != 409 || apiErr == nil || apiErr.Code != protocol.CodeTransferClosed {
			t.Fatalf("approve after cancel = %d %v, want 409 transfer_closed", status, apiErr)
		}
		// The cancelled transfer's nonce is free again.
		next := s.build(t, 2002, alice.Address, "0.01")
		if next.Nonce != c.Nonce {
			t.Fatalf("nonce after cancel = %d, want the freed %d", next.Nonce, c.Nonce)
		}
	})
}

// TestNonceDiscipline: intents built concurrently for one wallet leave
// exactly one unapproved transfer: each build supersedes the one before it
// and takes its nonce, so no nonce is held by a transfer nobody approves.
func TestNonceDiscipline(t *testing.T) {
	s := newStack(t)
	alice := s.fundedWallet(t, 3001, eth("1"))
	bob := s.fundedWallet(t, 3002, nil)
	const n = 8
	ids := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			tr, err := s.svc.Build(context.Background(), parent.BuildRequest{Owner: 3001, To: bob.Address, Amount: eth("0.001")})
			errs <- err
			ids <- tr.ID
		}()
	}
	var all []string
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		all = append(all, <-ids)
	}
	built := map[string]bool{}
	for _, id := range all {
		tr, err := s.store.Transfer(id)
		if err != nil || tr.Nonce != 0 {
			t.Fatalf("transfer %s: nonce %d, %v; want 0", id, tr.Nonce, err)
		}
		switch tr.State {
		case storage.StateBuilt:
			built[id] = true
		case storage.StateSuperseded:
		default:
			t.Fatalf("transfer %s is %s", id, tr.State)
		}
	}
	if len(built) != 1 {
		t.Fatalf("%d transfers awaiting approval, want 1", len(built))
	}
	if ns, _ := s.store.ActiveNonces(s.node.ChainID, alice.Address); len(ns) != 1 || ns[0] != 0 {
		t.Fatalf("held nonces %v, want [0]", ns)
	}
}

// TestBuildRefusals: bad requests are refused by reason before anything is
// stored.
func TestBuildRefusals(t *testing.T) {
	s := newStack(t)
	s.fundedWallet(t, 4001, eth("0.01"))
	bob := s.fundedWallet(t, 4002, nil)
	ctx := context.Background()
	cases := []struct {
		name string
		req  parent.BuildRequest
		want error
	}{
		{"no wallet", parent.BuildRequest{Owner: 4999, To: bob.Address, Amount: eth("0.001")}, parent.ErrNoWallet},
		{"more than the balance", parent.BuildRequest{Owner: 4001, To: bob.Address, Amount: eth("0.01")}, parent.ErrBalanceTooLow},
		{"zero amount", parent.BuildRequest{Owner: 4001, To: bob.Address, Amount: new(big.Int)}, parent.ErrBadAmount},
		{"zero address", parent.BuildRequest{Owner: 4001, Amount: eth("0.001")}, parent.ErrBadAddress},
	}
	for _, c := range cases {
		if _, err := s.svc.Build(ctx, c.req); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if list, _ := s.store.TransfersByOwner(4001, 10, 0); len(list) != 0 {
		t.Fatalf("refused builds stored %d transfers", len(list))
	}
}

// TestNodeDownDuringApproval: the node is stopped when the user approves; the
// signed transaction is stored (approved), and once the node is back the
// tracker sends it, once.
func TestNodeDownDuringApproval(t *testing.T) {
	s := newStack(t)
	alice := s.fundedWallet(t, 5001, eth("1"))
	bob := s.fundedWallet(t, 5002, nil)
	tr := s.build(t, 5001, bob.Address, "0.1")
	s.node.Stop(t)
	status, resp, apiErr := s.approve(t, s.enclave.InitData(5001, tr.StartParam))
	if status != 200 || resp.Status != "approved" || apiErr != nil {
		t.Fatalf("approve with node down = %d %+v %v, want 200 approved", status, resp, apiErr)
	}
	s.svc.TrackOnce(context.Background()) // node still down: nothing changes, nothing lost
	if got, _ := s.store.Transfer(tr.ID); got.State != storage.StateApproved || len(got.SignedTx) == 0 {
		t.Fatalf("transfer while node down = %s", got.State)
	}
	s.node.Start(t)
	done := s.trackUntil(t, tr.ID, storage.StateConfirmed)
	if done.TxHash.Hex() != resp.TxHash {
		t.Fatalf("sent %s, approved %s", done.TxHash.Hex(), resp.TxHash)
	}
	if n := s.pendingNonce(t, alice.Address); n != 1 {
		t.Fatalf("nonce = %d, want 1: sent exactly once", n)
	}
	if got := s.balance(t, bob.Address); got.Cmp(eth("0.1")) != 0 {
		t.Fatalf("bob balance = %s, want 0.1 ETH", got)
	}
}

func mustJSON(initData string) []byte {
	b, _ := json.Marshal(parent.MiniAppRequest{InitData: initData})
	return b
}

// otherIntent is a valid intent that was never built: sp with another amount.
func otherIntent(t *testing.T, sp string) string {
	t.Helper()
	in, err := protocol.DecodeStartParam(sp)
	if err != nil {
		t.Fatal(err)
	}
	in.Amount = new(big.Int).Add(in.Amount, big.NewInt(1))
	out, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
