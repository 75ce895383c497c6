package bot_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/protocol"
)

// addressIn finds the 0x address in a wallet card.
func addressIn(t *testing.T, m emulator.Message) string {
	t.Helper()
	for _, f := range strings.Fields(m.Text + m.Caption) {
		if strings.HasPrefix(f, "0x") && len(f) == 42 {
			return f
		}
	}
	t.Fatalf("no address in %q", m.Text+m.Caption)
	return ""
}

// TestWalletLifecycle: /start, one tap to a wallet card with QR code,
// address and balance; a second /start shows the same wallet; test ETH from
// the faucet shows after Refresh.
func TestWalletLifecycle(t *testing.T) {
	w := newWorld(t)
	alice := w.user(t, 101, "Alice")

	greeting := alice.say("/start")
	if !strings.Contains(greeting.Text, "Hi Alice") || !hasButton(greeting, "Create wallet") {
		t.Fatalf("greeting = %q %+v", greeting.Text, greeting.Buttons)
	}
	if m := alice.say("/wallet"); !strings.Contains(m.Text, "no wallet yet") || !hasButton(m, "Create wallet") {
		t.Fatalf("/wallet without a wallet = %q", m.Text)
	}
	card := alice.createWallet()
	addr := addressIn(t, card)
	if !common.IsHexAddress(addr) || common.HexToAddress(addr).Hex() != addr {
		t.Fatalf("card address %q is not EIP-55", addr)
	}
	if png, ok := w.emu.File(card.PhotoFileID); !ok || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatal("wallet card photo is not a PNG QR code")
	}
	for _, want := range []string{"Nothing yet on Dev L1", "same on every network"} {
		if !strings.Contains(card.Caption, want) {
			t.Fatalf("card caption %q lacks %q", card.Caption, want)
		}
	}
	for _, b := range []string{"Send", "Refresh", "History", "Get test ETH"} {
		if !hasButton(card, b) {
			t.Fatalf("card lacks button %q", b)
		}
	}
	// Receive opens the Mini App with the enclave's statement for this
	// user and this address, which verifies with the enclave's identity key.
	recv := findButton(t, card, "Receive")
	link, ok := strings.CutPrefix(recv.URL, testMiniApp+"?startapp=")
	if !ok {
		t.Fatalf("Receive URL %q", recv.URL)
	}
	l, err := protocol.DecodeWalletLink(link)
	if err != nil || l.Owner != 101 || l.Address.Hex() != addr || l.Verify(w.enc.Signer.IdentityPublicKey()) != nil {
		t.Fatalf("Receive link %q: %+v, %v", link, l, err)
	}
	again := alice.say("/start")
	if again.PhotoFileID == "" || addressIn(t, again) != addr {
		t.Fatalf("second /start = %q, want the same wallet card", again.Caption)
	}
	alice.fund(again) // the latest card is the one kept up to date
}

// TestDoubleTapCreatesOneWallet: Create wallet tapped twice at once gives one
// wallet, and both taps show that one.
func TestDoubleTapCreatesOneWallet(t *testing.T) {
	w := newWorld(t)
	bob := w.user(t, 102, "Bob")
	greeting := bob.say("/start")
	data := findButton(t, greeting, "Create wallet").CallbackData
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); bob.Press(greeting.ID, data) }()
	}
	wg.Wait()
	first := bob.nextWhere(func(m emulator.Message) bool { return m.PhotoFileID != "" })
	addr := addressIn(t, first)
	wallet, err := w.svc.Wallet(102)
	if err != nil || wallet.Address.Hex() != addr {
		t.Fatalf("stored wallet %s, card shows %s (%v)", wallet.Address.Hex(), addr, err)
	}
	ready := 0
	for _, m := range bob.Messages() {
		if m.FromBot && strings.Contains(m.Text, "wallet is ready") {
			ready++
		}
		if m.PhotoFileID != "" && addressIn(t, m) != addr {
			t.Fatalf("a card shows another wallet %s", addressIn(t, m))
		}
	}
	if ready != 1 {
		t.Fatalf("%d 'wallet is ready' messages, want 1", ready)
	}
}

