package miniapp

// Issue 10, the page and tokens: a token transfer is named from the page's
// own list (config.json from the page's origin), never from the host; an
// unknown token or network is shown with a warning and no Approve; fees are
// in the native coin, rounded up, with the L1 data fee said where the
// network has one; a decision stops the countdown; a closed answer has the
// page's own reason.

import (
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/browser"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/protocol"
)

// tokenIntent is a transfer of amount (smallest unit) of token (zero: the
// native coin) on chain, 65000 gas at most 1.000000007 gwei: a fee of
// 0.000065000455 ETH, which the page rounds up to 0.00006501.
func tokenIntent(t *testing.T, chain uint64, token common.Address, amount string) *protocol.Intent {
	t.Helper()
	in := testIntent(t, 10*time.Minute)
	in.ChainID, in.Token = chain, token
	in.Amount, _ = new(big.Int).SetString(amount, 10)
	in.GasLimit, in.MaxFeePerGas, in.MaxPriorityFeePerGas = 65000, big.NewInt(1_000_000_007), big.NewInt(1_000_000)
	return in
}

const roundedFee = "0.00006501" // 65000 × 1.000000007 gwei = 0.000065000455, rounded up

func TestTokenTransferFromOwnList(t *testing.T) {
	ctx := browser.New(t)
	srv := newServer(t, newFakeAPI())
	fee := new(big.Int).Mul(big.NewInt(65000), big.NewInt(1_000_000_007))
	if got := networks.FormatAmount(fee, 18, networks.Up); got != roundedFee {
		t.Fatalf("Go rounds the test fee to %s", got)
	}
	l1 := " plus the L1 data fee"
	cases := []struct {
		name   string
		in     *protocol.Intent
		want   map[string]string
		l1Note bool
	}{
		{"25 USDC on Base (6 decimals, L1 data fee)", tokenIntent(t, 8453, baseUSDC, "25000000"), map[string]string{
			"#amount": "25 USDC", "#network": "Base (chain id 8453)", "#token": baseUSDC.Hex(),
			"#token-check": "USDC on Base, from this wallet's own list",
			"#fee":         roundedFee + " ETH plus an L1 data fee", "#total": "25 USDC + at most " + roundedFee + " ETH fee" + l1,
		}, true},
		{"DAI on Base (18 decimals), every digit of the amount", tokenIntent(t, 8453, baseDAI, "1234567890123456789"), map[string]string{
			"#amount": "1.234567890123456789 DAI", "#total": "1.234567890123456789 DAI + at most " + roundedFee + " ETH fee" + l1,
		}, true},
		{"the same smallest units as DAI: 18 decimals, not 6", tokenIntent(t, 8453, baseDAI, "25000000"), map[string]string{
			"#amount": "0.000000000025 DAI",
		}, true},
		{"USDC on Sepolia (no L1 data fee)", tokenIntent(t, 11155111, sepoliaUSDC, "25000001"), map[string]string{
			"#amount": "25.000001 USDC", "#network": "Sepolia (chain id 11155111)", "#fee": roundedFee + " ETH",
			"#total": "25.000001 USDC + at most " + roundedFee + " ETH fee",
		}, false},
		{"ETH on Base: total 0.050065000455 rounded up to 6 places, plus the L1 data fee", tokenIntent(t, 8453, common.Address{}, "50000000000000000"), map[string]string{
			"#amount": "0.05 ETH", "#fee": roundedFee + " ETH plus an L1 data fee", "#total": "0.050066 ETH" + l1,
		}, true},
		{"POL on Polygon: the coin from the list", tokenIntent(t, 137, common.Address{}, "2000000000000000000"), map[string]string{
			"#amount": "2 POL", "#network": "Polygon (chain id 137)", "#fee": roundedFee + " POL", "#total": "2.000066 POL",
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab := openPage(t, ctx, srv.URL+"/miniapp/"+launchFragment(signedInitData(t, startParam(t, c.in)), nil))
			if got := state(t, tab); got != "ready" {
				t.Fatalf("state %q, error %q", got, browser.Text(t, tab, "#error"))
			}
			for sel, w := range c.want {
				if got := browser.Text(t, tab, sel); got != w {
					t.Errorf("%s = %q, want %q", sel, got, w)
				}
			}
			if got := browser.Visible(t, tab, "#token-row"); got != (c.in.Token != common.Address{}) {
				t.Errorf("#token-row visible %v", got)
			}
			note := browser.Text(t, tab, "#l1-note")
			if vis := browser.Visible(t, tab, "#l1-note"); vis != c.l1Note ||
				(c.l1Note && (!strings.Contains(note, "L1 data fee") || !strings.Contains(note, "card in the chat shows an estimate"))) {
				t.Errorf("#l1-note visible %v: %q", vis, note)
			}
			if browser.Eval[bool](t, tab, `document.querySelector("#approve").disabled`) {
				t.Error("Approve is disabled")
			}
			if strings.HasPrefix(c.name, "25 USDC") {
				browser.MustScreenshot(t, tab, "miniapp-token.png")
			}
		})
	}
}

