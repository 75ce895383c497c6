package miniapp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/autowallet/autowallet/internal/browser"
	"github.com/autowallet/autowallet/protocol"
)

// The host's own account and wallet: a compromised host can get genuine
// statements for them (the enclave signs them for the host's account).
const hostUserID = 666000666

var hostWallet = common.HexToAddress("0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F")

const (
	verifiedText = "Verified by the wallet's enclave"
	notYoursText = "This address could not be verified as yours. Do not send funds to it."
)

// originRequest is one request that reached the page's origin.
type originRequest struct {
	Method, Path, Query, Body string
	Header                    http.Header
}

// originRecorder is the page's origin as a hostile host runs it: it serves the
// page and a config.json, and records every request it receives.
type originRecorder struct {
	mu   sync.Mutex
	reqs []originRequest
}

func (rc *originRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, originRequest{r.Method, r.URL.Path, r.URL.RawQuery, string(body), r.Header.Clone()})
		rc.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (rc *originRecorder) all() []originRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]originRequest(nil), rc.reqs...)
}

// pageFiles are the paths a page load may fetch from its origin.
var pageFiles = map[string]bool{
	"/miniapp/": true, "/miniapp/index.html": true, "/miniapp/app.js": true, "/miniapp/intent.js": true,
	"/miniapp/style.css": true, "/miniapp/qrcode.js": true, "/miniapp/wallet.js": true, "/miniapp/receive.js": true,
	"/miniapp/config.json": true,
}

// assertOnlyStaticGETs checks that the origin received only GETs of the
// page's own files and config.json (at least once if wantConfig), none
// carrying anything of initData.
func (rc *originRecorder) assertOnlyStaticGETs(t *testing.T, initData string, wantConfig bool) {
	t.Helper()
	values, _ := url.ParseQuery(initData)
	secrets := []string{initData, url.QueryEscape(initData), values.Get("signature"), values.Get("hash"), values.Get("user")}
	reqs := rc.all()
	if len(reqs) == 0 {
		t.Fatal("the recorder saw nothing")
	}
	sawConfig := false
	var paths []string
	for _, r := range reqs {
		paths = append(paths, r.Method+" "+r.Path)
		if r.Method != http.MethodGet || !pageFiles[r.Path] || r.Query != "" || r.Body != "" {
			t.Errorf("request %s %s?%s (%d bytes of body): not a GET of the page's own files", r.Method, r.Path, r.Query, len(r.Body))
		}
		sawConfig = sawConfig || r.Path == "/miniapp/config.json"
		all := r.Path + "?" + r.Query + r.Body
		for k, vs := range r.Header {
			all += "\n" + k + ": " + strings.Join(vs, ",")
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(all, s) {
				t.Errorf("request %s %s carries initData (%.20s...)", r.Method, r.Path, s)
			}
		}
		if r.Header.Get("Cookie") != "" || r.Header.Get("Authorization") != "" {
			t.Errorf("request %s carries credentials", r.Path)
		}
	}
	t.Logf("the origin received: %s", strings.Join(paths, ", "))
	if wantConfig && !sawConfig {
		t.Error("the page never fetched config.json")
	}
}

// newWalletServer serves the page, a config.json with body (404 if ""), and
// the fake API, all recorded.
func newWalletServer(t *testing.T, config string, api *fakeAPI) (*httptest.Server, *originRecorder) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler())
	mux.Handle("/miniapp/api/", api)
	mux.Handle(Prefix+"config.json", serveConfig(config))
	rc := &originRecorder{}
	srv := httptest.NewServer(rc.wrap(mux))
	t.Cleanup(srv.Close)
	return srv, rc
}

// initDataFor is a launch of the Telegram user id with start_param, signed
// by testTelegram (the key config.json publishes); the user is named "Vic"
// (@victim).
func initDataFor(t *testing.T, userID int64, sp string) string {
	t.Helper()
	return launchSignedBy(testTelegram, userID, "Vic", "victim", time.Now(), sp)
}

