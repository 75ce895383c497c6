package bot_test

import (
	"context"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/devchain"
)

// TestWalletCardPerNetwork: a new wallet says where it holds nothing; the
// faucet's drops on both networks show on the card by themselves (no
// Refresh), per network and token; a user who holds only a token on one
// network sees that line and "Nothing yet" for the other.
func TestWalletCardPerNetwork(t *testing.T) {
	w := newMultiWorld(t)
	alice, carol := w.user(t, 2101, "Alice"), w.user(t, 2103, "Carol")
	card := alice.createWallet()
	if !strings.Contains(card.Caption, "Nothing yet on Dev L1, Dev L2.") || !hasButton(card, "Receive") || !hasButton(card, "Send") {
		t.Fatalf("new card %q %+v", card.Caption, card.Buttons)
	}
	drip := alice.say("/faucet")
	for _, want := range []string{"1 ETH on Dev L1", "100 USDC on Dev L1", "1 ETH on Dev L2", "100 USDT on Dev L2"} {
		if !strings.Contains(drip.Text, want) {
			t.Fatalf("faucet said %q, want %q", drip.Text, want)
		}
	}
	if !strings.Contains(drip.Raw, explorerL1+"/tx/0x") || !strings.Contains(drip.Raw, explorerL2+"/tx/0x") {
		t.Fatalf("faucet message without explorer links: %q", drip.Raw)
	}
	alice.waitEdit(card.ID, "Dev L1: 1 ETH, 100 USDC")
	alice.waitEdit(card.ID, "Dev L2: 1 ETH, 100 USDT")

	ccard := carol.createWallet()
	if _, _, err := w.l2.DripToken(context.Background(), common.HexToAddress(addressIn(t, ccard))); err != nil {
		t.Fatal(err)
	}
	waitCaption(t, carol, ccard, "Dev L2: 100 USDT", "Nothing yet on Dev L1.")
}

// waitCaption presses Refresh until the card shows every want.
func waitCaption(t *testing.T, u *user, card emulator.Message, wants ...string) emulator.Message {
	t.Helper()
	for range 60 {
		u.press(card, "Refresh")
		m := u.waitEdit(card.ID, "Your wallet")
		ok := true
		for _, w := range wants {
			ok = ok && strings.Contains(m.Caption, w)
		}
		if ok {
			return m
		}
		<-afterMs(250)
	}
	t.Fatalf("card never showed %q: %s", wants, u.dump())
	return emulator.Message{}
}

