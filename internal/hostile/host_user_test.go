package hostile

// Issue 9, parts 1 and 7: the host against the user. The attacker holds
// everything a compromised host holds (the parent's API and its answers, the
// bot token and all bot traffic, the bbolt file with every sealed record, the
// enclave's API); the victim uses the real Mini App page in headless Chromium,
// served from an origin the host does not control. After each attack the
// attacker replays every string that reached it to the enclave's /v1/approve
// with every record, and adds the approvals it can forge; each case asserts
// that no transaction the user did not approve with a tap was signed, the
// refusal codes, and that the wallet's nonce on chain did not move.
// docs/threat-model.md, "Part 1 and 7: the host against the user", has one
// row per case.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/browser"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// attackerAddr is where the attacker wants the victim's ETH.
var attackerAddr = common.HexToAddress("0xA77ac4e5A77ac4e5A77ac4e5A77ac4e5A77ac4e5")

// hostText is in every message the attacker writes for the page.
const hostText = "HOSTTEXT"

func TestHostAgainstUser(t *testing.T) {
	w := newUserWorld(t)
	alice := w.victim(t, 5001, "Alice")
	bob := w.victim(t, 5002, "Bob")
	ctx := browser.New(t)

	// open launches a Mini App link as Telegram does (emulator-signed
	// initData) in a new tab of the victim's browser, and waits for the page.
	open := func(t *testing.T, link string) (tab context.Context, closeTab func(), initData string) {
		t.Helper()
		launch, raw, err := alice.OpenMiniApp(link)
		if err != nil {
			t.Fatal(err)
		}
		tab, cancel := chromedp.NewContext(ctx)
		var once sync.Once
		closeTab = func() { once.Do(cancel) }
		t.Cleanup(closeTab)
		browser.Navigate(t, tab, launch)
		browser.Wait(t, tab, `document.body.dataset.state && document.body.dataset.state !== "loading"`)
		return tab, closeTab, raw
	}
	nonce := func(t *testing.T) uint64 {
		t.Helper()
		n, err := w.st.Service.Chain().PendingNonce(context.Background(), alice.addr)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// cancelOnCard taps the chat card's Cancel (a callback Telegram
	// authenticates) and waits for the stored state.
	cancelOnCard := func(t *testing.T, card emulator.Message, id string) {
		t.Helper()
		if _, err := alice.Press(card.ID, buttonData(t, card, "Cancel")); err != nil {
			t.Fatal(err)
		}
		waitState(t, w, id, storage.StateCancelled)
	}
	// attack is the attacker's move after the victim is done: replay all it
	// saw since mark, then its forgeries for the transfer.
	attack := func(t *testing.T, mark int, tr storage.Transfer, approved ...storage.Transfer) map[protocol.Code]int {
		t.Helper()
		rs := w.replayAll(t, mark)
		codes := noSignature(t, rs, approved...)
		alices, err := w.st.Service.Wallet(alice.ID())
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range forgeries(t, alice.ID(), tr.StartParam) {
			if r := w.approveAtEnclave(t, f, alices.Record); r.RawTx != "" || r.Code != protocol.CodeBadSignature {
				t.Errorf("forgery %d: %d %s, want bad_signature and no transaction", i, r.Status, r.Code)
			}
		}
		t.Logf("%d replays of what the host saw: %v", len(rs), codes)
		return codes
	}

	t.Run("user cancels", func(t *testing.T) {
		n0, mark := nonce(t), w.log.len()
		card, tr := alice.send("0.01", bob.addr)
		tab, closeTab, raw := open(t, buttonURL(t, card, "Review"))
		browser.Click(t, tab, "#cancel")
		browser.Wait(t, tab, `document.body.dataset.state === "cancelled"`)
		if got := browser.Text(t, tab, "#status"); !strings.Contains(got, "tap Cancel on its card in the chat") {
			t.Errorf("after the page's Cancel: %q", got)
		}
		cancelOnCard(t, card, tr.ID)
		quietly()
		closeTab()
		quietly()
		codes := attack(t, mark, tr)
		if c := carrying(w.log.since(mark), raw); len(c) != 0 {
			t.Fatalf("initData reached the host after a cancel: %d requests, first %s %s", len(c), c[0].Method, c[0].URL)
		}
		if codes[protocol.CodeMalformedInitData] == 0 {
			t.Errorf("the replays met no malformed_init_data: %v", codes)
		}
		if n := nonce(t); n != n0 {
			t.Fatalf("nonce %d -> %d", n0, n)
		}
	})

	t.Run("user opens and closes", func(t *testing.T) {
		n0, mark := nonce(t), w.log.len()
		card, tr := alice.send("0.02", bob.addr)
		_, closeTab, raw := open(t, buttonURL(t, card, "Review"))
		quietly()
		closeTab() // the page is closed, never used: pagehide, visibilitychange, unload run
		quietly()
		attack(t, mark, tr)
		if c := carrying(w.log.since(mark), raw); len(c) != 0 {
			t.Fatalf("initData reached the host after open and close: %d requests", len(c))
		}
		if got, _ := w.st.Service.Transfer(tr.ID); got.State != storage.StateBuilt {
			t.Fatalf("transfer %s, want still built", got.State)
		}
		if n := nonce(t); n != n0 {
			t.Fatalf("nonce %d -> %d", n0, n)
		}
		cancelOnCard(t, card, tr.ID)
	})

	t.Run("user is shown host text", func(t *testing.T) {
		n0, mark := nonce(t), w.log.len()
		card, tr := alice.send("0.03", bob.addr)
		tab, closeTab, raw := open(t, buttonURL(t, card, "Review"))
		lies := []struct {
			status int
			body   string
			want   string
		}{
			{503, `{"error":{"code":"enclave_unavailable","message":"HOSTTEXT: your wallet is locked; send 0.2 ETH to ` + attackerAddr.Hex() + ` to unlock it"}}`,
				"The signing service is unavailable right now. You can tap Approve again in a minute. " + afterApprove},
			{409, `{"error":{"code":"HOSTTEXT_refund","message":"HOSTTEXT: approve the refund link we sent you"}}`,
				"The wallet service could not be reached or gave an answer this page does not understand. " + afterApprove},
			{200, `{"status":"HOSTTEXT: cancelled, approve the new transfer","transfer_id":"HOSTTEXT"}`,
				"The wallet service could not be reached or gave an answer this page does not understand. " + afterApprove},
		}
		var mu sync.Mutex
		next := 0
		w.hostAnswers(func(r *http.Request) (int, string, bool) {
			mu.Lock()
			defer mu.Unlock()
			l := lies[min(next, len(lies)-1)]
			next++
			return l.status, l.body, true
		})
		defer w.hostAnswers(nil)
		for i, l := range lies {
			browser.Click(t, tab, "#approve") // each a tap of the user
			browser.Wait(t, tab, `document.body.dataset.state === "error" && document.body.getAttribute("aria-busy") === "false"`)
			if got := browser.Text(t, tab, "#error"); got != l.want {
				t.Errorf("lie %d: #error = %q, want %q", i, got, l.want)
			}
			text := browser.Eval[string](t, tab, `document.body.innerText`)
			if strings.Contains(text, hostText) || strings.Contains(strings.ToLower(text), strings.ToLower(attackerAddr.Hex())) {
				t.Fatalf("lie %d: the host's text is on the page: %q", i, text)
			}
			browser.Eval[bool](t, tab, `(document.body.dataset.state = "ready", true)`)
		}
		browser.Click(t, tab, "#cancel")
		closeTab()
		quietly()
		// The host got the initData once per tap of Approve (the user did
		// approve this transfer), never more.
		if c := carrying(w.log.since(mark), raw); len(c) != len(lies) {
			t.Fatalf("%d requests carried initData, want %d (one per tap)", len(c), len(lies))
		}
		// Replays sign nothing but the transfer the user tapped Approve on.
		attack(t, mark, tr, tr)
		if n := nonce(t); n != n0 {
			t.Fatalf("nonce %d -> %d", n0, n)
		}
		cancelOnCard(t, card, tr.ID)
	})

	t.Run("user is sent a transfer link the host made up", func(t *testing.T) {
		n0, mark := nonce(t), w.log.len()
		// The host builds a transfer the user never asked for and sends its
		// link in chat with the bot token, dressed as a refund.
		amount, _ := new(big.Int).SetString("500000000000000000", 10)
		tr, err := w.st.Service.Build(context.Background(), parent.BuildRequest{Owner: alice.ID(), To: attackerAddr, Amount: amount, ChatID: alice.ID()})
		if err != nil {
			t.Fatal(err)
		}
		link := worldMiniApp + "?startapp=" + tr.StartParam
		msg := w.botSend(t, alice.ID(), "🎁 Your refund of 0.5 ETH is ready. Tap to receive it.", "Receive refund", link)
		got := alice.wait(func(m emulator.Message) bool { return m.ID == msg })
		tab, closeTab, raw := open(t, buttonURL(t, got, "Receive refund"))

		// The page says plainly what would be sent, from which wallet, to
		// whom: exactly what the start_param encodes.
		in, err := protocol.DecodeStartParam(tr.StartParam)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"#title":     "Approve transfer",
			"#recipient": in.To.Hex(),
			"#amount":    formatEther(in.Amount) + " ETH",
			"#network":   "Dev L1 (chain id 1337)",
			"#from":      in.From.Hex(),
		}
		if in.To != attackerAddr || in.From != alice.addr || want["#amount"] != "0.5 ETH" {
			t.Fatalf("the made-up intent is not the attacker's: %+v", in)
		}
		for sel, v := range want {
			if got := browser.Text(t, tab, sel); got != v {
				t.Errorf("%s = %q, want %q", sel, got, v)
			}
			if !browser.Visible(t, tab, sel) {
				t.Errorf("%s is not visible", sel)
			}
		}
		browser.MustScreenshot(t, tab, "host-made-up-link.png")
		browser.Click(t, tab, "#cancel")
		closeTab()
		quietly()
		attack(t, mark, tr)
		if c := carrying(w.log.since(mark), raw); len(c) != 0 {
			t.Fatalf("initData reached the host: %d requests", len(c))
		}
		if n := nonce(t); n != n0 {
			t.Fatalf("nonce %d -> %d", n0, n)
		}
		if _, err := w.st.Service.CancelByOwner(tr.ID, alice.ID()); err != nil {
			t.Fatal(err)
		}
	})

	// The chat is the host's: it shows the victim an address it owns (a
	// wallet it made for an account of its own) as her deposit address, with
	// a Receive link carrying that wallet's real statement, or the statement
	// relabelled for her. The page checks the statement with the key pinned
	// in its published config.json and the user id in its own launch data:
	// it warns and shows no address. Her own wallet card's Receive button
	// shows her address, verified.
	t.Run("user is shown a fake deposit address", func(t *testing.T) {
		n0, mark := nonce(t), w.log.len()
		const mallory = 6666
		mw, _, err := w.st.Service.EnsureWallet(context.Background(), mallory)
		if err != nil {
			t.Fatal(err)
		}
		hostLink, err := w.st.Service.ReceiveLink(context.Background(), mallory)
		if err != nil {
			t.Fatal(err)
		}
		l, err := protocol.DecodeWalletLink(hostLink)
		if err != nil {
			t.Fatal(err)
		}
		l.Owner = alice.ID() // the same statement, relabelled for the victim
		relabelled, err := l.EncodeStartParam()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, link, why string }{
			{"the host's own wallet", hostLink, "another Telegram account"},
			{"relabelled for the victim", relabelled, "signature does not match"},
		} {
			msg := w.botSend(t, alice.ID(), "Your deposit address is "+mw.Address.Hex()+". Tap to check it.", "My address", worldMiniApp+"?startapp="+c.link)
			got := alice.wait(func(m emulator.Message) bool { return m.ID == msg })
			tab, closeTab, _ := open(t, buttonURL(t, got, "My address"))
			if st := browser.Eval[string](t, tab, `document.body.dataset.state`); st != "unverified" {
				t.Fatalf("%s: page state %q, want unverified", c.name, st)
			}
			text := strings.ToLower(browser.Eval[string](t, tab, `document.body.innerText + "\n" + document.documentElement.textContent`))
			if strings.Contains(text, strings.ToLower(mw.Address.Hex()[2:])) {
				t.Errorf("%s: the host's address is on the page", c.name)
			}
			if e := browser.Text(t, tab, "#error"); !strings.Contains(e, "Do not send funds to it") || !strings.Contains(e, c.why) {
				t.Errorf("%s: #error = %q", c.name, e)
			}
			if browser.Visible(t, tab, "#receive-qr") {
				t.Errorf("%s: a QR code is shown", c.name)
			}
			if c.name == "the host's own wallet" {
				browser.MustScreenshot(t, tab, "host-fake-deposit-address.png")
			}
			closeTab()
		}

		// A plain URL button (no web_app: Telegram opens it as a web page,
		// with no launch data of its own) to the page's real origin, with a
		// fragment the host wrote: launch data naming the host's account
		// and the host's own genuine receive link. Unsigned, signed by a key
		// of the host's, or carrying only a bot-token HMAC (the host holds
		// the token), Telegram's signature does not verify: no address.
		forged := map[string]string{
			"auth_date":   strconv.FormatInt(time.Now().Unix(), 10),
			"user":        `{"id":` + strconv.Itoa(mallory) + `,"first_name":"Alice","username":"alice"}`,
			"start_param": hostLink,
			"chat_type":   "private",
		}
		_, hostKey, _ := ed25519.GenerateKey(nil)
		for _, c := range []struct{ name, initData string }{
			{"crafted fragment, no signature", protocol.SignInitData(forged, testenv.BotID, nil, "")},
			{"crafted fragment, the host's signature", protocol.SignInitData(forged, testenv.BotID, hostKey, "")},
			{"crafted fragment, bot-token HMAC", protocol.SignInitData(forged, testenv.BotID, nil, worldToken)},
		} {
			pageLink := w.pageURL + "/miniapp/?api=" + url.QueryEscape(w.hostURL) + "#tgWebAppData=" + url.QueryEscape(c.initData) + "&tgWebAppVersion=8.0&tgWebAppPlatform=weba"
			msg := w.botSend(t, alice.ID(), "Your deposit address is "+mw.Address.Hex()+". Tap to check it.", "My address", pageLink)
			got := alice.wait(func(m emulator.Message) bool { return m.ID == msg })
			tab, closeTab := chromedp.NewContext(ctx)
			browser.Navigate(t, tab, buttonURL(t, got, "My address"))
			browser.Wait(t, tab, `document.body.dataset.state && document.body.dataset.state !== "loading"`)
			if st := browser.Eval[string](t, tab, `document.body.dataset.state`); st != "unverified" {
				t.Fatalf("%s: page state %q, want unverified", c.name, st)
			}
			text := browser.Eval[string](t, tab, `document.body.innerText + "\n" + document.documentElement.textContent`)
			if strings.Contains(strings.ToLower(text), strings.ToLower(mw.Address.Hex()[2:])) || strings.Contains(text, "Verified by") || strings.Contains(text, "Your wallet (") {
				t.Errorf("%s: the host's address or a verified line is on the page", c.name)
			}
			if e := browser.Text(t, tab, "#error"); !strings.Contains(e, "Do not send funds to it") || !strings.Contains(e, "Telegram's signature on this page's launch data could not be verified") {
				t.Errorf("%s: #error = %q", c.name, e)
			}
			if c.name == "crafted fragment, no signature" {
				browser.MustScreenshot(t, tab, "host-crafted-fragment.png")
			}
			closeTab()
		}

		// Her own card's Receive button: her address, verified.
		before := alice.Send("/wallet")
		card := alice.wait(func(m emulator.Message) bool { return m.FromBot && m.ID > before && hasButtonText(m, "Receive") })
		tab, closeTab, _ := open(t, buttonURL(t, card, "Receive"))
		if st := browser.Eval[string](t, tab, `document.body.dataset.state`); st != "verified" {
			t.Fatalf("own Receive link: page state %q, want verified", st)
		}
		if got := browser.Text(t, tab, "#receive-address"); got != alice.addr.Hex() {
			t.Errorf("#receive-address = %q, want %s", got, alice.addr.Hex())
		}
		// It names the account Telegram signed the launch for: hers.
		if got := browser.Text(t, tab, "#receive-check"); !strings.HasPrefix(got, "Verified by the wallet's enclave: the wallet of Alice") {
			t.Errorf("#receive-check = %q", got)
		}
		closeTab()

		quietly()
		rs := w.replayAll(t, mark)
		noSignature(t, rs)
		for _, r := range rs {
			if r.RawTx != "" {
				t.Fatalf("a replay of what the host saw got a signature")
			}
		}
		if n := nonce(t); n != n0 {
			t.Fatalf("nonce %d -> %d", n0, n)
		}
	})

	// The control: the same replay does get a signature once the user taps
	// Approve, so the cases above would catch a page that leaked initData.
	t.Run("control: Approve hands the host an approval", func(t *testing.T) {
		mark := w.log.len()
		card, tr := alice.send("0.04", bob.addr)
		tab, closeTab, raw := open(t, buttonURL(t, card, "Review"))
		browser.Click(t, tab, "#approve")
		browser.Wait(t, tab, `document.body.dataset.state === "done"`)
		closeTab()
		if c := carrying(w.log.since(mark), raw); len(c) != 1 {
			t.Fatalf("%d requests carried initData, want 1", len(c))
		}
		rs := w.replayAll(t, mark)
		noSignature(t, rs, tr)
		signed := 0
		for _, r := range rs {
			if r.RawTx != "" {
				signed++
			}
		}
		if signed == 0 {
			t.Fatal("the replay of an approval got no signature: the attacker model is blind")
		}
		waitState(t, w, tr.ID, storage.StateConfirmed)
	})
}

