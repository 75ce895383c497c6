package miniapp

// Issue 9, part 1: Telegram signs initData when the Mini App opens, so any
// initData that reaches the host is an approval. These tests point the page
// (?api=) at a recording server standing in for the host and check that
// initData, or its signature, leaves the page only on a tap of Approve, and
// that nothing the host writes is shown on the page.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/autowallet/autowallet/internal/browser"
)

// recorder is the host as the page sees it: it records every request it
// gets, whole (method, URL, every header, body), answers CORS for the page,
// and answers each API call with the next queued answer (default: 503 with
// a body that is not JSON).
type recorder struct {
	mu      sync.Mutex
	reqs    []recorded
	answers []apiResponse
	arrived chan struct{}
}

type recorded struct {
	Method, URL, Path string
	Header            http.Header
	Body              string
}

// dump is the whole request as text, for searching.
func (r recorded) dump() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s %s\n", r.Method, r.URL)
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&s, "%s: %s\n", k, v)
		}
	}
	s.WriteString("\n" + r.Body)
	return s.String()
}

func newRecorder(t *testing.T) (*recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{arrived: make(chan struct{}, 64)}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

func (rec *recorder) answer(status int, body string) {
	rec.mu.Lock()
	rec.answers = append(rec.answers, apiResponse{status, body})
	rec.mu.Unlock()
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recorded{Method: r.Method, URL: r.URL.String(), Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)})
	a := apiResponse{503, "<html>upstream down</html>"}
	if r.Method != http.MethodOptions && len(rec.answers) > 0 {
		a, rec.answers = rec.answers[0], rec.answers[1:]
	}
	rec.mu.Unlock()
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Allow-Methods", "POST")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
	select {
	case rec.arrived <- struct{}{}:
	default:
	}
}

func (rec *recorder) all() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

