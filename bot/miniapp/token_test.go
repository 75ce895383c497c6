package miniapp

// Issue 10, the page and tokens: a token transfer is named from the page's
// own list (config.json from the page's origin), never from the host; an
// unknown token or network is shown with a warning and no Approve; fees are
// in the native coin, rounded up, with the L1 data fee said where the
// network has one; a decision stops the countdown; a closed answer has the
// page's own reason.

import (
	"encoding/json"
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
		status                               int
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

// TestConfigNetworksInJS: the page reads config.json's networks strictly
// (docs/miniapp.md, "config.json"): what Go writes is accepted and read back
// exactly; every other shape is refused with bad_config, in particular a key
// twice inside a token (JSON.parse would keep the last silently), an address
// not in EIP-55 form, and names that could hide or reorder text.
func TestConfigNetworksInJS(t *testing.T) {
	ctx := codecPage(t)
	parse := func(texts []string) []string {
		return browser.Eval[[]string](t, ctx, `(`+mustJSON(texts)+`).map(c => { try { const cfg = AutowalletWallet.parseConfig(c);
			return cfg.networks.map(n => [n.chainId.toString(), n.name, n.nativeSymbol, n.nativeDecimals, n.explorerUrl, n.l1DataFee,
				n.tokens.map(t => t.address + "/" + t.symbol + "/" + t.decimals).join(",")].join(" ")).join("; ") } catch (e) { return "refused: " + e.reason } })`)
	}
	describe := func(s networks.Set) string {
		var parts []string
		for _, n := range s {
			var toks []string
			for _, tk := range n.Tokens {
				toks = append(toks, fmt.Sprintf("%s/%s/%d", tk.Address.Hex(), tk.Symbol, tk.Decimals))
			}
			parts = append(parts, fmt.Sprintf("%d %s %s %d %s %v %s", n.ChainID, n.Name, n.NativeSymbol, n.NativeDecimals, n.ExplorerURL, n.L1DataFee, strings.Join(toks, ",")))
		}
		return strings.Join(parts, "; ")
	}
	// What Go writes, the page reads back exactly.
	sets := []networks.Set{testNetworks, {networks.DevL1(), withToken(networks.DevL2(), common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3"), "USD₮0", 6)},
		{{ChainID: 1<<64 - 1, Name: "Max (test) chain", NativeSymbol: "X", NativeDecimals: 18, ExplorerURL: "http://127.0.0.1:8545/x"}}}
	var texts []string
	for _, s := range sets {
		b, err := ConfigJSON(testIdentityKey, testBotID, testTelegramHex, s)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	for i, got := range parse(texts) {
		if want := describe(sets[i]); got != want {
			t.Errorf("Go's config.json %d read as\n %q, want\n %q", i, got, want)
		}
	}

	usdc := `{"address": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "symbol": "USDC", "decimals": 6}`
	netWith := func(members string, tokens ...string) string {
		n := `{"chain_id": 8453, "name": "Base", "native_symbol": "ETH", "native_decimals": 18, "explorer_url": "https://basescan.org", "l1_data_fee": true, "tokens": [` + strings.Join(tokens, ", ") + `]}`
		if members != "" {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(n), &m); err != nil {
				t.Fatal(err)
			}
			// members replaces or adds one member: `"key": value`.
			k, v, _ := strings.Cut(members, ": ")
			m[strings.Trim(k, `"`)] = json.RawMessage(v)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("%s: %v", members, err)
			}
			n = string(b)
		}
		return n
	}
	tok := func(addr, symbol, decimals string) string {
		return `{"address": ` + addr + `, "symbol": ` + symbol + `, "decimals": ` + decimals + `}`
	}
	good := "[" + netWith("", usdc) + "]"
	var many []string
	for i := range 33 {
		many = append(many, fmt.Sprintf(`{"chain_id": %d, "name": "N%d", "native_symbol": "ETH", "native_decimals": 18, "explorer_url": "", "l1_data_fee": false, "tokens": []}`, i+1, i))
	}
	thirtyThree := "[" + strings.Join(many, ", ") + "]"
	if got := parse([]string{configWithNetworks(testIdentity, "["+strings.Join(many[:32], ", ")+"]")}); strings.HasPrefix(got[0], "refused") {
		t.Fatalf("32 networks refused")
	}
	refused := map[string]string{
		"no network":                     `[]`,
		"networks an object":             netWith("", usdc),
		"networks null":                  `null`,
		"chain id a string":              "[" + netWith(`"chain_id": "8453"`, usdc) + "]",
		"chain id 0":                     "[" + netWith(`"chain_id": 0`, usdc) + "]",
		"chain id negative":              "[" + netWith(`"chain_id": -1`, usdc) + "]",
		"chain id a fraction":            "[" + netWith(`"chain_id": 8453.0`, usdc) + "]",
		"chain id 2^64":                  "[" + netWith(`"chain_id": 18446744073709551616`, usdc) + "]",
		"native decimals 37":             "[" + netWith(`"native_decimals": 37`, usdc) + "]",
		"l1_data_fee a string":           "[" + netWith(`"l1_data_fee": "true"`, usdc) + "]",
		"l1_data_fee 1":                  "[" + netWith(`"l1_data_fee": 1`, usdc) + "]",
		"an extra network member":        "[" + netWith(`"rpc_url": "https://x"`, usdc) + "]",
		"name with a bidi override":      "[" + netWith(`"name": "Base\u202e"`, usdc) + "]",
		"name with a newline":            "[" + netWith(`"name": "Ba\nse"`, usdc) + "]",
		"name too long":                  "[" + netWith(`"name": "`+strings.Repeat("B", 33)+`"`, usdc) + "]",
		"name with a leading space":      "[" + netWith(`"name": " Base"`, usdc) + "]",
		"native symbol with a space":     "[" + netWith(`"native_symbol": "E TH"`, usdc) + "]",
		"native symbol empty":            "[" + netWith(`"native_symbol": ""`, usdc) + "]",
		"explorer trailing slash":        "[" + netWith(`"explorer_url": "https://basescan.org/"`, usdc) + "]",
		"explorer http":                  "[" + netWith(`"explorer_url": "http://basescan.org"`, usdc) + "]",
		"explorer javascript":            "[" + netWith(`"explorer_url": "javascript:alert(1)"`, usdc) + "]",
		"explorer with a query":          "[" + netWith(`"explorer_url": "https://basescan.org?x=1"`, usdc) + "]",
		"explorer null":                  "[" + netWith(`"explorer_url": null`, usdc) + "]",
		"tokens null":                    "[" + netWith(`"tokens": null`) + "]",
		"lowercase address":              "[" + netWith("", tok(`"0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"`, `"USDC"`, "6")) + "]",
		"address with a bad checksum":    "[" + netWith("", tok(`"0x833589FCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"USDC"`, "6")) + "]",
		"zero address":                   "[" + netWith("", tok(`"0x0000000000000000000000000000000000000000"`, `"USDC"`, "6")) + "]",
		"address without 0x":             "[" + netWith("", tok(`"833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"USDC"`, "6")) + "]",
		"decimals 37":                    "[" + netWith("", tok(`"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"USDC"`, "37")) + "]",
		"decimals a string":              "[" + netWith("", tok(`"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"USDC"`, `"6"`)) + "]",
		"decimals 6.0":                   "[" + netWith("", tok(`"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"USDC"`, "6.0")) + "]",
		"symbol with a zero-width space": "[" + netWith("", tok(`"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"USDC\u200b"`, "6")) + "]",
		"symbol 17 characters":           "[" + netWith("", tok(`"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"`+strings.Repeat("U", 17)+`"`, "6")) + "]",
		"symbol of the native coin":      "[" + netWith("", tok(`"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"eth"`, "6")) + "]",
		"a symbol twice":                 "[" + netWith("", usdc, tok(`"0x50c5725949A6F0c72E6C4a641F24049A917DB0Cb"`, `"usdc"`, "18")) + "]",
		"an address twice":               "[" + netWith("", usdc, tok(`"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"`, `"USDT"`, "6")) + "]",
		"a symbol key twice in a token":  "[" + netWith("", `{"address": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "symbol": "USDC", "decimals": 6, "decimals": 18}`) + "]",
		"a token member missing":         "[" + netWith("", `{"address": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "symbol": "USDC"}`) + "]",
		"an extra token member":          "[" + netWith("", `{"address": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "symbol": "USDC", "decimals": 6, "name": "USD Coin"}`) + "]",
		"a token an array":               "[" + netWith("", `["0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USDC", 6]`) + "]",
		"a key twice in a network":       "[" + strings.Replace(netWith("", usdc), `"name": "Base"`, `"name": "Base", "name": "Ethereum"`, 1) + "]",
		"a chain twice":                  "[" + netWith("", usdc) + ", " + strings.Replace(netWith("", usdc), `"name": "Base"`, `"name": "Base 2"`, 1) + "]",
		"a name twice":                   "[" + netWith("", usdc) + ", " + strings.Replace(netWith("", usdc), `"chain_id": 8453`, `"chain_id": 10`, 1) + "]",
		"33 networks":                    thirtyThree,
	}
	// Each refused case starts from the good one: the good one is accepted.
	names := []string{"good"}
	texts = []string{configWithNetworks(testIdentity, good)}
	for name, n := range refused {
		names = append(names, name)
		texts = append(texts, configWithNetworks(testIdentity, n))
	}
	got := parse(texts)
	if got[0] != "8453 Base ETH 18 https://basescan.org true 0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913/USDC/6" {
		t.Fatalf("the good config: %q", got[0])
	}
	for i, name := range names[1:] {
		if got[i+1] != "refused: bad_config" {
			t.Errorf("%s: accepted as %q", name, got[i+1])
		}
	}
}