// TestSendApproveConfirm: /send in one message, the confirmation card, the
// Mini App approval with Telegram-signed initData, and the card edited to
// confirmed; the recipient's balance rises.
func TestSendApproveConfirm(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.user(t, 201, "Alice"), w.user(t, 202, "Bobby")
	card := alice.createWallet()
	alice.fund(card)
	bobAddr := addressIn(t, bob.createWallet())

	tc := alice.say("/send 0.05 ETH to " + bobAddr)
	for _, want := range []string{"Send 0.05 ETH", "To: @bobby\n" + bobAddr, "Network: Dev L1", "Max network fee:", "Total at most:", "Expires in 10 min"} {
		if !strings.Contains(tc.Text, want) {
			t.Fatalf("card %q lacks %q", tc.Text, want)
		}
	}
	review := findButton(t, tc, "Review")
	if !strings.HasPrefix(review.URL, testMiniApp+"?startapp=") || !hasButton(tc, "Cancel") {
		t.Fatalf("card buttons %+v", tc.Buttons)
	}
	resp := w.approve(t, alice, tc)
	if resp.Status != "sent" {
		t.Fatalf("approve = %+v", resp)
	}
	done := alice.waitEdit(tc.ID, "Confirmed in block")
	if !strings.Contains(done.Text, resp.TxHash) || len(done.Buttons) != 0 {
		t.Fatalf("confirmed card %q buttons %+v", done.Text, done.Buttons)
	}
	// The fee actually paid, rounded to nearest; no "max fee" any more.
	if !strings.Contains(done.Text, "Network fee paid: 0.") || strings.Contains(done.Text, "Max network fee") || strings.Contains(done.Text, "Total at most") {
		t.Fatalf("confirmed card %q: want the fee paid instead of the max fee", done.Text)
	}
	// The sender's wallet card refreshed by itself.
	alice.waitEdit(card.ID, "Dev L1: 0.94")
	bobCard := bob.say("/wallet")
	if !strings.Contains(bobCard.Caption, "Dev L1: 0.05 ETH") {
		t.Fatalf("bob's card = %q, want 0.05 ETH", bobCard.Caption)
	}
	hist := alice.say("/history")
	if !strings.Contains(hist.Text, "0.05 ETH") || !strings.Contains(hist.Text, "confirmed") {
		t.Fatalf("history = %q", hist.Text)
	}
}

// TestCancelAndSelfSend: sending to yourself is allowed and said; Cancel on
// the card cancels it and says so.
func TestCancelAndSelfSend(t *testing.T) {
	w := newWorld(t)
	alice := w.user(t, 301, "Alice")
	card := alice.createWallet()
	alice.fund(card)
	tc := alice.say("/send " + addressIn(t, card) + " 0.01")
	if !strings.Contains(tc.Text, "that is your own wallet") || !hasButton(tc, "Review") {
		t.Fatalf("self-send card = %q", tc.Text)
	}
	alice.press(tc, "Cancel")
	alice.waitEdit(tc.ID, "Cancelled")
	if list, _ := w.svc.History(301, 10, 0); len(list) != 1 || list[0].State.String() != "cancelled" {
		t.Fatalf("history after cancel = %+v", list)
	}
}

// TestSendRefusals: every bad input is answered in words, and nothing is
// built.
func TestSendRefusals(t *testing.T) {
	w := newWorld(t)
	alice := w.user(t, 401, "Alice")
	if m := alice.say("/send 0.1 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"); !strings.Contains(m.Text, "no wallet yet") {
		t.Fatalf("send without wallet = %q", m.Text)
	}
	card := alice.createWallet()
	alice.fund(card)
	const good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	cases := map[string]string{
		"/send 0.05 ETH to 0x1234":                                     "40 hex digits",
		"/send 0.05 ETH to 5aAeb6053F3E94C9b9A09f3366":                 "start with 0x",
		"/send 0.05 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD": "checksum",
		"/send 0.05 ETH to 0x0000000000000000000000000000000000000000": "zero address",
		"/send abc ETH to " + good:                                     "not a number",
		"/send 0.0000000000000000001 ETH to " + good:                   "at most 18 decimals",
		"/send 0 ETH to " + good:                                       "more than zero",
		"/send 5 ETH to " + good:                                       "That is more than your balance: you have 1 ETH on Dev L1, and this needs up to 5.00000",
		"/send 1 ETH to " + good + " " + good:                          "two recipients",
		"/send 1 2 " + good:                                            "two amounts",
		"/send -1 ETH to " + good:                                      "the amount must be positive",
		"/send 123456789012345678901 ETH to " + good:                   "too many digits",
		"/send 1 DOGE to " + good:                                      "I don't know the token \"DOGE\". This wallet sends: ETH",
		"/send 1 ETH to " + good + " on Mars":                          "I don't know the network \"Mars\". This wallet works on: Dev L1",
		"/send 1 ETH to @nobody_here":                                  "Nobody with the username @nobody_here uses this bot",
		"/send 1 ETH to 0.5":                                           "two amounts",
	}
	for in, want := range cases {
		if m := alice.say(in); !strings.Contains(m.Text, want) {
			t.Errorf("%q answered %q, want it to mention %q", in, m.Text, want)
		}
		alice.say("/cancel")
	}
	if list, _ := w.svc.History(401, 10, 0); len(list) != 0 {
		t.Fatalf("refused sends built %d transfers", len(list))
	}
}

