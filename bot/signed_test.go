package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// approveStatus opens the card's link as Telegram would, posts the initData
// and returns the HTTP status and, on an error, its code.
func (w *world) approveStatus(t *testing.T, u *user, card emulator.Message) (int, parent.MiniAppResponse, protocol.Code) {
	t.Helper()
	_, initData, err := u.OpenMiniApp(findButton(t, card, "Review").URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(parent.MiniAppRequest{InitData: initData})
	resp, err := http.Post(w.api.URL+parent.PathMiniAppApprove, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ok parent.MiniAppResponse
	var bad struct {
		Error protocol.Error `json:"error"`
	}
	if resp.StatusCode == 200 {
		json.NewDecoder(resp.Body).Decode(&ok)
		return 200, ok, ""
	}
	json.NewDecoder(resp.Body).Decode(&bad)
	return resp.StatusCode, ok, bad.Error.Code
}

func (w *world) latestNonce(t *testing.T, a common.Address) uint64 {
	t.Helper()
	n, err := w.svc.Chain().LatestNonce(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *world) balanceOf(t *testing.T, a string) string {
	t.Helper()
	b, err := w.svc.Balance(context.Background(), common.HexToAddress(a))
	if err != nil {
		t.Fatal(err)
	}
	return parent.FormatETH(b, 18)
}

// TestSupersededCard: /send twice; the first card says it was replaced by
// the newer request and its link is refused with transfer_closed; the
// second is approved and mined, and the wallet's nonce moves by one.
func TestSupersededCard(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.user(t, 701, "Alice"), w.user(t, 702, "Bob")
	alice.fund(alice.createWallet())
	bobAddr := addressIn(t, bob.createWallet())
	wallet, _ := w.svc.Wallet(701)

	first := alice.say("/send 0.01 ETH to " + bobAddr)
	second := alice.say("/send 0.02 ETH to " + bobAddr)
	old := alice.waitEdit(first.ID, "Replaced by your newer request; this link no longer works")
	if hasButton(old, "Review") || hasButton(old, "Cancel") {
		t.Fatalf("superseded card keeps buttons: %+v", old.Buttons)
	}
	if status, _, code := w.approveStatus(t, alice, first); status != 409 || code != protocol.CodeTransferClosed {
		t.Fatalf("approve the superseded link = %d %s, want 409 transfer_closed", status, code)
	}
	if status, resp, _ := w.approveStatus(t, alice, second); status != 200 || resp.Status != "sent" {
		t.Fatalf("approve the newer link = %d %+v", status, resp)
	}
	alice.waitEdit(second.ID, "Confirmed in block")
	if n := w.latestNonce(t, wallet.Address); n != 1 {
		t.Fatalf("nonce %d, want 1", n)
	}
	if got := w.balanceOf(t, bobAddr); got != "0.02" {
		t.Fatalf("bob has %s ETH, want 0.02", got)
	}
	if h := alice.say("/history"); !strings.Contains(h.Text, "replaced by a newer request") {
		t.Fatalf("history %q lacks the superseded transfer", h.Text)
	}
}

// TestNotAcceptedCardThenReplace: a transfer approved while the wallet
// cannot pay it (an earlier one waits in the pool) is refused by the node;
// its card says it was not accepted yet and may still go through, never
// "failed", and offers Replace. A later transfer waits behind it and its card
// says why and offers to replace the earlier one. The user does: the
// replacement is mined, the original's card says it was not paid, the later
// transfer goes through, and the chain agrees.
func TestNotAcceptedCardThenReplace(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.user(t, 801, "Alice"), w.user(t, 802, "Bob")
	alice.fund(alice.createWallet())
	bobAddr := addressIn(t, bob.createWallet())
	wallet, _ := w.svc.Wallet(801)

	w.chain.Pause() // the first transfer waits in the pool
	a := alice.say("/send 0.6 ETH to " + bobAddr)
	if _, resp, _ := w.approveStatus(t, alice, a); resp.Status != "sent" {
		t.Fatalf("approve a = %+v", resp)
	}
	b := alice.say("/send 0.6 ETH to " + bobAddr)
	status, resp, _ := w.approveStatus(t, alice, b)
	if status != 200 || resp.Status != "approved" {
		t.Fatalf("approve b with 1 ETH and 0.6 pending = %d %+v, want 200 approved (not accepted)", status, resp)
	}
	card := alice.waitEdit(b.ID, "not accepted by the network yet")
	for _, want := range []string{"does not have enough ETH", "It may still go through", "zero transfer to yourself"} {
		if !strings.Contains(card.Text, want) {
			t.Fatalf("card %q lacks %q", card.Text, want)
		}
	}
	if strings.Contains(strings.ToLower(card.Text), "failed") || !hasButton(card, "Replace") {
		t.Fatalf("card %q, buttons %+v", card.Text, card.Buttons)
	}
	w.chain.Resume()
	alice.waitEdit(a.ID, "Confirmed in block")
	if tr, _ := w.svc.Transfer(findTransfer(t, w, 801, "0.6", storage.StateApproved)); tr.State != storage.StateApproved {
		t.Fatalf("b = %s after a was mined", tr.State)
	}

	// A later transfer approved now waits behind the refused one, and its
	// card says so and what to do.
	c := alice.say("/send 0.1 ETH to " + bobAddr)
	if _, resp, _ := w.approveStatus(t, alice, c); resp.Status != "sent" {
		t.Fatalf("approve c = %+v", resp)
	}
	waiting := alice.waitEdit(c.ID, "waiting for your earlier transfer of 0.6 ETH")
	for _, want := range []string{"which the network has not accepted yet: the wallet does not have enough ETH", "Replace it to go on"} {
		if !strings.Contains(waiting.Text, want) {
			t.Fatalf("waiting card %q lacks %q", waiting.Text, want)
		}
	}

	alice.press(waiting, "Replace the earlier transfer")
	repl := alice.nextWhere(func(m emulator.Message) bool { return strings.Contains(m.Text, "Replace your transfer of 0.6 ETH") })
	for _, want := range []string{"0 ETH to your own wallet", "is cancelled and you pay only this fee"} {
		if !strings.Contains(repl.Text, want) {
			t.Fatalf("replacement card %q lacks %q", repl.Text, want)
		}
	}
	if _, resp, _ := w.approveStatus(t, alice, repl); resp.Status != "sent" {
		t.Fatalf("approve replacement = %+v", resp)
	}
	alice.waitEdit(repl.ID, "Done: your transfer of 0.6 ETH")
	alice.waitEdit(b.ID, "Not sent: your replacement was included first")
	alice.waitEdit(c.ID, "Confirmed in block")
	if got := w.balanceOf(t, bobAddr); got != "0.7" {
		t.Fatalf("bob has %s ETH, want 0.7 (a and c): the replaced transfer was paid", got)
	}
	if n := w.latestNonce(t, wallet.Address); n != 3 {
		t.Fatalf("nonce %d, want 3", n)
	}
	h := alice.say("/history")
	for _, want := range []string{"replaced, not paid", "your transfer was cancelled"} {
		if !strings.Contains(h.Text, want) {
			t.Fatalf("history %q lacks %q", h.Text, want)
		}
	}
}

// findTransfer is the id of the user's newest transfer of amount in state.
func findTransfer(t *testing.T, w *world, owner int64, amount string, state storage.State) string {
	t.Helper()
	list, err := w.svc.History(owner, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range list {
		if parent.FormatETH(tr.Amount, 18) == amount && tr.State == state {
			return tr.ID
		}
	}
	t.Fatalf("no %s transfer of %s ETH", state, amount)
	return ""
}

// TestReplaceInPool: the replacement of a transfer that waits in the
// node's pool pays enough more (+10% on both fee caps, rounded up) for the
// node to swap it in; only the replacement is mined and the original's card
// says it was not paid.
func TestReplaceInPool(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.user(t, 901, "Alice"), w.user(t, 902, "Bob")
	alice.fund(alice.createWallet())
	bobAddr := addressIn(t, bob.createWallet())
	wallet, _ := w.svc.Wallet(901)

	w.chain.Pause()
	a := alice.say("/send 0.1 ETH to " + bobAddr)
	if _, resp, _ := w.approveStatus(t, alice, a); resp.Status != "sent" {
		t.Fatalf("approve a = %+v", resp)
	}
	id := findTransfer(t, w, 901, "0.1", storage.StateSent)
	r, err := w.svc.Build(context.Background(), parent.BuildRequest{Owner: 901, Replace: id, ChatID: 901})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(parent.MiniAppRequest{InitData: w.enc.InitData(901, r.StartParam)})
	resp, err := http.Post(w.api.URL+parent.PathMiniAppApprove, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var ans parent.MiniAppResponse
	json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if ans.Status != "sent" {
		t.Fatalf("approve replacement = %d %+v: the node did not take it in place of the pending one", resp.StatusCode, ans)
	}
	w.chain.Resume()
	alice.waitEdit(a.ID, "Not sent: your replacement was included first")
	if got := w.balanceOf(t, bobAddr); got != "0" {
		t.Fatalf("bob has %s ETH, want 0", got)
	}
	if n := w.latestNonce(t, wallet.Address); n != 1 {
		t.Fatalf("nonce %d, want 1", n)
	}
}
