package miniapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/browser"
	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

const testBotID = 7000000001

var (
	testFrom = common.HexToAddress("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
	testTo   = common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
)

// testIntent is 0.05 ETH on Sepolia, 21000 gas at most 30 gwei, expiring in.
func testIntent(t *testing.T, expiresIn time.Duration) *protocol.Intent {
	t.Helper()
	amount, _ := new(big.Int).SetString("50000000000000000", 10)
	return &protocol.Intent{
		ChainID:              11155111,
		From:                 testFrom,
		To:                   testTo,
		Amount:               amount,
		Nonce:                3,
		GasLimit:             21000,
		MaxFeePerGas:         big.NewInt(30_000_000_000),
		MaxPriorityFeePerGas: big.NewInt(1_500_000_000),
		Expiry:               uint64(time.Now().Add(expiresIn).Unix()),
		WalletProof:          testvectors.WalletProof(testvectors.VaultKey(), testvectors.Owner, testFrom),
	}
}

// startParam is in as a version 2 intent whose wallet proof, by the test
// identity key, says in.From is testUserID's wallet (wallet_helpers_test.go).
func startParam(t *testing.T, in *protocol.Intent) string {
	t.Helper()
	return intentParam(in, testIdentity, testUserID)
}

// signedInitData is initData as Telegram makes it for a direct-link launch,
// signed with testTelegram, the key config.json publishes.
func signedInitData(t *testing.T, startParam string) string {
	t.Helper()
	key := testTelegram
	values := map[string]string{
		"auth_date":     strconv.FormatInt(time.Now().Unix(), 10),
		"user":          `{"id":424242,"first_name":"Ada","last_name":"Lovelace","username":"ada","language_code":"en"}`,
		"chat_instance": "-4242424242",
		"chat_type":     "private",
	}
	if startParam != "" {
		values["start_param"] = startParam
	}
	return protocol.SignInitData(values, testBotID, key, "")
}

// launchFragment is the URL fragment Telegram Web gives a Mini App.
func launchFragment(initData string, theme map[string]string) string {
	f := "#tgWebAppData=" + url.QueryEscape(initData) + "&tgWebAppVersion=8.0&tgWebAppPlatform=weba"
	if theme != nil {
		b, _ := json.Marshal(theme)
		f += "&tgWebAppThemeParams=" + url.QueryEscape(string(b))
	}
	return f
}

// formatEther writes wei as an exact decimal number of ETH, independently of
// the page's code (big.Rat instead of BigInt division).
func formatEther(wei *big.Int) string {
	s := new(big.Rat).SetFrac(wei, new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)).FloatString(18)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// fakeAPI is the parent's Mini App API as the page sees it: it records every
// call and answers with the next queued response (or waits for one).
type fakeAPI struct {
	mu        sync.Mutex
	calls     []apiCall
	responses chan apiResponse
	arrived   chan apiCall
	cors      bool
}

type apiCall struct {
	Path        string
	ContentType string
	Body        string
	Origin      string
}

type apiResponse struct {
	status int
	body   string
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{responses: make(chan apiResponse, 16), arrived: make(chan apiCall, 16)}
}

func (a *fakeAPI) respond(status int, body string) { a.responses <- apiResponse{status, body} }

func (a *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.cors {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, _ := io.ReadAll(r.Body)
	c := apiCall{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: string(body), Origin: r.Header.Get("Origin")}
	a.mu.Lock()
	a.calls = append(a.calls, c)
	a.mu.Unlock()
	a.arrived <- c
	var resp apiResponse
	select {
	case resp = <-a.responses:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	io.WriteString(w, resp.body)
}

func (a *fakeAPI) Calls() []apiCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]apiCall(nil), a.calls...)
}

func (a *fakeAPI) waitCall(t *testing.T) apiCall {
	t.Helper()
	select {
	case c := <-a.arrived:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("the page made no API call")
		return apiCall{}
	}
}