// hostServer stands in for a host whose API origin serves its own
// config.json, which names its look-alike token "USDC": it records every
// request.
type hostServer struct {
	mu   sync.Mutex
	reqs []recorded
}

func (h *hostServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	h.mu.Lock()
	h.reqs = append(h.reqs, recorded{Method: r.Method, URL: r.URL.String(), Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)})
	h.mu.Unlock()
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	if strings.HasSuffix(r.URL.Path, "config.json") {
		fake := strings.Replace(configJSON(testIdentity), baseUSDC.Hex(), lookalikeUSDC.Hex(), 1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, fake)
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

func (h *hostServer) all() []recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]recorded(nil), h.reqs...)
}

// TestUnknownTokenOrNetworkHasNoApprove: a token the page's own list does not
// have for that chain (the host's look-alike "USDC", even though the host's
// API origin serves a config.json naming it USDC; a real token on another
// chain) shows the bare contract address and the warning, and a chain the
// list does not have shows the warning; in each, Approve is gone and no tap
// of anything on the page sends initData anywhere.
func TestUnknownTokenOrNetworkHasNoApprove(t *testing.T) {
	ctx := browser.New(t)
	host := &hostServer{}
	hostSrv := httptest.NewServer(host)
	t.Cleanup(hostSrv.Close)
	api := newFakeAPI()
	srv := newServer(t, api, WithAPIOrigin(hostSrv.URL))
	cases := []struct {
		name, state, warn string
		in                *protocol.Intent
	}{
		{"look-alike USDC on Base", "unknown_token", "This token is not one this wallet knows on Base: contract " + lookalikeUSDC.Hex(), tokenIntent(t, 8453, lookalikeUSDC, "25000000")},
		{"Sepolia's USDC on Base", "unknown_token", "This token is not one this wallet knows on Base: contract " + sepoliaUSDC.Hex(), tokenIntent(t, 8453, sepoliaUSDC, "25000000")},
		{"unknown chain, native", "unknown_network", "This network (chain id 42) is not one this wallet knows", tokenIntent(t, 42, common.Address{}, "1000000000000000000")},
		{"unknown chain, a listed token's address", "unknown_network", "This network (chain id 42) is not one this wallet knows", tokenIntent(t, 42, baseUSDC, "25000000")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := signedInitData(t, startParam(t, c.in))
			tab := openPage(t, ctx, srv.URL+"/miniapp/?api="+url.QueryEscape(hostSrv.URL)+launchFragment(raw, nil))
			browser.Wait(t, tab, `document.body.dataset.state !== "ready" && document.body.dataset.state !== "unverified"`)
			if got := state(t, tab); got != c.state {
				t.Fatalf("state %q, want %q (error %q)", got, c.state, browser.Text(t, tab, "#error"))
			}
			if got := browser.Text(t, tab, "#error"); !strings.HasPrefix(got, c.warn) || !browser.Visible(t, tab, "#error") {
				t.Errorf("#error = %q, want it to start %q", got, c.warn)
			}
			if browser.Exists(t, tab, "#approve") {
				t.Error("Approve is there")
			}
			if strings.Contains(browser.Text(t, tab, "#amount"), "USDC") || strings.Contains(browser.Text(t, tab, "#total"), "USDC") {
				t.Errorf("an unknown token is named: #amount %q, #total %q", browser.Text(t, tab, "#amount"), browser.Text(t, tab, "#total"))
			}
			if c.state == "unknown_token" {
				if got := browser.Text(t, tab, "#token"); got != c.in.Token.Hex() || !browser.Visible(t, tab, "#token") {
					t.Errorf("#token = %q, want the bare contract %s", got, c.in.Token.Hex())
				}
			} else if browser.Visible(t, tab, "#amount") || browser.Visible(t, tab, "#fee") {
				t.Error("an amount or fee is shown in an unknown coin")
			}
			if c.name == "look-alike USDC on Base" {
				browser.MustScreenshot(t, tab, "miniapp-unknown-token.png")
			}
			// Tap everything there is to tap.
			browser.Eval[bool](t, tab, `(document.querySelectorAll("button").forEach(b => b.click()), true)`)
			quiet()
			if got := carrying(host.all(), raw); len(got) != 0 {
				t.Fatalf("initData reached the host: %v", got)
			}
			if n := len(api.Calls()); n != 0 {
				t.Fatalf("the page's origin API got %d calls", n)
			}
		})
	}
	for _, r := range host.all() {
		if strings.Contains(r.Path, "config.json") {
			t.Errorf("the page read the host's config.json: %s %s", r.Method, r.URL)
		}
	}
	if n := len(host.all()); n != 0 {
		t.Errorf("the host got %d requests", n)
	}
}