// launchSignedBy is initData for user (first name, username; none if "")
// with auth_date at, signed by key for testBotID.
func launchSignedBy(key ed25519.PrivateKey, userID int64, firstName, username string, at time.Time, sp string) string {
	u := map[string]any{"id": userID, "first_name": firstName}
	if username != "" {
		u["username"] = username
	}
	b, _ := json.Marshal(u)
	return protocol.SignInitData(map[string]string{
		"auth_date":     strconv.FormatInt(at.Unix(), 10),
		"user":          string(b),
		"chat_instance": "-4242424242",
		"chat_type":     "private",
		"start_param":   sp,
	}, testBotID, key, "")
}

// noEd25519 makes WebCrypto refuse Ed25519, as on a device without it.
const noEd25519 = `(() => { const orig = SubtleCrypto.prototype.importKey;
	SubtleCrypto.prototype.importKey = function (f, k, alg, ...rest) {
		if ((alg && (alg.name || alg)) === "Ed25519") return Promise.reject(new DOMException("Algorithm: Unrecognized name", "NotSupportedError"));
		return orig.call(this, f, k, alg, ...rest);
	} })();`

// openWith opens a tab with an optional script run before the page's own.
func openWith(t *testing.T, ctx context.Context, pageURL, script string) context.Context {
	t.Helper()
	tab := browser.NewTab(t, ctx)
	if script != "" {
		if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
			t.Fatal(err)
		}
	}
	browser.Navigate(t, tab, pageURL)
	waitSettled(t, tab)
	return tab
}

// decodeQR decodes the QR code the page drew on #receive-qr.
func decodeQR(t *testing.T, tab context.Context) string {
	t.Helper()
	dataURL := browser.Eval[string](t, tab, `document.querySelector("#receive-qr").toDataURL("image/png")`)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURL, "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("the QR code does not decode: %v", err)
	}
	return res.GetText()
}

// A valid receive link: the page shows the address, a QR code of exactly
// it, and "Verified by the wallet's enclave"; the origin sees only GETs of
// the page's files and config.json, nothing of initData, and the API nothing.
func TestReceiveShowsVerifiedAddress(t *testing.T) {
	api := newFakeAPI()
	srv, rc := newWalletServer(t, configJSON(testIdentity), api)
	ctx := browser.New(t)
	raw := initDataFor(t, testUserID, walletLink(testIdentity, testUserID, testFrom))
	tab := openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil), "")

	if got := state(t, tab); got != "verified" {
		t.Fatalf("state %q, error %q", got, browser.Text(t, tab, "#error"))
	}
	if got := browser.Text(t, tab, "#receive-address"); got != testFrom.Hex() {
		t.Errorf("#receive-address = %q, want %s", got, testFrom.Hex())
	}
	if got := browser.Text(t, tab, "#receive-check"); got != verifiedText+": the wallet of Vic (@victim)" {
		t.Errorf("#receive-check = %q", got)
	}
	for _, sel := range []string{"#receive-address", "#receive-qr", "#receive-check", "#receive-close", "#receive-copy"} {
		if !browser.Visible(t, tab, sel) {
			t.Errorf("%s is not visible", sel)
		}
	}
	for _, sel := range []string{"#approve", "#cancel"} {
		if browser.Visible(t, tab, sel) {
			t.Errorf("%s is shown in the Receive view", sel)
		}
	}
	if browser.Visible(t, tab, "#details") || browser.Visible(t, tab, "#error") {
		t.Error("the transfer details or an error are shown")
	}
	if got := decodeQR(t, tab); got != testFrom.Hex() {
		t.Errorf("the QR code says %q, want %s", got, testFrom.Hex())
	}
	browser.MustScreenshot(t, tab, "miniapp-receive.png")
	browser.Click(t, tab, "#receive-close")
	time.Sleep(200 * time.Millisecond) // anything the page might still send
	rc.assertOnlyStaticGETs(t, raw, true)
	if n := len(api.Calls()); n != 0 {
		t.Fatalf("the API got %d calls", n)
	}
}