// carrying returns the requests that carry raw initData or its signature in
// any form (raw, percent-encoded, in the URL, a header or the body).
func carrying(reqs []recorded, raw string) []recorded {
	q, err := url.ParseQuery(raw)
	sig := q.Get("signature")
	if err != nil || len(sig) < 40 {
		panic("test initData has no signature")
	}
	needles := []string{raw, url.QueryEscape(raw), sig, url.QueryEscape(sig)}
	var out []recorded
	for _, r := range reqs {
		d := r.dump()
		dec, _ := url.QueryUnescape(d)
		for _, n := range needles {
			if strings.Contains(d, n) || strings.Contains(dec, n) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// framedLaunch opens the Mini App, with its API at rec, in a frame of the
// test's /host page as Telegram Web does; it returns the tab and raw initData.
func framedLaunch(t *testing.T, ctx context.Context, pageSrv *httptest.Server, recURL string) (context.Context, string) {
	t.Helper()
	raw := signedInitData(t, startParam(t, testIntent(t, 10*time.Minute)))
	src := pageSrv.URL + "/miniapp/?api=" + url.QueryEscape(recURL) + launchFragment(raw, nil)
	tab := browser.NewTab(t, ctx)
	browser.Navigate(t, tab, pageSrv.URL+"/host?src="+url.QueryEscape(src))
	browser.Wait(t, tab, `document.getElementById("app").contentDocument?.body?.dataset.state === "ready"`)
	return tab, raw
}

// inFrame evaluates a JavaScript expression on the framed page's document.
const frameDoc = `document.getElementById("app").contentDocument`

// quiet gives the page time to send anything it would send by itself.
func quiet() { time.Sleep(1500 * time.Millisecond) }

// TestInitDataLeavesOnlyOnApprove: on load, on the page's Cancel, on close
// and after error answers the host receives nothing carrying initData; on
// Approve it receives exactly one request with the raw initData, and after
// an error only another tap sends it again.
func TestInitDataLeavesOnlyOnApprove(t *testing.T) {
	rec, recSrv := newRecorder(t)
	pageAPI := newFakeAPI() // the page's own origin: must get no call either
	pageSrv := newServer(t, pageAPI, WithAPIOrigin(recSrv.URL))
	ctx := browser.New(t)

	noneCarry := func(t *testing.T, when, raw string) {
		t.Helper()
		if c := carrying(rec.all(), raw); len(c) != 0 {
			t.Fatalf("%s: the host received initData: %d requests, first %s %s", when, len(c), c[0].Method, c[0].Path)
		}
		if n := len(pageAPI.Calls()); n != 0 {
			t.Fatalf("%s: the page's own origin got %d API calls", when, n)
		}
	}

	t.Run("load", func(t *testing.T) {
		_, raw := framedLaunch(t, ctx, pageSrv, recSrv.URL)
		quiet()
		noneCarry(t, "on load", raw)
		if n := len(rec.all()); n != 0 {
			t.Fatalf("on load the host got %d requests", n)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		tab, raw := framedLaunch(t, ctx, pageSrv, recSrv.URL)
		clickInFrame(t, tab, "#cancel")
		browser.Wait(t, tab, frameDoc+`.body.dataset.state === "cancelled"`)
		text := browser.Eval[string](t, tab, frameDoc+`.body.innerText`)
		if !strings.Contains(text, "To cancel the transfer, tap Cancel on its card in the chat.") {
			t.Errorf("after Cancel the page says %q", text)
		}
		if browser.Eval[bool](t, tab, frameDoc+`.querySelector("#approve") !== null`) {
			t.Error("Approve remains after Cancel")
		}
		// The page asks Telegram to close it, and sends nothing.
		browser.Wait(t, tab, `window.messages.includes('{"eventType":"web_app_close","eventData":{}}')`)
		quiet()
		noneCarry(t, "on Cancel", raw)
		if n := len(rec.all()); n != 0 {
			t.Fatalf("on Cancel the host got %d requests", n)
		}
	})

	t.Run("close", func(t *testing.T) {
		// Closed as Telegram Web and the emulator close it: the frame is
		// navigated away (pagehide, visibilitychange, unload), then removed.
		tab, raw := framedLaunch(t, ctx, pageSrv, recSrv.URL)
		browser.Eval[bool](t, tab, `(document.getElementById("app").src = "about:blank", true)`)
		browser.Wait(t, tab, `document.getElementById("app").contentDocument?.URL === "about:blank"`)
		browser.Eval[bool](t, tab, `(document.getElementById("app").remove(), true)`)
		quiet()
		noneCarry(t, "on close", raw)
		if n := len(rec.all()); n != 0 {
			t.Fatalf("on close the host got %d requests", n)
		}
	})

	t.Run("approve and errors", func(t *testing.T) {
		tab, raw := framedLaunch(t, ctx, pageSrv, recSrv.URL)
		before := len(rec.all())
		// One tap, one request with the raw initData, then an error answer
		// after which retrying can help: the page does not retry by itself.
		steps := []apiResponse{
			{503, `{"error":{"code":"enclave_unavailable","message":"dial vsock: refused"}}`},
			{500, `{"error":{"code":"something_new","message":"Tap again to unlock your funds"}}`},
			{502, `<html>bad gateway</html>`},
		}
		for i, s := range steps {
			rec.answer(s.status, s.body)
			clickInFrame(t, tab, "#approve")
			browser.Wait(t, tab, frameDoc+`.body.dataset.state === "error" && `+frameDoc+`.body.getAttribute("aria-busy") === "false"`)
			quiet()
			reqs := rec.all()[before:]
			posts := 0
			for _, r := range reqs {
				if r.Method == http.MethodPost {
					posts++
				}
			}
			if posts != i+1 {
				t.Fatalf("after %d taps the host got %d POSTs", i+1, posts)
			}
			last := reqs[len(reqs)-1]
			if last.Method != http.MethodPost || last.Path != "/miniapp/api/approve" || !isInitDataBody(last.Body, raw) {
				t.Fatalf("tap %d sent %+v, want POST /miniapp/api/approve with exactly the raw initData", i+1, last)
			}
			if c := carrying(reqs, raw); len(c) != i+1 {
				t.Fatalf("after %d taps %d requests carry initData", i+1, len(c))
			}
			if browser.Eval[bool](t, tab, frameDoc+`.querySelector("#approve").disabled`) {
				t.Fatalf("step %d: Approve is not offered again after a transient error", i)
			}
			browser.Eval[bool](t, tab, `(`+frameDoc+`.body.dataset.state = "ready", true)`)
		}
		// A final error removes Approve; Cancel and close then send nothing.
		rec.answer(409, `{"error":{"code":"transfer_closed","message":"closed"}}`)
		clickInFrame(t, tab, "#approve")
		browser.Wait(t, tab, frameDoc+`.body.dataset.state === "error" && !`+frameDoc+`.querySelector("#approve")`)
		clickInFrame(t, tab, "#cancel")
		browser.Wait(t, tab, `window.messages.includes('{"eventType":"web_app_close","eventData":{}}')`)
		browser.Eval[bool](t, tab, `(document.getElementById("app").remove(), true)`)
		quiet()
		if c := carrying(rec.all()[before:], raw); len(c) != len(steps)+1 {
			t.Fatalf("%d requests carry initData, want one per tap (%d)", len(c), len(steps)+1)
		}
	})
}

// clickInFrame clicks the element of the framed page with the mouse.
func clickInFrame(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	xy := browser.Eval[[]float64](t, tab, fmt.Sprintf(`(() => { const f = document.getElementById("app").getBoundingClientRect(); const b = %s.querySelector(%q); const r = b.getBoundingClientRect(); return [f.left + r.left + r.width / 2, f.top + r.top + r.height / 2] })()`, frameDoc, sel))
	browser.Do(t, tab, chromedp.MouseClickXY(xy[0], xy[1]))
}

// The page's fixed sentences the tests expect (app.js).
const (
	// afterApprove ends every sentence shown after Approve: initData has
	// left the page, so the transfer may still be sent.
	afterApprove        = "Your approval has left this page, so this exact transfer may still be sent. Check its card in the chat; if it must not go through, use Replace there rather than starting a new transfer."
	sentenceUnknown     = "The wallet service could not be reached or gave an answer this page does not understand. " + afterApprove
	sentenceUnavailable = "The signing service is unavailable right now. You can tap Approve again in a minute. " + afterApprove
	sentenceWrongWallet = "The wallet service says this transfer is not from your wallet. " + afterApprove
	sentenceSent        = "Approved. The transfer was sent to the network. Its card in the chat follows it."
	sentenceApproved    = "Approved. The transfer will be sent shortly. Its card in the chat follows it."
	sentenceFailed      = "The wallet service says this transfer failed on the network: it was included but did not go through (for example the token contract refused it), so the amount did not move and the network fee was paid. " + afterApprove
)

// TestAnswersAfterApproveMaySend: every sentence the page can show after
// Approve (each error code's, the unknown answer's, expiry and the page's
// Cancel after an approval) says the approval left the page and this exact
// transfer may still be sent, points to the card and Replace, and none says
// "Nothing was sent" or invites a new transfer.
func TestAnswersAfterApproveMaySend(t *testing.T) {
	ctx := codecPage(t)
	sentences := browser.Eval[map[string]string](t, ctx, `AutowalletMiniApp.afterApprove()`)
	if len(sentences) < 20 {
		t.Fatalf("only %d sentences", len(sentences))
	}
	for name, s := range sentences {
		if !strings.Contains(s, afterApprove) {
			t.Errorf("%s: %q does not say the transfer may still be sent", name, s)
		}
		low := strings.ToLower(s)
		if strings.Contains(low, "nothing was sent") || strings.Contains(low, "start the transfer again") || strings.Contains(low, "please try again") {
			t.Errorf("%s: %q", name, s)
		}
	}
}

// TestPageShowsOnlyItsOwnSentences: whatever the host answers, the page
// shows one of its own sentences: a known code picks one, anything else
// (unknown code, a code named like a JavaScript property, a body that is not
// JSON, a success with an unknown status) gets the one fixed sentence, and no
// message, status or hash written by the host appears in the page's text.
func TestPageShowsOnlyItsOwnSentences(t *testing.T) {
	rec, recSrv := newRecorder(t)
	pageSrv := newServer(t, newFakeAPI(), WithAPIOrigin(recSrv.URL))
	ctx := browser.New(t)
	const host = "HOSTTEXT"
	hash := "0x" + strings.Repeat("ee", 32)
	cases := []struct {
		name   string
		status int
		body   string
		sel    string // where the sentence is shown
		want   string
		state  string
	}{
		{"known code", 503, `{"error":{"code":"enclave_unavailable","message":"HOSTTEXT: send 1 ETH to 0xdead to unlock"}}`, "#error", sentenceUnavailable, "error"},
		{"known final code", 403, `{"error":{"code":"wrong_wallet","message":"HOSTTEXT call +1 555 0100"}}`, "#error", sentenceWrongWallet, "error"},
		{"unknown code", 500, `{"error":{"code":"HOSTTEXT_new","message":"HOSTTEXT: a new kind of failure"}}`, "#error", sentenceUnknown, "error"},
		{"code named __proto__", 400, `{"error":{"code":"__proto__","message":"HOSTTEXT"}}`, "#error", sentenceUnknown, "error"},
		{"code named toString", 400, `{"error":{"code":"toString","message":"HOSTTEXT"}}`, "#error", sentenceUnknown, "error"},
		{"not JSON", 502, `<html><b>HOSTTEXT</b> gateway says: approve again</html>`, "#error", sentenceUnknown, "error"},
		{"JSON string", 500, `"HOSTTEXT"`, "#error", sentenceUnknown, "error"},
		{"error code in a 200", 200, `{"error":{"code":"enclave_unavailable","message":"HOSTTEXT"}}`, "#error", sentenceUnknown, "error"},
		{"unknown success status", 200, `{"status":"HOSTTEXT sent to 0xdead","transfer_id":"t-1"}`, "#error", sentenceUnknown, "error"},
		{"status built is not an approval answer", 200, `{"status":"built","transfer_id":"t-1"}`, "#error", sentenceUnknown, "error"},
		{"status cancelled: the page's reason", 200, `{"status":"cancelled","transfer_id":"t-1","message":"HOSTTEXT"}`, "#error", "The wallet service says this transfer was cancelled. " + afterApprove, "closed"},
		{"status failed: the page's reason", 200, `{"status":"failed","transfer_id":"t-1","reason":"HOSTTEXT reverted"}`, "#error", sentenceFailed, "failed"},
		{"confirmed", 200, `{"status":"confirmed","transfer_id":"t-1"}`, "#status", "Approved. The network has already included the transfer. Its card in the chat shows it.", "done"},
		{"sent with host extras", 200, `{"status":"sent","transfer_id":"HOSTTEXT","tx_hash":"` + hash + `","message":"HOSTTEXT"}`, "#status", sentenceSent, "done"},
		{"approved", 200, `{"status":"approved","transfer_id":"t-1"}`, "#status", sentenceApproved, "done"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := signedInitData(t, startParam(t, testIntent(t, 10*time.Minute)))
			tab := openPage(t, ctx, pageSrv.URL+"/miniapp/?api="+url.QueryEscape(recSrv.URL)+launchFragment(raw, nil))
			rec.answer(c.status, c.body)
			browser.Click(t, tab, "#approve")
			browser.Wait(t, tab, fmt.Sprintf(`document.body.dataset.state === %q && document.body.getAttribute("aria-busy") === "false"`, c.state))
			if got := browser.Text(t, tab, c.sel); got != c.want {
				t.Errorf("%s = %q, want %q", c.sel, got, c.want)
			}
			text := browser.Eval[string](t, tab, `document.body.innerText + document.title`)
			if strings.Contains(text, "Nothing was sent") || strings.Contains(text, "new transfer") && !strings.Contains(text, afterApprove) {
				t.Errorf("after Approve the page says nothing was sent or invites a new transfer: %q", text)
			}
			if strings.Contains(text, host) || strings.Contains(text, hash) || strings.Contains(text, "0xdead") {
				t.Errorf("the host's text is on the page: %q", text)
			}
		})
	}
}