// TestGuidedSend: Send button -> who? -> (bad, then good address) -> how
// much? -> (bad, then good amount) -> card; /cancel ends a flow.
func TestGuidedSend(t *testing.T) {
	w := newWorld(t)
	alice := w.user(t, 501, "Alice")
	card := alice.createWallet()
	alice.fund(card)
	alice.press(card, "Send")
	if m := alice.next(); !strings.Contains(m.Text, "Who do you want to send") {
		t.Fatalf("Send asked %q", m.Text)
	}
	if m := alice.say("0xnothex"); !strings.Contains(m.Text, "Paste the recipient") {
		t.Fatalf("bad address answered %q", m.Text)
	}
	if m := alice.say("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"); !strings.Contains(m.Text, "How much ETH") || !strings.Contains(m.Text, "You have 1 ETH") {
		t.Fatalf("address answered %q", m.Text)
	}
	if m := alice.say("lots"); !strings.Contains(m.Text, "not a number") {
		t.Fatalf("bad amount answered %q", m.Text)
	}
	if m := alice.say("0.02 ETH"); !strings.Contains(m.Text, "Send 0.02 ETH") || !hasButton(m, "Review") {
		t.Fatalf("amount answered %q", m.Text)
	}
	if m := alice.say("/cancel"); !strings.Contains(m.Text, "Cancelled your transfer of 0.02 ETH") {
		t.Fatalf("/cancel while a transfer awaits approval = %q", m.Text)
	}
	if m := alice.say("/cancel"); !strings.Contains(m.Text, "nothing to cancel") {
		t.Fatalf("/cancel with nothing open = %q", m.Text)
	}
	alice.say("/send")
	if m := alice.say("/cancel"); !strings.Contains(m.Text, "Stopped the send") {
		t.Fatalf("/cancel during a flow = %q", m.Text)
	}
	if m := alice.say("hello"); !strings.Contains(m.Text, "/help") {
		t.Fatalf("plain text outside a flow = %q", m.Text)
	}
}

// TestHistoryPaging: more than a page of transfers pages with buttons.
func TestHistoryPaging(t *testing.T) {
	w := newWorld(t)
	alice := w.user(t, 601, "Alice")
	card := alice.createWallet()
	alice.fund(card)
	if m := alice.say("/history"); !strings.Contains(m.Text, "No transfers yet") {
		t.Fatalf("empty history = %q", m.Text)
	}
	for range 7 {
		alice.say("/send 0.001 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	}
	page := alice.say("/history")
	if !strings.Contains(page.Text, "(1–5)") || !hasButton(page, "Older") || hasButton(page, "Newer") {
		t.Fatalf("first page = %q %+v", page.Text, page.Buttons)
	}
	alice.press(page, "Older")
	older := alice.waitEdit(page.ID, "(6–7)")
	if !hasButton(older, "Newer") || hasButton(older, "Older") {
		t.Fatalf("second page buttons %+v", older.Buttons)
	}
}

// TestHelpCommandsAndLimits: the command menu is registered, /help lists it,
// unknown commands get a hint, and a 429 from Telegram is waited out.
func TestHelpCommandsAndLimits(t *testing.T) {
	w := newWorld(t)
	alice := w.user(t, 701, "Alice")
	help := alice.say("/help")
	var names []string
	for _, c := range w.emu.Commands() {
		names = append(names, c.Command)
		if !strings.Contains(help.Text, "/"+c.Command) {
			t.Errorf("/help does not list /%s", c.Command)
		}
	}
	if strings.Join(names, ",") != "start,wallet,send,history,cancel,help,faucet" {
		t.Fatalf("command menu = %v", names)
	}
	if m := alice.say("/frobnicate"); !strings.Contains(m.Text, "don't know that command") {
		t.Fatalf("unknown command = %q", m.Text)
	}
	w.emu.FailNext("sendMessage", 1, 1)
	if m := alice.say("/help"); !strings.Contains(m.Text, "autowallet") {
		t.Fatalf("after a 429 = %q", m.Text)
	}
}