// Every receive link or config the page cannot verify shows the warning, no
// address anywhere on the page and no QR code; and the page still sends
// nothing but GETs of its files.
func TestReceiveRefusesUnverifiedAddress(t *testing.T) {
	_, otherKey, _ := ed25519.GenerateKey(nil)
	other := common.HexToAddress("0x1111111111111111111111111111111111111111")
	goodConfig := configJSON(testIdentity)
	ctx := browser.New(t)
	hostLink := walletLink(testIdentity, hostUserID, hostWallet)
	cases := []struct {
		name, link, config, script, want string
		shown                            common.Address // the address that must not appear
	}{
		{"proof by another key", walletLink(otherKey, testUserID, testFrom), goodConfig, "", "signature does not match", testFrom},
		{"host's own wallet statement shown to the victim", hostLink, goodConfig, "", "another Telegram account", hostWallet},
		{"host's statement relabelled for the victim", base64.RawURLEncoding.EncodeToString(walletLinkBytes(testUserID, hostWallet, proofFor(testIdentity, hostUserID, hostWallet))), goodConfig, "", "signature does not match", hostWallet},
		{"proof for another address", base64.RawURLEncoding.EncodeToString(walletLinkBytes(testUserID, other, proofFor(testIdentity, testUserID, testFrom))), goodConfig, "", "signature does not match", other},
		{"config pins another key", walletLink(testIdentity, testUserID, testFrom), configJSON(otherKey), "", "signature does not match", testFrom},
		{"garbage config.json", walletLink(testIdentity, testUserID, testFrom), "<html>hello</html>", "", "key is not valid", testFrom},
		{"missing config.json", walletLink(testIdentity, testUserID, testFrom), "", "", "could not be loaded", testFrom},
		{"config.json version 1", walletLink(testIdentity, testUserID, testFrom), strings.Replace(goodConfig, `"version": 2`, `"version": 1`, 1), "", "key is not valid", testFrom},
		{"config.json without bot_id and telegram_public_key", walletLink(testIdentity, testUserID, testFrom), `{"version": 2, "identity_key": "` + goodConfig[strings.Index(goodConfig, `"identity_key": "`)+17:][:64] + `", "networks": ` + testNetworksJSON + `}`, "", "key is not valid", testFrom},
		{"config.json with another bot id", walletLink(testIdentity, testUserID, testFrom), strings.Replace(goodConfig, strconv.Itoa(testBotID), strconv.Itoa(testBotID+1), 1), "", "launch data could not be verified", testFrom},
		{"config.json with another Telegram key", walletLink(testIdentity, testUserID, testFrom), strings.Replace(goodConfig, hex.EncodeToString(testTelegram.Public().(ed25519.PublicKey)), hex.EncodeToString(testIdentity.Public().(ed25519.PublicKey)), 1), "", "launch data could not be verified", testFrom},
		{"config.json with an extra field", walletLink(testIdentity, testUserID, testFrom), strings.Replace(goodConfig, `{`, `{"api": "https://evil.example", `, 1), "", "key is not valid", testFrom},
		{"device without Ed25519", walletLink(testIdentity, testUserID, testFrom), goodConfig, noEd25519, "could not be checked on this device", testFrom},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := newFakeAPI()
			srv, rc := newWalletServer(t, c.config, api)
			raw := initDataFor(t, testUserID, c.link)
			tab := openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil), c.script)
			if got := state(t, tab); got != "unverified" {
				t.Fatalf("state %q", got)
			}
			errText := browser.Text(t, tab, "#error")
			if !strings.HasPrefix(errText, notYoursText) || !strings.Contains(errText, c.want) || !browser.Visible(t, tab, "#error") {
				t.Errorf("#error = %q, want the warning and %q", errText, c.want)
			}
			assertAddressAbsent(t, tab, c.shown)
			if browser.Visible(t, tab, "#receive-qr") || browser.Eval[int](t, tab, `document.querySelector("#receive-qr").width`) != 1 {
				t.Error("a QR code is drawn")
			}
			if strings.Contains(browser.Eval[string](t, tab, `document.body.innerText`), verifiedText) {
				t.Error("the page says verified")
			}
			if c.name == "host's own wallet statement shown to the victim" {
				browser.MustScreenshot(t, tab, "miniapp-receive-refused.png")
			}
			// A link for another user is refused before the key is needed.
			rc.assertOnlyStaticGETs(t, raw, !strings.Contains(c.want, "another Telegram account"))
			if n := len(api.Calls()); n != 0 {
				t.Fatalf("the API got %d calls", n)
			}
		})
	}
}

