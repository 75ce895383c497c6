package main

import (
	"context"
	"io"
	"log/slog"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/browser"
	"github.com/autowallet/autowallet/parent"
)

var addressRE = regexp.MustCompile(`0x[0-9a-fA-F]{40}`)

// TestDevEndToEndInChromium is the newcomer's first session, in a real
// browser against `autowallet dev`: open the chat page, /start, tap Create
// wallet, see the address and QR code, /faucet, send to a second user's
// wallet, open the Mini App from the card, tap Approve, and watch the card
// reach "confirmed" and the second user's balance rise; then test USDC to
// the second user, who is told "Received 25 USDC on Dev L1 from …".
func TestDevEndToEndInChromium(t *testing.T) {
	m := NewDevMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags([]string{"-data", t.TempDir(), "-http", "127.0.0.1:0", "-block-period", "300ms"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.Addr().String()

	ctx := browser.New(t)
	browser.Do(t, ctx, chromedp.EmulateViewport(1280, 900))
	browser.Navigate(t, ctx, base+"/?user=alice")
	send := func(text string) {
		t.Helper()
		browser.Do(t, ctx, chromedp.SendKeys(chromedp.CSS("#composer-input"), text), chromedp.Click(chromedp.CSS("#composer-send")))
	}
	// The text of every bot message, joined, for waiting on.
	botText := `Array.from(document.querySelectorAll('.message[data-from="bot"]')).map(e => e.textContent).join("\n")`

	send("/start")
	browser.Wait(t, ctx, `document.querySelector('button[data-callback="w:create"]')`)
	browser.Click(t, ctx, `button[data-callback="w:create"]`)
	browser.Wait(t, ctx, `document.querySelector('.message[data-from="bot"] img.photo')?.complete`)
	browser.Wait(t, ctx, `/0x[0-9a-fA-F]{40}/.test(`+botText+`)`)
	alice := addressRE.FindString(browser.Eval[string](t, ctx, botText))
	if alice == "" {
		t.Fatal("no address on the wallet card")
	}
	if w := browser.Eval[int](t, ctx, `document.querySelector('.message[data-from="bot"] img.photo').naturalWidth`); w < 100 {
		t.Fatalf("QR code image is %d px wide", w)
	}

	send("/faucet")
	browser.Wait(t, ctx, botText+`.includes("dev faucet sent you")`)

	// A second user creates a wallet through the emulator's Go API.
	bob := m.Emulator().User(0, "Bob", "bob")
	first := bob.Send("/start")
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	greeting, err := bob.WaitMessage(wctx, func(msg emulator.Message) bool { return msg.FromBot && msg.ID > first && len(msg.Buttons) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Press(greeting.ID, "w:create"); err != nil {
		t.Fatal(err)
	}
	var bobWallet string
	for i := 0; bobWallet == ""; i++ {
		if w, err := m.Service().Wallet(bob.ID()); err == nil {
			bobWallet = w.Address.Hex()
		} else if i == 100 {
			t.Fatal("bob has no wallet")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Wait for the faucet's ETH before sending.
	for i := 0; ; i++ {
		b, err := m.Service().Balance(context.Background(), parentAddr(alice))
		if err == nil && b.Sign() > 0 {
			break
		}
		if i == 100 {
			t.Fatal("faucet ETH never arrived")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// ETH is on both dev networks and Alice holds both: name one (else the
	// bot asks with buttons).
	send("/send 0.05 ETH to " + bobWallet + " on Dev L1")
	// The transfer card's Review & approve is the newest Mini App button (the
	// wallet card above it has Receive).
	browser.Wait(t, ctx, `document.querySelectorAll('button[data-miniapp="true"]').length >= 2`)
	browser.Eval[bool](t, ctx, `(function(){ Array.from(document.querySelectorAll('button[data-miniapp="true"]')).pop().click(); return true })()`)
	browser.Wait(t, ctx, `document.querySelector('#miniapp-panel')?.dataset.state === "open"`)
	browser.Wait(t, ctx, `document.querySelector('#miniapp-panel iframe')?.contentDocument?.querySelector('#approve:not([disabled])')`)
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#miniapp-panel iframe")))
	if err != nil || len(frames) == 0 {
		t.Fatalf("Mini App frame: %v", err)
	}
	recipient, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#recipient"), chromedp.FromNode(frames[0])))
	if err != nil || !strings.EqualFold(strings.ReplaceAll(recipient, " ", ""), bobWallet) {
		t.Fatalf("Mini App shows recipient %q (%v), want %s", recipient, err, bobWallet)
	}
	browser.MustScreenshot(t, ctx, "dev-e2e-miniapp.png")
	browser.Do(t, ctx, chromedp.Click(chromedp.CSS("#approve"), chromedp.FromNode(frames[0])))

	browser.Wait(t, ctx, botText+`.includes("Confirmed in block")`)
	// The Mini App closes itself after a success (web_app_close).
	browser.Wait(t, ctx, `document.querySelector('#miniapp-panel')?.dataset.state === "closed"`)
	browser.MustScreenshot(t, ctx, "dev-e2e-chat.png")
	// The wallet card's Receive button: the page shows Alice's address as
	// verified by the enclave (its statement, checked with config.json's key).
	browser.Eval[bool](t, ctx, `(function(){ document.querySelector('button[data-miniapp="true"]').click(); return true })()`)
	browser.Wait(t, ctx, `document.querySelector('#miniapp-panel iframe')?.contentDocument?.body?.dataset.state === "verified"`)
	if got := browser.Eval[string](t, ctx, `document.querySelector('#miniapp-panel iframe').contentDocument.querySelector('#receive-address').textContent`); !strings.EqualFold(got, alice) {
		t.Fatalf("Receive shows %q, want %s", got, alice)
	}
	browser.MustScreenshot(t, ctx, "dev-e2e-receive.png")
	b, err := m.Service().Balance(context.Background(), parentAddr(bobWallet))
	if err != nil || b.Cmp(big.NewInt(5e16)) != 0 {
		t.Fatalf("bob's balance = %v (%v), want 0.05 ETH", b, err)
	}

	// Test USDC to Bob, approved in the page; Bob is told it arrived.
	send("/send 25 USDC to " + bobWallet + " on Dev L1")
	browser.Wait(t, ctx, botText+`.includes("Send 25 USDC")`)
	browser.Eval[bool](t, ctx, `(function(){ Array.from(document.querySelectorAll('button[data-miniapp="true"]')).pop().click(); return true })()`)
	browser.Wait(t, ctx, `document.querySelector('#miniapp-panel iframe')?.contentDocument?.querySelector('#approve:not([disabled])')`)
	frames, err = chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#miniapp-panel iframe")))
	if err != nil || len(frames) == 0 {
		t.Fatalf("Mini App frame: %v", err)
	}
	browser.Do(t, ctx, chromedp.Click(chromedp.CSS("#approve"), chromedp.FromNode(frames[0])))
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	want := "Received 25 USDC on Dev L1 from " + common.HexToAddress(alice).Hex()
	if _, err := bob.WaitMessage(rctx, func(msg emulator.Message) bool { return msg.FromBot && strings.HasPrefix(msg.Text, want) }); err != nil {
		t.Fatalf("bob never got %q: %v", want, err)
	}
	browser.Wait(t, ctx, botText+`.split("Confirmed in block").length >= 3`)
	browser.MustScreenshot(t, ctx, "dev-e2e-usdc.png")
}

func parentAddr(s string) [20]byte {
	a, err := parent.ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}