// TestCountdownStopsAfterDecision: once the transfer is decided (approved,
// a final refusal, a failed or closed transfer) the expiry row stops
// counting and says so, and the page's clock passing the expiry changes
// nothing: no "Expired", no expiry sentence over the decision's.
func TestCountdownStopsAfterDecision(t *testing.T) {
	ctx := browser.New(t)
	cases := []struct {
		name, body, state, expiry, sel, want string
		status                              int
	}{
		{"sent", `{"status":"sent","transfer_id":"t-1"}`, "done", "Approved", "#status", sentenceSent, 200},
		{"failed on the network", `{"status":"failed","transfer_id":"t-1"}`, "failed", "Stopped: see the message above", "#error", sentenceFailed, 200},
		{"replaced", `{"status":"replaced","transfer_id":"t-1"}`, "closed", "Stopped: see the message above", "#error", "The wallet service says another transaction of your wallet with the same nonce was included instead of this one, so this transfer will not be paid. " + afterApprove, 200},
		{"final refusal", `{"error":{"code":"token_not_allowed","message":"x"}}`, "error", "Stopped: see the message above", "#error", "The wallet service says this token is not enabled for this wallet on this network. " + afterApprove, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := newFakeAPI()
			srv := newServer(t, api)
			tab := openPage(t, ctx, srv.URL+"/miniapp/"+launchFragment(signedInitData(t, startParam(t, tokenIntent(t, 8453, baseUSDC, "25000000"))), nil))
			if got := browser.Text(t, tab, "#expiry"); got != "in 10 min" && got != "in 9 min" {
				t.Errorf("#expiry before = %q", got)
			}
			api.respond(c.status, c.body)
			browser.Click(t, tab, "#approve")
			api.waitCall(t)
			browser.Wait(t, tab, fmt.Sprintf(`document.body.dataset.state === %q`, c.state))
			check := func(when string) {
				if got := browser.Text(t, tab, "#expiry"); got != c.expiry {
					t.Errorf("%s: #expiry = %q, want %q", when, got, c.expiry)
				}
				if got := browser.Text(t, tab, c.sel); got != c.want {
					t.Errorf("%s: %s = %q, want %q", when, c.sel, got, c.want)
				}
				if got := state(t, tab); got != c.state {
					t.Errorf("%s: state %q", when, got)
				}
			}
			check("at once")
			// Past the expiry on the page's clock: nothing changes.
			browser.Eval[bool](t, tab, `(() => { const real = Date.now.bind(Date); Date.now = () => real() + 11 * 60 * 1000; return true })()`)
			time.Sleep(1500 * time.Millisecond)
			check("after the expiry")
		})
	}
}

// TestRelativeExpiry: "in 10 min" style, minutes rounded down, seconds only
// in the last two minutes.
func TestRelativeExpiry(t *testing.T) {
	ctx := codecPage(t)
	want := map[int]string{600: "in 10 min", 599: "in 9 min", 120: "in 2 min", 119: "in 1 min 59 s", 60: "in 1 min 0 s",
		59: "in 59 s", 1: "in 1 s", 3600: "in 1 h 0 min", 3700: "in 1 h 1 min", 90000: "in 1 d 1 h"}
	for secs, w := range want {
		if got := browser.Eval[string](t, ctx, fmt.Sprintf(`AutowalletMiniApp.relativeText(%d)`, secs)); got != w {
			t.Errorf("%d s: %q, want %q", secs, got, w)
		}
	}
}
