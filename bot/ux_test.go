package bot_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/parent"
)

const stranger = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

// TestGuidedSendMoreThanBalanceMax: an amount above the balance is said and
// asked again, with Max and Cancel; Max sends the balance less the max fee;
// Cancel at a step ends the flow in words.
func TestGuidedSendMoreThanBalanceMax(t *testing.T) {
	w := newWorld(t)
	alice := w.user(t, 1101, "Alice")
	card := alice.createWallet()
	alice.fund(card)
	alice.press(card, "Send")
	if m := alice.next(); !strings.Contains(m.Text, "Who do you want to send ETH on Dev L1 to?") || !hasButton(m, "Cancel") {
		t.Fatalf("first step %q %+v", m.Text, m.Buttons)
	}
	ask := alice.say(stranger)
	if !strings.Contains(ask.Text, "How much ETH on Dev L1") || !hasButton(ask, "Max") || !hasButton(ask, "Cancel") {
		t.Fatalf("amount step %q %+v", ask.Text, ask.Buttons)
	}
	again := alice.say("5")
	for _, want := range []string{"That is more than your balance: you have 1 ETH on Dev L1, and this needs up to 5.00000", "(the amount plus the max network fee of 0.00000", "How much ETH on Dev L1", "You have 1 ETH"} {
		if !strings.Contains(again.Text, want) {
			t.Fatalf("more than the balance answered %q, want %q", again.Text, want)
		}
	}
	if !hasButton(again, "Max") || !hasButton(again, "Cancel") {
		t.Fatalf("asked again without Max/Cancel: %+v", again.Buttons)
	}
	alice.press(again, "Max")
	tc := alice.nextWhere(func(m emulator.Message) bool { return hasButton(m, "Review") })
	list, _ := w.svc.History(1101, 1, 0)
	if len(list) != 1 || !strings.Contains(tc.Text, "Send 0.99") {
		t.Fatalf("Max built %q (%d transfers)", tc.Text, len(list))
	}
	cost := new(big.Int).Add(list[0].Amount, list[0].MaxFee)
	if cost.Cmp(parent.WeiPerETH) > 0 || list[0].Amount.Cmp(big.NewInt(99e16)) < 0 {
		t.Fatalf("Max: amount %s + max fee %s is not the balance less the fee", list[0].Amount, list[0].MaxFee)
	}
	// Cancel at a step.
	alice.press(card, "Send")
	step := alice.next()
	alice.press(step, "Cancel")
	if m := alice.next(); m.Text != "Cancelled. Nothing was sent." {
		t.Fatalf("Cancel button answered %q", m.Text)
	}
	if m := alice.say("0.1"); !strings.Contains(m.Text, "/send") {
		t.Fatalf("after Cancel the flow still ran: %q", m.Text)
	}
}

// TestPendingWarningCancelAndSendAgain: with one transfer signed and
// waiting for the network, a second one that together with it exceeds the
// balance is warned about on its card; /cancel cancels the one awaiting
// approval and then says the signed one needs Replace; the cancelled card
// has Send again, which builds the same transfer anew.
func TestPendingWarningCancelAndSendAgain(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.user(t, 1201, "Alice"), w.user(t, 1202, "Bob")
	card := alice.createWallet()
	alice.fund(card)
	bobAddr := addressIn(t, bob.createWallet())

	w.chain.Pause()
	first := alice.say("/send 0.6 ETH to " + bobAddr)
	if _, resp, _ := w.approveStatus(t, alice, first); resp.Status != "sent" {
		t.Fatalf("approve = %+v", resp)
	}
	alice.waitEdit(card.ID, "(0.6 pending out)")
	second := alice.say("/send 0.6 ETH to " + bobAddr)
	for _, want := range []string{"⚠️ You already have 0.6", "pending in 1 transfer not yet confirmed", "more than your balance of 1 ETH"} {
		if !strings.Contains(second.Text, want) {
			t.Fatalf("second card %q lacks %q", second.Text, want)
		}
	}
	if m := alice.say("/cancel"); !strings.Contains(m.Text, "Cancelled your transfer of 0.6 ETH to") || !strings.Contains(m.Text, "Nothing was sent") {
		t.Fatalf("/cancel = %q", m.Text)
	}
	cancelled := alice.waitEdit(second.ID, "Cancelled. Nothing was sent.")
	if !hasButton(cancelled, "Send again") || hasButton(cancelled, "Review") {
		t.Fatalf("cancelled card buttons %+v", cancelled.Buttons)
	}
	if m := alice.say("/cancel"); !strings.Contains(m.Text, "already approved and signed") || !strings.Contains(m.Text, "Replace") {
		t.Fatalf("/cancel with only a signed transfer = %q", m.Text)
	}
	alice.press(cancelled, "Send again")
	anew := alice.nextWhere(func(m emulator.Message) bool { return hasButton(m, "Review") })
	if !strings.Contains(anew.Text, "Send 0.6 ETH") || !strings.Contains(anew.Text, bobAddr) || !strings.Contains(anew.Text, "You already have 0.6") {
		t.Fatalf("Send again built %q", anew.Text)
	}
	w.chain.Resume()
	alice.waitEdit(first.ID, "Confirmed in block")
	alice.waitEdit(card.ID, "Dev L1: 0.39")
}