// TestSendTokenAndNetwork: a coin on both networks is asked for with
// buttons; "on <network>" picks one; a token transfer's card names the
// token, network, contract and the L1 data fee; every refusal is in words.
func TestSendTokenAndNetwork(t *testing.T) {
	w := newMultiWorld(t)
	alice, bob, carol := w.user(t, 2201, "Alice"), w.user(t, 2202, "Bobby"), w.user(t, 2203, "Carol")
	alice.fundAll(alice.createWallet())
	bobAddr := addressIn(t, bob.createWallet())

	// ETH is on both networks, and Alice holds both: which one?
	q := alice.say("/send 0.1 ETH to @bobby")
	if !strings.Contains(q.Text, "ETH is on more than one network") || !hasButton(q, "ETH on Dev L1") || !hasButton(q, "ETH on Dev L2") || !hasButton(q, "Cancel") {
		t.Fatalf("choice %q %+v", q.Text, q.Buttons)
	}
	alice.press(q, "ETH on Dev L2")
	tc := alice.nextWhere(func(m emulator.Message) bool { return hasButton(m, "Review") })
	for _, want := range []string{"Send 0.1 ETH", "To: @bobby\n" + bobAddr, "Network: Dev L2", "Max network fee:", "L1 data fee: about 0.", "Total at most: 0.1", " ETH + L1 data fee (about 0."} {
		if !strings.Contains(tc.Text, want) {
			t.Fatalf("L2 card %q lacks %q", tc.Text, want)
		}
	}

	// A token on one network, in one message.
	tc = alice.say("/send 25 USDT to " + bobAddr)
	for _, want := range []string{"Send 25 USDT", "Network: Dev L2", "Token contract: " + w.l2.USDC.Hex(), "L1 data fee: about", "Total: 25 USDT + at most 0.", " ETH network fee + L1 data fee (about 0."} {
		if !strings.Contains(tc.Text, want) {
			t.Fatalf("USDT card %q lacks %q", tc.Text, want)
		}
	}
	// Max of ETH on Dev L2 leaves the max network fee and twice the L1
	// data fee estimate: that fee is not capped by the signed transaction.
	q = alice.say("/send ETH to @bobby")
	alice.press(q, "ETH on Dev L2")
	ask := alice.nextWhere(func(m emulator.Message) bool { return hasButton(m, "Max") })
	alice.press(ask, "Max")
	if tc = alice.next(); !hasButton(tc, "Review") {
		t.Fatalf("Max of ETH on Dev L2 answered %q, want a card", tc.Text)
	}
	list, err := w.svc.History(2201, 1, 0)
	if err != nil || len(list) != 1 || list[0].ChainID != w.l2.ID || list[0].L1Fee == nil || list[0].L1Fee.Sign() <= 0 {
		t.Fatalf("Max on Dev L2 built %+v, %v; card %q", list, err, tc.Text)
	}
	left := new(big.Int).Sub(devchain.DripAmount, list[0].Amount)
	// 1.5x, not 2x: the build's own L1 fee is for its exact bytes.
	room := new(big.Int).Add(list[0].MaxFee, new(big.Int).Div(new(big.Int).Mul(list[0].L1Fee, big.NewInt(3)), big.NewInt(2)))
	if left.Cmp(room) < 0 {
		t.Fatalf("Max left %s wei for fees, want at least the max fee %s + 1.5 x the L1 data fee %s", left, list[0].MaxFee, list[0].L1Fee)
	}
	tc = alice.say("/send 25 USDC to " + bobAddr + " on dev l1")
	if !strings.Contains(tc.Text, "Send 25 USDC") || !strings.Contains(tc.Text, "Network: Dev L1") || strings.Contains(tc.Text, "L1 data fee") {
		t.Fatalf("USDC on Dev L1 card %q", tc.Text)
	}

	refusals := map[string]string{
		"/send 25 USDC to " + bobAddr + " on Dev L2": "USDC is not on Dev L2. It is on: Dev L1",
		"/send 1 DOGE to " + bobAddr:                 "I don't know the token \"DOGE\". This wallet sends: ETH, USDC, USDT",
		"/send 1 USDC to " + bobAddr + " on Mars":    "I don't know the network \"Mars\". This wallet works on: Dev L1, Dev L2",
		"/send 1.0000001 USDC to " + bobAddr:         "USDC has at most 6 decimals",
		// The recipient is a listed token's own contract: lost forever.
		"/send 25 USDT to " + w.l2.USDC.Hex():                "That address is the USDT token contract itself on Dev L2; tokens sent to it are lost.",
		"/send 0.1 ETH to " + w.l1.USDC.Hex() + " on Dev L1": "That address is the USDC token contract itself on Dev L1; ETH sent to it is lost.",
	}
	for in, want := range refusals {
		if m := alice.say(in); !strings.Contains(m.Text, want) {
			t.Errorf("%q answered %q, want %q", in, m.Text, want)
		}
		alice.say("/cancel")
	}

	// More than the token balance: asked again, Max gives the balance.
	m := alice.say("/send 500 USDC to " + bobAddr)
	if !strings.Contains(m.Text, "That is more than your balance: you have 100 USDC on Dev L1.") || !hasButton(m, "Max") {
		t.Fatalf("500 USDC answered %q %+v", m.Text, m.Buttons)
	}
	alice.press(m, "Max")
	if tc := alice.nextWhere(func(m emulator.Message) bool { return hasButton(m, "Review") }); !strings.Contains(tc.Text, "Send 100 USDC") {
		t.Fatalf("Max of USDC built %q", tc.Text)
	}

	// A token but no fee coin on its network.
	ccard := carol.createWallet()
	if _, _, err := w.l2.DripToken(context.Background(), common.HexToAddress(addressIn(t, ccard))); err != nil {
		t.Fatal(err)
	}
	waitCaption(t, carol, ccard, "Dev L2: 100 USDT")
	m = carol.say("/send 25 USDT to @bobby")
	if !strings.Contains(m.Text, "You have 100 USDT on Dev L2 but no ETH there to pay the network fee (about 0.") {
		t.Fatalf("no fee coin answered %q", m.Text)
	}
	if list, _ := w.svc.History(2203, 10, 0); len(list) != 0 {
		t.Fatalf("refusals built %d transfers", len(list))
	}
}

// TestHistoryAndLinksPerNetwork: an approved transfer on Dev L2 is
// confirmed with the fee paid and a link to Dev L2's explorer; /history
// names the coin, the network and links the transaction.
func TestHistoryAndLinksPerNetwork(t *testing.T) {
	w := newMultiWorld(t)
	alice, bob := w.user(t, 2301, "Alice"), w.user(t, 2302, "Bobby")
	alice.fundAll(alice.createWallet())
	bobAddr := addressIn(t, bob.createWallet())
	q := alice.say("/send 0.01 ETH to @bobby")
	alice.press(q, "ETH on Dev L2")
	tc := alice.nextWhere(func(m emulator.Message) bool { return hasButton(m, "Review") })
	if resp := w.approve(t, alice, tc); resp.Status != "sent" {
		t.Fatalf("approve = %+v", resp)
	}
	done := alice.waitEdit(tc.ID, "Confirmed in block")
	if !strings.Contains(done.Text, "Network fee paid: 0.") || !strings.Contains(done.Raw, explorerL2+"/tx/0x") {
		t.Fatalf("confirmed card %q raw %q", done.Text, done.Raw)
	}
	h := alice.say("/history")
	if !strings.Contains(h.Text, "0.01 ETH to @bobby "+bobAddr) || !strings.Contains(h.Text, "on Dev L2") || !strings.Contains(h.Raw, explorerL2+"/tx/0x") {
		t.Fatalf("history %q raw %q", h.Text, h.Raw)
	}
}

