package parent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// trackWhile runs tracker passes while cond holds for the stored transfer
// (bounded), failing if it ends final; it returns the transfer.
func (s *stack) trackWhile(t *testing.T, id string, cond func(storage.Transfer) bool) storage.Transfer {
	t.Helper()
	for range 150 {
		s.svc.TrackOnce(context.Background())
		tr, err := s.store.Transfer(id)
		if err != nil {
			t.Fatal(err)
		}
		if !cond(tr) {
			return tr
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("transfer %s never changed", id)
	return storage.Transfer{}
}

func (s *stack) latestNonce(t *testing.T, a common.Address) uint64 {
	t.Helper()
	n, err := s.chain.LatestNonce(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *stack) noReceipt(t *testing.T, tr storage.Transfer) {
	t.Helper()
	if _, err := s.chain.Receipt(context.Background(), tr.TxHash); !errors.Is(err, parent.ErrNoReceipt) {
		t.Fatalf("transfer %s (%s) has a receipt or the node failed: %v", tr.ID, tr.State, err)
	}
}

// notAccepted is the stored state of a signed transfer the node refused.
func notAcceptedFor(reason string) func(storage.Transfer) bool {
	return func(tr storage.Transfer) bool {
		return !(tr.State == storage.StateApproved && strings.Contains(tr.Reason, reason))
	}
}

// twoSigned sets up what a user meets when an earlier transfer was held
// back: a (0.6 ETH) is approved while the node is down, b (0.6 ETH) is built
// and approved behind it (the card says why it waits), then a goes through
// and b, which the 1 ETH wallet can no longer pay, is refused by geth for
// insufficient funds. It returns a (confirmed) and b (approved, not
// accepted).
func twoSigned(t *testing.T, s *stack, user int64, alice, bob storage.Wallet) (a, b storage.Transfer) {
	t.Helper()
	a = s.build(t, user, bob.Address, "0.6")
	s.node.Stop(t)
	if status, resp, apiErr := s.approve(t, s.enclave.InitData(user, a.StartParam)); status != 200 || resp.Status != "approved" {
		t.Fatalf("approve a with the node down = %d %+v %v", status, resp, apiErr)
	}
	a, _ = s.store.Transfer(a.ID)
	if a.State != storage.StateApproved || !strings.Contains(a.Reason, "not reachable") {
		t.Fatalf("a with the node down = %s %q", a.State, a.Reason)
	}
	s.node.Start(t)
	b = s.build(t, user, bob.Address, "0.6")
	if b.Nonce != a.Nonce+1 {
		t.Fatalf("b nonce %d, want %d: after the signed a", b.Nonce, a.Nonce+1)
	}
	if status, _, apiErr := s.approve(t, s.enclave.InitData(user, b.StartParam)); status != 200 {
		t.Fatalf("approve b = %d %v", status, apiErr)
	}
	b, _ = s.store.Transfer(b.ID)
	if w, ok := s.svc.WaitingFor(b); !ok || w.ID != a.ID {
		t.Fatalf("b (%s) waits for %+v %v, want a", b.State, w.ID, ok)
	}
	a = s.trackUntil(t, a.ID, storage.StateConfirmed)
	// b was in the pool behind a; once a is mined the wallet has 0.4 ETH
	// left, the node drops b and refuses it when it is sent again.
	b = s.trackWhile(t, b.ID, notAcceptedFor("enough ETH"))
	if b.State != storage.StateApproved || !strings.Contains(b.Reason, "not have enough ETH") {
		t.Fatalf("b = %s %q, want approved, not accepted for lack of funds", b.State, b.Reason)
	}
	// More passes: refused again and again, still open, never failed.
	for range 5 {
		s.svc.TrackOnce(context.Background())
		time.Sleep(100 * time.Millisecond)
	}
	if got, _ := s.store.Transfer(b.ID); got.State != storage.StateApproved {
		t.Fatalf("b after refusals = %s %q, want approved", got.State, got.Reason)
	}
	if _, ok := s.svc.WaitingFor(b); ok {
		t.Fatal("b still waits for a after a was confirmed")
	}
	s.noReceipt(t, b)
	return a, b
}

// TestRefusedForFundsStaysOpen: a signed transfer the node refuses for
// insufficient funds stays open; a replacement built meanwhile loses once
// the wallet is funded and the tracker's rebroadcast is mined: the
// recipient is paid exactly once per transfer, the chain nonce is the number
// of transfers mined, and the replacement ends "not needed".
func TestRefusedForFundsStaysOpen(t *testing.T) {
	s := newStack(t)
	alice := s.fundedWallet(t, 7001, eth("1"))
	bob := s.fundedWallet(t, 7002, nil)
	_, b := twoSigned(t, s, 7001, alice, bob)

	r, err := s.svc.Build(context.Background(), parent.BuildRequest{Owner: 7001, Replace: b.ID, ChatID: 7001})
	if err != nil {
		t.Fatalf("build replacement: %v", err)
	}
	s.node.Fund(t, alice.Address, eth("1"))
	done := s.trackUntil(t, b.ID, storage.StateConfirmed)
	if done.TxHash != b.TxHash {
		t.Fatalf("confirmed %s, signed %s", done.TxHash.Hex(), b.TxHash.Hex())
	}
	// The replacement, approved too late, cannot be mined.
	if status, _, apiErr := s.approve(t, s.enclave.InitData(7001, r.StartParam)); status != 200 {
		t.Fatalf("approve r = %d %v", status, apiErr)
	}
	r = s.trackUntil(t, r.ID, storage.StateReplaced)
	if !strings.Contains(r.Reason, "your transfer was included first") {
		t.Fatalf("replacement reason %q", r.Reason)
	}
	s.noReceipt(t, r)
	if got := s.balance(t, bob.Address); got.Cmp(eth("1.2")) != 0 {
		t.Fatalf("bob has %s, want 1.2 ETH: each transfer paid exactly once", got)
	}
	if n := s.latestNonce(t, alice.Address); n != 2 {
		t.Fatalf("alice nonce %d, want 2", n)
	}
}

// TestReplaceWins: the user replaces the refused transfer; the replacement
// is mined, the original becomes replaced and is never paid, even after the
// wallet is funded again.
func TestReplaceWins(t *testing.T) {
	s := newStack(t)
	alice := s.fundedWallet(t, 7101, eth("1"))
	bob := s.fundedWallet(t, 7102, nil)
	_, b := twoSigned(t, s, 7101, alice, bob)

	r, err := s.svc.Build(context.Background(), parent.BuildRequest{Owner: 7101, Replace: b.ID, ChatID: 7101})
	if err != nil {
		t.Fatalf("build replacement: %v", err)
	}
	var orig, repl protocol.Intent
	if orig.UnmarshalBinary(b.Intent) != nil || repl.UnmarshalBinary(r.Intent) != nil {
		t.Fatal("stored intents do not decode")
	}
	minFee := new(big.Int).Div(new(big.Int).Mul(orig.MaxFeePerGas, big.NewInt(110)), big.NewInt(100))
	minTip := new(big.Int).Div(new(big.Int).Mul(orig.MaxPriorityFeePerGas, big.NewInt(110)), big.NewInt(100))
	if r.Kind != storage.KindReplacement || r.Replaces != b.ID || r.Nonce != b.Nonce || r.To != alice.Address ||
		r.Amount.Sign() != 0 || repl.MaxFeePerGas.Cmp(minFee) < 0 || repl.MaxPriorityFeePerGas.Cmp(minTip) < 0 {
		t.Fatalf("replacement %+v, fees %s/%s over %s/%s", r, repl.MaxFeePerGas, repl.MaxPriorityFeePerGas, orig.MaxFeePerGas, orig.MaxPriorityFeePerGas)
	}
	// A second Replace (a second later: the same second gives the same
	// intent, the same transfer) supersedes the first, unapproved one.
	time.Sleep(1100 * time.Millisecond)
	r2, err := s.svc.Build(context.Background(), parent.BuildRequest{Owner: 7101, Replace: b.ID, ChatID: 7101})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.store.Transfer(r.ID); got.State != storage.StateSuperseded {
		t.Fatalf("first replacement = %s, want superseded", got.State)
	}
	if status, _, apiErr := s.approve(t, s.enclave.InitData(7101, r.StartParam)); status != http.StatusConflict || apiErr.Code != protocol.CodeTransferClosed {
		t.Fatalf("approve superseded replacement = %d %v", status, apiErr)
	}
	if status, resp, apiErr := s.approve(t, s.enclave.InitData(7101, r2.StartParam)); status != 200 || resp.Status != "sent" {
		t.Fatalf("approve replacement = %d %+v %v", status, resp, apiErr)
	}
	s.trackUntil(t, r2.ID, storage.StateConfirmed)
	b = s.trackUntil(t, b.ID, storage.StateReplaced)
	if !strings.Contains(b.Reason, "replacement was included first") {
		t.Fatalf("original reason %q", b.Reason)
	}
	// Funds arrive later: the original's signed bytes can no longer be mined.
	s.node.Fund(t, alice.Address, eth("1"))
	for range 5 {
		s.svc.TrackOnce(context.Background())
	}
	s.noReceipt(t, b)
	if got := s.balance(t, bob.Address); got.Cmp(eth("0.6")) != 0 {
		t.Fatalf("bob has %s, want 0.6 ETH: only the first transfer", got)
	}
	if n := s.latestNonce(t, alice.Address); n != 2 {
		t.Fatalf("alice nonce %d, want 2", n)
	}
	if _, err := s.svc.Build(context.Background(), parent.BuildRequest{Owner: 7101, Replace: b.ID}); !errors.Is(err, parent.ErrNotReplaceable) {
		t.Fatalf("replace a replaced transfer: %v", err)
	}
}

// TestNoGapsUserScenario: the scenario of issue 9 as a new user met it:
// two requests and a cancel, then the newest approved. It is mined at once
// (no nonce waits behind it), and the older links are refused.
func TestNoGapsUserScenario(t *testing.T) {
	s := newStack(t)
	alice := s.fundedWallet(t, 7201, eth("1"))
	bob := s.fundedWallet(t, 7202, nil)
	first := s.build(t, 7201, bob.Address, "0.01")
	second := s.build(t, 7201, bob.Address, "0.02")
	if got, _ := s.store.Transfer(first.ID); got.State != storage.StateSuperseded || second.Nonce != first.Nonce {
		t.Fatalf("first = %s, nonces %d %d: want superseded, one nonce", got.State, first.Nonce, second.Nonce)
	}
	if _, err := s.svc.CancelByOwner(second.ID, 7201); err != nil {
		t.Fatal(err)
	}
	third := s.build(t, 7201, bob.Address, "0.03")
	if third.Nonce != 0 {
		t.Fatalf("third nonce %d, want 0", third.Nonce)
	}
	for _, old := range []storage.Transfer{first, second} {
		status, _, apiErr := s.approve(t, s.enclave.InitData(7201, old.StartParam))
		if status != http.StatusConflict || apiErr == nil || apiErr.Code != protocol.CodeTransferClosed {
			t.Fatalf("approve old link = %d %v, want 409 transfer_closed", status, apiErr)
		}
	}
	if status, resp, apiErr := s.approve(t, s.enclave.InitData(7201, third.StartParam)); status != 200 || resp.Status != "sent" {
		t.Fatalf("approve = %d %+v %v", status, resp, apiErr)
	}
	tr, _ := s.store.Transfer(third.ID)
	if _, waits := s.svc.WaitingFor(tr); waits {
		t.Fatal("the newest transfer waits for something")
	}
	// Only a sent transfer pending for StuckAfter (3 minutes) offers Replace.
	if s.svc.Stuck(tr) {
		t.Fatal("a transfer sent just now counts as stuck")
	}
	s.svc.SetNow(func() time.Time { return time.Now().Add(4 * time.Minute) })
	stuck := s.svc.Stuck(tr)
	s.svc.SetNow(time.Now)
	if !stuck {
		t.Fatal("a transfer pending for 4 minutes does not count as stuck")
	}
	r := s.node.WaitReceipt(t, tr.TxHash) // mined with the next block, no gap before it
	if r.Status != 1 {
		t.Fatalf("receipt status %d", r.Status)
	}
	s.trackUntil(t, third.ID, storage.StateConfirmed)
	if n := s.latestNonce(t, alice.Address); n != 1 {
		t.Fatalf("alice nonce %d, want 1", n)
	}
	if got := s.balance(t, bob.Address); got.Cmp(eth("0.03")) != 0 {
		t.Fatalf("bob has %s, want 0.03", got)
	}
}

// holdingNode is a hostile RPC node in front of geth: it answers the first
// eth_sendRawTransaction it sees (and every resend of the same bytes) with
// "insufficient funds" and keeps the bytes; everything else is forwarded.
type holdingNode struct {
	mu   sync.Mutex
	held string // the raw transaction it holds back, hex
}

func (h *holdingNode) proxy(t *testing.T, nodeURL string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params []string        `json:"params"`
		}
		if json.Unmarshal(body, &req) == nil && req.Method == "eth_sendRawTransaction" && len(req.Params) == 1 {
			h.mu.Lock()
			if h.held == "" {
				h.held = req.Params[0]
			}
			hold := h.held == req.Params[0]
			h.mu.Unlock()
			if hold {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"insufficient funds for gas * price + value"}}`, req.ID)
				return
			}
		}
		resp, err := http.Post(nodeURL, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestHostileNodeHoldsBack: the node claims a signed transaction cannot be
// paid and keeps it. The transfer stays open (never failed), the user's next
// transfer takes the next nonce (the held one keeps its own) and waits
// behind it; when the node releases the bytes, both are mined: each approval
// paid exactly once, nothing twice.
func TestHostileNodeHoldsBack(t *testing.T) {
	h := &holdingNode{}
	s := newStack(t, func(u string) string { return h.proxy(t, u) })
	alice := s.fundedWallet(t, 7301, eth("1"))
	bob := s.fundedWallet(t, 7302, nil)
	a := s.build(t, 7301, bob.Address, "0.1")
	if status, resp, apiErr := s.approve(t, s.enclave.InitData(7301, a.StartParam)); status != 200 || resp.Status != "approved" {
		t.Fatalf("approve = %d %+v %v, want approved (not accepted)", status, resp, apiErr)
	}
	for range 5 {
		s.svc.TrackOnce(context.Background())
		time.Sleep(100 * time.Millisecond)
	}
	a, _ = s.store.Transfer(a.ID)
	if a.State != storage.StateApproved || !strings.Contains(a.Reason, "not have enough ETH") {
		t.Fatalf("held transfer = %s %q, want approved, not accepted", a.State, a.Reason)
	}
	// The user, told it was not accepted yet, sends again.
	c := s.build(t, 7301, bob.Address, "0.1")
	if c.Nonce != a.Nonce+1 {
		t.Fatalf("new transfer nonce %d, want %d: the held one keeps its nonce", c.Nonce, a.Nonce+1)
	}
	if status, _, apiErr := s.approve(t, s.enclave.InitData(7301, c.StartParam)); status != 200 {
		t.Fatalf("approve c = %d %v", status, apiErr)
	}
	c, _ = s.store.Transfer(c.ID)
	if w, ok := s.svc.WaitingFor(c); !ok || w.ID != a.ID {
		t.Fatalf("c waits for %q %v, want a", w.ID, ok)
	}
	// The node releases the held bytes.
	h.mu.Lock()
	held := h.held
	h.mu.Unlock()
	var hash common.Hash
	if err := s.node.Call(context.Background(), &hash, "eth_sendRawTransaction", held); err != nil || hash != a.TxHash {
		t.Fatalf("release: %s, %v", hash.Hex(), err)
	}
	s.trackUntil(t, a.ID, storage.StateConfirmed)
	s.trackUntil(t, c.ID, storage.StateConfirmed)
	if got := s.balance(t, bob.Address); got.Cmp(eth("0.2")) != 0 {
		t.Fatalf("bob has %s, want 0.2 ETH: two approvals, each paid once", got)
	}
	if n := s.latestNonce(t, alice.Address); n != 2 {
		t.Fatalf("alice nonce %d, want 2", n)
	}
}

// TestRevertedWaitsForConfirmations: a transaction that is mined but reverts
// (here: 21000 gas to a contract, which runs out of gas at its first
// instruction) is called failed only at the confirmation depth, like a
// confirmed one: while its block can still be reorganised away the signed
// bytes could be mined again and succeed, so the transfer stays open.
func TestRevertedWaitsForConfirmations(t *testing.T) {
	node := testchain.Start(t, testchain.WithPeriod(0)) // a block only when a transaction comes
	s := newStackOn(t, node)
	s.fundedWallet(t, 7401, eth("1"))
	// A contract whose code is PUSH1 0 PUSH1 0 REVERT, deployed by the
	// node's developer account.
	var hash common.Hash
	if err := node.Call(context.Background(), &hash, "eth_sendTransaction", map[string]any{
		"from": node.DevAccount(), "gas": "0x30000", "data": "0x6005600c60003960056000f360006000fd",
	}); err != nil {
		t.Fatal(err)
	}
	created := node.WaitReceipt(t, hash).ContractAddress
	if created == nil {
		t.Fatal("no contract deployed")
	}
	contract := *created

	tr := s.build(t, 7401, contract, "0.01")
	if status, _, apiErr := s.approve(t, s.enclave.InitData(7401, tr.StartParam)); status != 200 {
		t.Fatalf("approve = %d %v", status, apiErr)
	}
	tr, _ = s.store.Transfer(tr.ID)
	r := node.WaitReceipt(t, tr.TxHash)
	if r.Status != 0 {
		t.Fatalf("receipt status %d, want a revert", r.Status)
	}
	// Mined, one confirmation (no other block comes): still open.
	for range 3 {
		s.svc.TrackOnce(context.Background())
	}
	if got, _ := s.store.Transfer(tr.ID); got.State.Final() {
		t.Fatalf("reverted at depth 1 is already %s (%q); the depth is 2", got.State, got.Reason)
	}
	node.Mine(t) // the second confirmation
	got := s.trackUntil(t, tr.ID, storage.StateFailed)
	if got.Block != uint64(r.BlockNumber) || !strings.Contains(got.Reason, "revert") {
		t.Fatalf("failed at block %d (%q), want block %d and the revert", got.Block, got.Reason, r.BlockNumber)
	}
	if got := s.balance(t, contract); got.Sign() != 0 {
		t.Fatalf("the contract holds %s wei", got)
	}
}