// TestUsernameRecipientsAndNames: "@bobby" of a user of the bot is their
// wallet; the card, the amount question and the history name them by their
// @username beside the full address; a user without a wallet and an unknown
// name are refused in words. A first name is never shown: Mallory, whose
// first name is "Bob (@bob)" and who has no username, and Oscar, whose
// first name carries U+202E (right-to-left override), are shown by address
// (and Oscar by his @username) only.
func TestUsernameRecipientsAndNames(t *testing.T) {
	w := newWorld(t)
	alice, bob, carol := w.user(t, 1301, "Alice"), w.user(t, 1302, "Bobby"), w.user(t, 1303, "Carol")
	alice.fund(alice.createWallet())
	bobAddr := addressIn(t, bob.createWallet())
	carol.say("/start")

	tc := alice.say("/send 0.01 ETH to @Bobby")
	if !strings.Contains(tc.Text, "To: @bobby\n"+bobAddr) || strings.Contains(tc.Text, "Bobby (") || !hasButton(tc, "Review") {
		t.Fatalf("card for @bobby = %q", tc.Text)
	}
	if m := alice.say("/send 0.01 ETH to @carol"); !strings.Contains(m.Text, "@carol has no wallet yet") {
		t.Fatalf("@carol without a wallet = %q", m.Text)
	}
	alice.say("/cancel")
	if h := alice.say("/history"); !strings.Contains(h.Text, "0.01 ETH to @bobby "+bobAddr+" on Dev L1") {
		t.Fatalf("history = %q", h.Text)
	}
	// The guided send's amount question: the @username and the full address.
	if q := alice.say("/send ETH to @bobby"); !strings.Contains(q.Text, "How much ETH on Dev L1 do you want to send to @bobby "+bobAddr+"?") {
		t.Fatalf("amount question = %q", q.Text)
	}
	alice.say("/cancel")

	// Spoofed names: a first name is free text, never shown.
	mallory := &user{User: w.emu.User(1305, "Bob (@bob)", ""), t: t}
	malAddr := addressIn(t, mallory.createWallet())
	oscar := &user{User: w.emu.User(1306, "Bob\u202e)bob@( ", "oscar_1"), t: t}
	oscAddr := addressIn(t, oscar.createWallet())
	for _, to := range []string{malAddr, oscAddr} {
		tc = alice.say("/send 0.01 ETH to " + to)
		q := alice.say("/send ETH to " + to)
		alice.say("/cancel")
		for _, m := range []string{tc.Text, q.Text} {
			if strings.Contains(m, "Bob") || strings.Contains(m, "\u202e") || !strings.Contains(m, to) {
				t.Fatalf("a message about %s shows a first name or lacks the full address: %q", to, m)
			}
		}
		if to == oscAddr && !strings.Contains(tc.Text, "To: @oscar_1\n"+oscAddr) {
			t.Fatalf("card for oscar = %q", tc.Text)
		}
		if to == malAddr && !strings.Contains(tc.Text, "To: "+malAddr) {
			t.Fatalf("card for mallory = %q", tc.Text)
		}
	}
	h := alice.say("/history")
	if strings.Contains(h.Text, "Bob") || strings.Contains(h.Text, "\u202e") || !strings.Contains(h.Text, "0.01 ETH to "+malAddr+" on Dev L1") ||
		!strings.Contains(h.Text, "0.01 ETH to @oscar_1 "+oscAddr+" on Dev L1") {
		t.Fatalf("history with spoofed first names = %q", h.Text)
	}
	// A stored username outside Telegram's rule is shown as nothing.
	eve := &user{User: w.emu.User(1304, "<b>Eve</b>", "eve<b>x</b>"), t: t}
	eveAddr := addressIn(t, eve.createWallet())
	if tc = alice.say("/send 0.01 ETH to " + eveAddr); !strings.Contains(tc.Text, "To: "+eveAddr) || strings.Contains(tc.Text, "Eve") || strings.Contains(tc.Raw, "<b>x") {
		t.Fatalf("card for a bad username: text %q raw %q", tc.Text, tc.Raw)
	}
}

// TestGreetingLosesCreateButton: after Create wallet the greeting says the
// address and has no button; a second tap on it makes no second card.
func TestGreetingLosesCreateButton(t *testing.T) {
	w := newWorld(t)
	dan := w.user(t, 1401, "Dan")
	greeting := dan.say("/start")
	data := findButton(t, greeting, "Create wallet").CallbackData
	dan.press(greeting, "Create wallet")
	card := dan.nextWhere(func(m emulator.Message) bool { return m.PhotoFileID != "" })
	addr := addressIn(t, card)
	edited := dan.waitEdit(greeting.ID, "Your wallet is ready: "+addr)
	if len(edited.Buttons) != 0 {
		t.Fatalf("greeting keeps buttons %+v", edited.Buttons)
	}
	// The button is gone: Telegram (and the emulator) has nothing to tap.
	if _, err := dan.Press(greeting.ID, data); err == nil {
		t.Fatal("the greeting's Create wallet button can still be tapped")
	}
	if again := dan.say("/start"); again.PhotoFileID == "" || addressIn(t, again) != addr {
		t.Fatalf("/start after creation = %q, want the same wallet's card", again.Text+again.Caption)
	}
}