// server is the page and the fake API on one origin, as dev mode mounts
// them, plus a host page that frames the Mini App as Telegram Web does.
func newServer(t *testing.T, api *fakeAPI, opts ...Option) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler(opts...))
	mux.Handle("/miniapp/api/", api)
	mux.Handle(Prefix+"config.json", serveConfig(configJSON(testIdentity)))
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) {
		// The test's own page (not under the Mini App's policy) records the
		// messages its frame posts to it.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>host</title>
<script>window.messages = []; window.addEventListener("message", e => { if (e.source === document.getElementById("app").contentWindow) window.messages.push(e.data) });</script>
<iframe id="app" width="420" height="800" src="%s"></iframe>`, template(r.URL.Query().Get("src")))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// template escapes a URL for an HTML attribute.
func template(s string) string {
	r := strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;", `>`, "&gt;")
	return r.Replace(s)
}

// openPage opens the Mini App at srv with the launch fragment in a new tab.
func openPage(t *testing.T, ctx context.Context, pageURL string) context.Context {
	t.Helper()
	tab := browser.NewTab(t, ctx)
	browser.Navigate(t, tab, pageURL)
	waitSettled(t, tab)
	return tab
}

// waitSettled waits until app.js has decided what the page shows.
func waitSettled(t *testing.T, tab context.Context) {
	t.Helper()
	browser.Wait(t, tab, `document.body && document.body.dataset.state && document.body.dataset.state !== "loading"`)
}

func state(t *testing.T, tab context.Context) string {
	return browser.Eval[string](t, tab, `document.body.dataset.state`)
}

func TestPageShowsIntent(t *testing.T) {
	api := newFakeAPI()
	srv := newServer(t, api)
	ctx := browser.New(t)
	in := testIntent(t, 10*time.Minute)
	raw := signedInitData(t, startParam(t, in))
	tab := openPage(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, map[string]string{"bg_color": "#ffffff", "text_color": "#000000", "button_color": "#2481cc", "button_text_color": "#ffffff"}))

	if got := state(t, tab); got != "ready" {
		t.Fatalf("state %q, error %q", got, browser.Text(t, tab, "#error"))
	}
	fee := new(big.Int).Mul(new(big.Int).SetUint64(in.GasLimit), in.MaxFeePerGas)
	want := map[string]string{
		"#recipient": in.To.Hex(), // EIP-55, as go-ethereum writes it
		"#amount":    formatEther(in.Amount) + " ETH",
		"#network":   "Sepolia (chain id 11155111)",
		"#fee":       formatEther(fee) + " ETH",
		"#total":     formatEther(in.MaxCost()) + " ETH",
		"#from":      in.From.Hex(),
	}
	if want["#amount"] != "0.05 ETH" || want["#fee"] != "0.00063 ETH" || want["#total"] != "0.05063 ETH" {
		t.Fatalf("the test's own formatting is off: %v", want)
	}
	for sel, w := range want {
		if got := browser.Text(t, tab, sel); got != w {
			t.Errorf("%s = %q, want %q", sel, got, w)
		}
		if !browser.Visible(t, tab, sel) {
			t.Errorf("%s is not visible", sel)
		}
	}
	if got := browser.Text(t, tab, "#expiry"); !regexp.MustCompile(`^in (10|9) min$`).MatchString(got) {
		t.Errorf("#expiry = %q", got)
	}
	if !browser.Visible(t, tab, "#approve") || browser.Eval[bool](t, tab, `document.querySelector("#approve").disabled`) {
		t.Error("#approve is not an enabled, visible button")
	}
	if !browser.Visible(t, tab, "#cancel") || browser.Visible(t, tab, "#error") {
		t.Error("#cancel hidden or #error shown")
	}
	// Telegram's theme reaches the CSS.
	if got := browser.Eval[string](t, tab, `getComputedStyle(document.querySelector("#approve")).backgroundColor`); got != "rgb(36, 129, 204)" {
		t.Errorf("approve button colour %q", got)
	}
	browser.MustScreenshot(t, tab, "miniapp-valid.png")
	if len(api.Calls()) != 0 {
		t.Fatalf("the page called the API by itself: %v", api.Calls())
	}
}

func TestApproveSendsRawInitData(t *testing.T) {
	api := newFakeAPI()
	srv := newServer(t, api)
	ctx := browser.New(t)
	raw := signedInitData(t, startParam(t, testIntent(t, 10*time.Minute)))
	tab := openPage(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil))

	browser.Click(t, tab, "#approve")
	call := api.waitCall(t)
	// While the request is in flight both buttons are disabled, and a second
	// tap posts nothing.
	if !browser.Eval[bool](t, tab, `document.querySelector("#approve").disabled && document.querySelector("#cancel").disabled`) {
		t.Error("buttons are enabled while a request is in flight")
	}
	browser.Eval[bool](t, tab, `(document.querySelector("#approve").click(), document.querySelector("#cancel").click(), true)`)

	if call.Path != "/miniapp/api/approve" || !strings.HasPrefix(call.ContentType, "application/json") {
		t.Fatalf("call %+v", call)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(call.Body), &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 1 || body["init_data"] != raw {
		t.Fatalf("body %s, want exactly {\"init_data\": %q}", call.Body, raw)
	}

	txHash := "0x" + strings.Repeat("ab", 32)
	api.respond(200, `{"status":"sent","transfer_id":"t-1","tx_hash":"`+txHash+`"}`)
	browser.Wait(t, tab, `document.body.dataset.state === "done"`)
	// The page's own sentence; the hash is the host's text and is not shown.
	if status := browser.Text(t, tab, "#status"); status != sentenceSent {
		t.Errorf("#status = %q, want %q", status, sentenceSent)
	}
	if strings.Contains(browser.Eval[string](t, tab, `document.body.innerText`), txHash) {
		t.Error("the host's tx_hash is shown")
	}
	if browser.Exists(t, tab, "#approve") || browser.Exists(t, tab, "#cancel") {
		t.Error("buttons remain after success")
	}
	browser.MustScreenshot(t, tab, "miniapp-result.png")
	if n := len(api.Calls()); n != 1 {
		t.Fatalf("%d API calls, want 1", n)
	}
}

// isInitDataBody reports whether body is exactly {"init_data": raw}.
func isInitDataBody(body, raw string) bool {
	var m map[string]any
	return json.Unmarshal([]byte(body), &m) == nil && len(m) == 1 && m["init_data"] == raw
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Error responses are shown as the page's sentences; a transient one lets the
// user try again, a final one removes Approve; an unknown code or a body that
// is not JSON gets the one fixed sentence, never the server's message.
func TestErrorResponses(t *testing.T) {
	api := newFakeAPI()
	srv := newServer(t, api)
	ctx := browser.New(t)
	raw := signedInitData(t, startParam(t, testIntent(t, 10*time.Minute)))
	tab := openPage(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil))

	steps := []struct {
		status int
		body   string
		want   string
		final  bool
	}{
		{503, `{"error":{"code":"enclave_unavailable","message":"dial vsock: refused"}}`, sentenceUnavailable, false},
		{500, `{"error":{"code":"something_new","message":"A new kind of failure."}}`, sentenceUnknown, false},
		{502, `<html>bad gateway</html>`, sentenceUnknown, false},
		{403, `{"error":{"code":"intent_expired","message":"intent expired at ..."}}`, "The wallet service says this transfer request has expired. " + afterApprove, true},
	}
	for i, s := range steps {
		api.respond(s.status, s.body)
		browser.Click(t, tab, "#approve")
		api.waitCall(t)
		browser.Wait(t, tab, `document.body.dataset.state === "error" && !document.querySelector("#error").hidden && document.body.getAttribute("aria-busy") === "false"`)
		if got := browser.Text(t, tab, "#error"); got != s.want {
			t.Errorf("step %d: #error = %q, want %q", i, got, s.want)
		}
		if s.final {
			if browser.Exists(t, tab, "#approve") {
				t.Errorf("step %d: Approve remains after a final error", i)
			}
		} else if browser.Eval[bool](t, tab, `document.querySelector("#approve").disabled`) {
			t.Errorf("step %d: Approve stays disabled after a transient error", i)
		}
		// Reset the state marker so the next step waits for its own answer.
		browser.Eval[bool](t, tab, `(document.body.dataset.state = "ready", true)`)
	}
	browser.MustScreenshot(t, tab, "miniapp-error.png")
}

func TestExpiredIntentHasNoApprove(t *testing.T) {
	api := newFakeAPI()
	srv := newServer(t, api)
	ctx := browser.New(t)
	in := testIntent(t, -time.Minute)
	tab := openPage(t, ctx, srv.URL+"/miniapp/"+launchFragment(signedInitData(t, startParam(t, in)), nil))

	if got := state(t, tab); got != "expired" {
		t.Fatalf("state %q", got)
	}
	if browser.Exists(t, tab, "#approve") {
		t.Error("an expired intent has an Approve button")
	}
	if got := browser.Text(t, tab, "#expiry"); got != "Expired" {
		t.Errorf("#expiry = %q", got)
	}
	if got := browser.Text(t, tab, "#error"); !strings.Contains(got, "expired") || !browser.Visible(t, tab, "#error") {
		t.Errorf("#error = %q", got)
	}
	// What it was is still shown.
	if got := browser.Text(t, tab, "#recipient"); got != in.To.Hex() {
		t.Errorf("#recipient = %q", got)
	}
	browser.MustScreenshot(t, tab, "miniapp-expired.png")
}

// The countdown is live: when the page's clock passes the expiry, Approve goes.
func TestIntentExpiresWhileOpen(t *testing.T) {
	api := newFakeAPI()
	srv := newServer(t, api)
	ctx := browser.New(t)
	tab := openPage(t, ctx, srv.URL+"/miniapp/"+launchFragment(signedInitData(t, startParam(t, testIntent(t, 10*time.Minute))), nil))
	if !browser.Exists(t, tab, "#approve") {
		t.Fatal("no Approve before expiry")
	}
	// Move the page's clock past the expiry instead of waiting ten minutes.
	browser.Eval[bool](t, tab, `(() => { const real = Date.now.bind(Date); Date.now = () => real() + 11 * 60 * 1000; return true })()`)
	browser.Wait(t, tab, `document.body.dataset.state === "expired" && !document.querySelector("#approve")`)
	if got := browser.Text(t, tab, "#expiry"); got != "Expired" {
		t.Errorf("#expiry = %q", got)
	}
}

func TestUnreadableLaunchesHaveNoApprove(t *testing.T) {
	api := newFakeAPI()
	srv := newServer(t, api)
	ctx := browser.New(t)
	valid := startParam(t, testIntent(t, 10*time.Minute))
	other := startParam(t, testIntent(t, 20*time.Minute))
	cases := []struct {
		name, url, want string
	}{
		{"garbage start_param", "/miniapp/" + launchFragment(signedInitData(t, "AQE"), nil), "cannot be read"},
		{"padded start_param", "/miniapp/" + launchFragment(signedInitData(t, valid+"="), nil), "cannot be read"},
		{"no start_param", "/miniapp/" + launchFragment(signedInitData(t, ""), nil), "cannot be read"},
		{"no initData", "/miniapp/", "Open this page from the Telegram chat"},
		{"duplicate start_param", "/miniapp/" + launchFragment(signedInitData(t, valid)+"&start_param="+other, nil), "launch data could not be read"},
		{"query disagrees with initData", "/miniapp/?tgWebAppStartParam=" + other + launchFragment(signedInitData(t, valid), nil), "inconsistent"},
		{"api not https", "/miniapp/?api=http%3A%2F%2Fexample.org" + launchFragment(signedInitData(t, valid), nil), "not https"},
		{"api with a path", "/miniapp/?api=https%3A%2F%2Fexample.org%2Fx" + launchFragment(signedInitData(t, valid), nil), "not a bare origin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab := openPage(t, ctx, srv.URL+c.url)
			if browser.Exists(t, tab, "#approve") {
				t.Error("Approve is there")
			}
			if got := browser.Text(t, tab, "#error"); !strings.Contains(got, c.want) || !browser.Visible(t, tab, "#error") {
				t.Errorf("#error = %q, want it to say %q", got, c.want)
			}
			if c.name == "garbage start_param" {
				browser.MustScreenshot(t, tab, "miniapp-unreadable.png")
			}
		})
	}
	if n := len(api.Calls()); n != 0 {
		t.Fatalf("%d API calls", n)
	}
}

// In Telegram Web the Mini App is a frame: it says web_app_ready at load and
// asks to be closed with web_app_close after a success.
func TestCloseReachesParentFrame(t *testing.T) {
	api := newFakeAPI()
	srv := newServer(t, api)
	ctx := browser.New(t)
	raw := signedInitData(t, startParam(t, testIntent(t, 10*time.Minute)))
	src := srv.URL + "/miniapp/" + launchFragment(raw, nil)
	tab := browser.NewTab(t, ctx)
	browser.Navigate(t, tab, srv.URL+"/host?src="+url.QueryEscape(src))
	browser.Wait(t, tab, `window.messages.includes(JSON.stringify({eventType: "web_app_ready", eventData: {}}))`)

	// Click Approve inside the frame, as a person would.
	frame := browser.Eval[[]float64](t, tab, `(() => { const r = document.getElementById("app").getBoundingClientRect(); return [r.left, r.top] })()`)
	btn := browser.Eval[[]float64](t, tab, `(() => { const b = document.getElementById("app").contentDocument.querySelector("#approve"); const r = b.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2, b.disabled ? 1 : 0] })()`)
	if btn[2] != 0 {
		t.Fatal("Approve is disabled in the frame")
	}
	api.respond(200, `{"status":"approved","transfer_id":"t-1"}`)
	browser.Do(t, tab, chromedp.MouseClickXY(frame[0]+btn[0], frame[1]+btn[1]))
	if call := api.waitCall(t); !isInitDataBody(call.Body, raw) {
		t.Fatalf("call %+v", call)
	}
	browser.Wait(t, tab, `window.messages.includes('{"eventType":"web_app_close","eventData":{}}')`)
	msgs := browser.Eval[[]string](t, tab, `window.messages`)
	if msgs[0] != `{"eventType":"web_app_ready","eventData":{}}` {
		t.Errorf("first message %q", msgs[0])
	}
	browser.MustScreenshot(t, tab, "miniapp-in-frame.png")
}

// With telegram-web-app.js loaded (here a stand-in: tests have no network),
// the page takes initData from Telegram.WebApp and closes through it.
func TestUsesTelegramWebApp(t *testing.T) {
	api := newFakeAPI()
	srv := newServer(t, api)
	ctx := browser.New(t)
	in := testIntent(t, 10*time.Minute)
	raw := signedInitData(t, startParam(t, in))
	tab := browser.NewTab(t, ctx)
	stub := fmt.Sprintf(`window.Telegram = {WebApp: {initData: %s, initDataUnsafe: {}, themeParams: {button_color: "#00aa00"}, colorScheme: "dark",
		calls: [], ready() { this.calls.push("ready") }, expand() { this.calls.push("expand") }, close() { this.calls.push("close") }}};`, mustJSON(raw))
	if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: stub}); err != nil {
		t.Fatal(err)
	}
	browser.Navigate(t, tab, srv.URL+"/miniapp/")
	waitSettled(t, tab)
	if got := browser.Text(t, tab, "#recipient"); got != in.To.Hex() {
		t.Fatalf("#recipient = %q (state %s, error %q)", got, state(t, tab), browser.Text(t, tab, "#error"))
	}
	if got := browser.Eval[string](t, tab, `document.documentElement.dataset.scheme`); got != "dark" {
		t.Errorf("colour scheme %q", got)
	}
	api.respond(200, `{"status":"sent","transfer_id":"t-1","tx_hash":"0x`+strings.Repeat("cd", 32)+`"}`)
	browser.Click(t, tab, "#approve")
	if call := api.waitCall(t); !isInitDataBody(call.Body, raw) {
		t.Fatalf("call %+v", call)
	}
	browser.Wait(t, tab, `Telegram.WebApp.calls.includes("close")`)
	if got := browser.Eval[[]string](t, tab, `Telegram.WebApp.calls`); got[0] != "ready" {
		t.Errorf("calls %v", got)
	}
}

// With ?api=<origin> the page posts to that origin (the production layout:
// page and API on different origins), allowed by the policy's connect-src.
func TestAPIParameter(t *testing.T) {
	api := newFakeAPI()
	api.cors = true
	apiSrv := httptest.NewServer(api)
	t.Cleanup(apiSrv.Close)
	pageAPI := newFakeAPI()
	srv := newServer(t, pageAPI, WithAPIOrigin(apiSrv.URL))
	ctx := browser.New(t)
	raw := signedInitData(t, startParam(t, testIntent(t, 10*time.Minute)))
	tab := openPage(t, ctx, srv.URL+"/miniapp/?api="+url.QueryEscape(apiSrv.URL)+launchFragment(raw, nil))

	api.respond(200, `{"status":"approved","transfer_id":"t-1"}`)
	browser.Click(t, tab, "#approve")
	call := api.waitCall(t)
	if call.Path != "/miniapp/api/approve" || call.Origin != srv.URL || !isInitDataBody(call.Body, raw) {
		t.Fatalf("call %+v (page origin %s)", call, srv.URL)
	}
	browser.Wait(t, tab, `document.body.dataset.state === "done"`)
	if n := len(pageAPI.Calls()); n != 0 {
		t.Fatalf("the page's own origin got %d calls", n)
	}
}

// An API origin the policy does not allow cannot be reached: the page says so.
func TestAPIParameterOutsidePolicy(t *testing.T) {
	api := newFakeAPI()
	api.cors = true
	apiSrv := httptest.NewServer(api)
	t.Cleanup(apiSrv.Close)
	srv := newServer(t, newFakeAPI()) // no WithAPIOrigin
	ctx := browser.New(t)
	raw := signedInitData(t, startParam(t, testIntent(t, 10*time.Minute)))
	tab := openPage(t, ctx, srv.URL+"/miniapp/?api="+url.QueryEscape(apiSrv.URL)+launchFragment(raw, nil))
	browser.Click(t, tab, "#approve")
	browser.Wait(t, tab, `document.body.dataset.state === "error"`)
	if got := browser.Text(t, tab, "#error"); !strings.Contains(got, "could not be reached") {
		t.Errorf("#error = %q", got)
	}
	if n := len(api.Calls()); n != 0 {
		t.Fatalf("the policy let %d calls through", n)
	}
}