// assertAddressAbsent checks that addr appears nowhere in the page's text,
// in any letter case, with or without 0x.
func assertAddressAbsent(t *testing.T, tab context.Context, addr common.Address) {
	t.Helper()
	text := strings.ToLower(browser.Eval[string](t, tab, `document.body.innerText + "\n" + document.documentElement.textContent`))
	if strings.Contains(text, strings.ToLower(addr.Hex()[2:])) || strings.Contains(text, strings.ToLower(addr.Hex()[2:12])) {
		t.Errorf("the address %s appears on the page", addr.Hex())
	}
}

// The approval view's "From" row says "Your wallet" only when the intent's
// wallet proof verifies for the launch's user; otherwise it warns, shows no
// from address, and Approve stays disabled, so a tap sends nothing.
func TestApprovalFromRowChecksWalletProof(t *testing.T) {
	_, otherKey, _ := ed25519.GenerateKey(nil)
	goodConfig := configJSON(testIdentity)
	ctx := browser.New(t)
	in := testIntent(t, 10*time.Minute)
	withProof := func(proof []byte) string {
		return base64.RawURLEncoding.EncodeToString(encodeIntentV2(in, proof))
	}
	hostIntent := testIntent(t, 10*time.Minute)
	hostIntent.From = hostWallet

	t.Run("verified", func(t *testing.T) {
		api := newFakeAPI()
		srv, rc := newWalletServer(t, goodConfig, api)
		raw := initDataFor(t, testUserID, intentParam(in, testIdentity, testUserID))
		tab := openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil), "")
		if got := state(t, tab); got != "ready" {
			t.Fatalf("state %q (%q)", got, browser.Text(t, tab, "#from-check"))
		}
		if got := browser.Text(t, tab, "#from"); got != in.From.Hex() {
			t.Errorf("#from = %q", got)
		}
		if got := browser.Text(t, tab, "#from-check"); got != "Your wallet (Vic @victim) · "+verifiedText {
			t.Errorf("#from-check = %q", got)
		}
		if browser.Eval[bool](t, tab, `document.querySelector("#approve").disabled`) {
			t.Error("Approve is disabled")
		}
		rc.assertOnlyStaticGETs(t, raw, true)
	})

	cases := []struct {
		name, sp, config, script, want string
		from                           common.Address
	}{
		{"proof by another key", withProof(proofFor(otherKey, testUserID, in.From)), goodConfig, "", "signature does not match", in.From},
		{"proof for another user", withProof(proofFor(testIdentity, hostUserID, in.From)), goodConfig, "", "signature does not match", in.From},
		{"host's wallet with the host's proof", intentParam(hostIntent, testIdentity, hostUserID), goodConfig, "", "signature does not match", hostWallet},
		{"proof for another address", withProof(proofFor(testIdentity, testUserID, hostWallet)), goodConfig, "", "signature does not match", in.From},
		{"garbage config.json", intentParam(in, testIdentity, testUserID), "{{", "", "key is not valid", in.From},
		{"missing config.json", intentParam(in, testIdentity, testUserID), "", "", "could not be loaded", in.From},
		{"config.json version 1", intentParam(in, testIdentity, testUserID), strings.Replace(goodConfig, `"version": 2`, `"version": 1`, 1), "", "key is not valid", in.From},
		{"device without Ed25519", intentParam(in, testIdentity, testUserID), goodConfig, noEd25519, "could not be checked on this device", in.From},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := newFakeAPI()
			srv, rc := newWalletServer(t, c.config, api)
			raw := initDataFor(t, testUserID, c.sp)
			tab := openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil), c.script)
			if got := state(t, tab); got != "unverified" {
				t.Fatalf("state %q", got)
			}
			note := browser.Text(t, tab, "#from-check")
			if !strings.Contains(note, "not from a wallet verified as yours") || !strings.Contains(note, c.want) {
				t.Errorf("#from-check = %q, want the warning and %q", note, c.want)
			}
			if got := browser.Text(t, tab, "#from"); got != "Not verified" {
				t.Errorf("#from = %q", got)
			}
			assertAddressAbsent(t, tab, c.from)
			// Without the page's own list nothing is named in a coin.
			if strings.Contains(c.name, "config.json") && (browser.Visible(t, tab, "#amount") || browser.Visible(t, tab, "#fee")) {
				t.Errorf("without a valid config.json the amount %q is shown", browser.Text(t, tab, "#amount"))
			}
			if strings.Contains(browser.Eval[string](t, tab, `document.body.innerText`), "Your wallet") {
				t.Error("the page says \"Your wallet\"")
			}
			if !browser.Eval[bool](t, tab, `document.querySelector("#approve").disabled`) {
				t.Fatal("Approve is enabled")
			}
			// A tap on the disabled button sends nothing.
			browser.Eval[bool](t, tab, `(document.querySelector("#approve").click(), true)`)
			time.Sleep(200 * time.Millisecond)
			if n := len(api.Calls()); n != 0 {
				t.Fatalf("the API got %d calls", n)
			}
			rc.assertOnlyStaticGETs(t, raw, true)
			if c.name == "proof for another user" {
				browser.MustScreenshot(t, tab, "miniapp-from-unverified.png")
			}
		})
	}
}