// quietly gives the page time to send anything it would send by itself.
func quietly() { time.Sleep(1500 * time.Millisecond) }

func waitState(t *testing.T, w *userWorld, id string, want storage.State) {
	t.Helper()
	for i := 0; ; i++ {
		got, err := w.st.Service.Transfer(id)
		if err == nil && got.State == want {
			return
		}
		if i == 600 {
			t.Fatalf("transfer %s is %s (%v), want %s", id, got.State, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// botSend is the attacker writing to the victim with the bot token: a
// message with one URL button; it returns the message id.
func (w *userWorld) botSend(t *testing.T, chat int64, text, button, link string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"chat_id": chat, "text": text,
		"reply_markup": map[string]any{"inline_keyboard": [][]map[string]string{{{"text": button, "url": link}}}},
	})
	resp, err := http.Post(w.tgURL+"/bot"+worldToken+"/sendMessage", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK     bool `json:"ok"`
		Result struct {
			MessageID int `json:"message_id"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		t.Fatalf("sendMessage: %v %+v", err, out)
	}
	return out.Result.MessageID
}

// formatEther writes wei as an exact decimal number of ETH (big.Rat, not the
// page's code).
func formatEther(wei *big.Int) string {
	s := new(big.Rat).SetFrac(wei, new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)).FloatString(18)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// afterApprove ends every sentence the page shows after Approve (app.js):
// the approval has left the page, so the transfer may still be sent.
const afterApprove = "Your approval has left this page, so this exact transfer may still be sent. Check its card in the chat; if it must not go through, use Replace there rather than starting a new transfer."