// TestReceivedAlertsAndHistory: with the watcher running, the faucet's four
// drops each reach the owner once as "Received … on <network> from 0x…",
// a transfer from another user of the bot tells the receiver with the
// sender's name, the receiver's wallet card refreshes by itself, and
// /history lists the deposits beside the transfers, with links per network.
func TestReceivedAlertsAndHistory(t *testing.T) {
	w := newAlertsWorld(t)
	alice, bob := w.user(t, 2401, "Alice"), w.user(t, 2402, "Bobby")
	card := alice.createWallet()
	bobCard := bob.createWallet()
	bobAddr := addressIn(t, bobCard)
	alice.say("/faucet")
	for range 4 {
		alice.nextWhere(func(m emulator.Message) bool { return strings.HasPrefix(m.Text, "Received") })
	}
	for _, want := range []string{"Received 1 ETH on Dev L1 from 0x", "Received 100 USDC on Dev L1 from 0x", "Received 1 ETH on Dev L2 from 0x", "Received 100 USDT on Dev L2 from 0x"} {
		if !strings.Contains(alice.dump(), want) {
			t.Fatalf("no %q in the chat: %s", want, alice.dump())
		}
	}
	alice.waitEdit(card.ID, "Dev L1: 1 ETH, 100 USDC")
	alice.waitEdit(card.ID, "Dev L2: 1 ETH, 100 USDT")

	q := alice.say("/send 0.25 ETH to @bobby")
	alice.press(q, "ETH on Dev L2")
	tc := alice.nextWhere(func(m emulator.Message) bool { return hasButton(m, "Review") })
	if resp := w.approve(t, alice, tc); resp.Status != "sent" {
		t.Fatalf("approve = %+v", resp)
	}
	got := bob.nextWhere(func(m emulator.Message) bool { return strings.HasPrefix(m.Text, "Received") })
	wallet, _ := w.svc.Wallet(2401)
	for _, want := range []string{"Received 0.25 ETH on Dev L2 from " + wallet.Address.Hex(), explorerL2 + "/tx/0x", "From @alice, who uses this bot."} {
		if !strings.Contains(got.Text, want) {
			t.Fatalf("bob was told %q, want %q", got.Text, want)
		}
	}
	bob.waitEdit(bobCard.ID, "Dev L2: 0.25 ETH")
	if addressIn(t, bobCard) != bobAddr {
		t.Fatal("bob's card changed address")
	}

	// A token, end to end: the enclave builds transfer(to, amount); the
	// card shows the fee paid; the token moves exactly; Bob is told.
	tc = alice.say("/send 25 USDC to @bobby")
	if resp := w.approve(t, alice, tc); resp.Status != "sent" {
		t.Fatalf("approve USDC = %+v", resp)
	}
	done := alice.waitEdit(tc.ID, "Confirmed in block")
	if !strings.Contains(done.Text, "Network fee paid: 0.") || !strings.Contains(done.Raw, explorerL1+"/tx/0x") {
		t.Fatalf("confirmed USDC card %q", done.Text)
	}
	got = bob.nextWhere(func(m emulator.Message) bool { return strings.HasPrefix(m.Text, "Received 25 USDC") })
	if !strings.Contains(got.Text, "Received 25 USDC on Dev L1 from "+wallet.Address.Hex()) {
		t.Fatalf("bob was told %q", got.Text)
	}
	l1, _ := w.svc.ChainFor(w.l1.ID)
	if v, err := l1.TokenBalance(context.Background(), w.l1.USDC, common.HexToAddress(bobAddr)); err != nil || v.Int64() != 25_000_000 {
		t.Fatalf("bob holds %v USDC units (%v), want 25000000", v, err)
	}
	alice.waitEdit(card.ID, "75 USDC")

	h := bob.say("/history")
	if !strings.Contains(h.Text, "received 0.25 ETH from @alice "+wallet.Address.Hex()+" on Dev L2") || !strings.Contains(h.Raw, explorerL2+"/tx/0x") {
		t.Fatalf("bob's history %q", h.Text)
	}
	h = alice.say("/history")
	all := h.Text // six entries: two pages
	if hasButton(h, "Older") {
		alice.press(h, "Older")
		all += alice.waitEdit(h.ID, "(6–6)").Text
	}
	for _, want := range []string{"0.25 ETH to @bobby " + bobAddr, "25 USDC to @bobby " + bobAddr, "received 1 ETH from 0x", "received 100 USDC from 0x", "received 100 USDT from 0x", "on Dev L1", "on Dev L2"} {
		if !strings.Contains(all, want) {
			t.Fatalf("alice's history %q lacks %q", all, want)
		}
	}
	// Exactly once: no second alert for any drop.
	n := 0
	for _, m := range alice.Messages() {
		if m.FromBot && strings.HasPrefix(m.Text, "Received") {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("alice got %d alerts, want 4", n)
	}
}