// TestSelfTransferNote: a verified transfer to the user's own wallet says so,
// and one of amount 0 (what Replace builds) says that it sends nothing and
// replaces the pending transfer with its nonce; the note is the page's own,
// from the intent alone, and absent for a transfer to someone else.
func TestSelfTransferNote(t *testing.T) {
	ctx := browser.New(t)
	goodConfig := configJSON(testIdentity)
	cases := []struct {
		name   string
		to     common.Address
		amount *big.Int
		want   string // "" : no note
	}{
		{"replacement: 0 to oneself", testFrom, new(big.Int), "This sends nothing: 0 to your own wallet."},
		{"to oneself", testFrom, big.NewInt(1e15), "The recipient is your own wallet."},
		{"to someone else", testTo, new(big.Int), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := testIntent(t, 10*time.Minute)
			in.To, in.Amount = c.to, c.amount
			srv, _ := newWalletServer(t, goodConfig, newFakeAPI())
			raw := initDataFor(t, testUserID, intentParam(in, testIdentity, testUserID))
			tab := openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil), "")
			if got := state(t, tab); got != "ready" {
				t.Fatalf("state %q", got)
			}
			got := browser.Text(t, tab, "#self-note")
			visible := browser.Visible(t, tab, "#self-note")
			if c.want == "" {
				if visible || got != "" {
					t.Fatalf("#self-note = %q (visible %v), want none", got, visible)
				}
				return
			}
			if !visible || !strings.HasPrefix(got, c.want) {
				t.Fatalf("#self-note = %q (visible %v), want %q", got, visible, c.want)
			}
		})
	}
}
