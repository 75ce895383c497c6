package miniapp

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
)

const (
	testIdentityKey = "22c5db1aefd59aa3132c400fa09d5d0b2b410ffc63d9e56c20eb2dd9d1bc37f8"
	testTelegramHex = "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec"
)

// TestConfigJSON: with a config the handler serves config.json beside the
// page, exactly {"version":2,"identity_key":...,"bot_id":...,
// "telegram_public_key":...,"networks":[...]} (the Telegram key lowercased,
// networks as the spec writes them: testNetworksJSON, by hand); without
// one it is not found.
func TestConfigJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(WithConfig(testIdentityKey, testBotID, strings.ToUpper(testTelegramHex), testNetworks)).ServeHTTP(rec, httptest.NewRequest("GET", Prefix+ConfigFile, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	var fields map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil || len(fields) != 5 || fields["version"] != 2.0 ||
		fields["identity_key"] != testIdentityKey || fields["bot_id"] != float64(testBotID) || fields["telegram_public_key"] != testTelegramHex {
		t.Fatalf("config.json %s (%v)", rec.Body, err)
	}
	var want any
	if err := json.Unmarshal([]byte(testNetworksJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fields["networks"], want) {
		t.Errorf("networks\n got %v\nwant %v", fields["networks"], want)
	}
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", Prefix+ConfigFile, nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without a config: %d", rec.Code)
	}
}

// TestWithConfigRefuses: only 64 lowercase hex characters for the identity
// key, 64 hex for Telegram's key, a positive bot id, and networks the page
// can show (networks.Set.Validate and the page's display rules).
func TestWithConfigRefuses(t *testing.T) {
	type c struct {
		identity string
		botID    int64
		telegram string
		nets     networks.Set
	}
	var cases []c
	for _, k := range []string{"", testIdentityKey[:62], testIdentityKey + "00", strings.ToUpper(testIdentityKey), "0x" + testIdentityKey[2:], strings.Repeat("g", 64)} {
		cases = append(cases, c{k, testBotID, testTelegramHex, testNetworks})
	}
	for _, k := range []string{"", testTelegramHex[:62], testTelegramHex + "00", "0x" + testTelegramHex[2:], strings.Repeat("g", 64)} {
		cases = append(cases, c{testIdentityKey, testBotID, k, testNetworks})
	}
	cases = append(cases, c{testIdentityKey, 0, testTelegramHex, testNetworks}, c{testIdentityKey, -1, testTelegramHex, testNetworks})
	net := func(edit func(n *networks.Network)) networks.Set {
		n := networks.Network{ChainID: 8453, Name: "Base", NativeSymbol: "ETH", NativeDecimals: 18, ExplorerURL: "https://basescan.org",
			Tokens: []networks.Token{{Address: baseUSDC, Symbol: "USDC", Decimals: 6}}}
		edit(&n)
		return networks.Set{n}
	}
	for _, s := range []networks.Set{
		nil,
		append(slices.Clone(testNetworks), testNetworks[0]),      // a chain twice
		net(func(n *networks.Network) { n.Name = "Base\u202e" }), // bidi override
		net(func(n *networks.Network) { n.Name = " Base" }),      // leading space
		net(func(n *networks.Network) { n.Name = strings.Repeat("B", 33) }),
		net(func(n *networks.Network) { n.NativeSymbol = "E TH" }),
		net(func(n *networks.Network) { n.Tokens[0].Symbol = "USDC\u200b" }), // zero-width space
		net(func(n *networks.Network) { n.Tokens[0].Symbol = "USD\nC" }),
		net(func(n *networks.Network) { n.Tokens[0].Symbol = strings.Repeat("U", 17) }),
		net(func(n *networks.Network) { n.Tokens[0].Symbol = "eth" }), // the native coin's
		net(func(n *networks.Network) { n.Tokens[0].Address = common.Address{} }),
		net(func(n *networks.Network) { n.Tokens = append(n.Tokens, n.Tokens[0]) }),
		net(func(n *networks.Network) { n.Tokens[0].Decimals = 37 }),
		net(func(n *networks.Network) { n.ExplorerURL = "http://basescan.org" }),
		net(func(n *networks.Network) { n.ExplorerURL = "https://basescan.org/" }),
		net(func(n *networks.Network) { n.ExplorerURL = "https://basescan.org/?a=b" }),
		net(func(n *networks.Network) { n.ExplorerURL = "https://user@basescan.org" }),
		net(func(n *networks.Network) { n.ExplorerURL = "https://bäsescan.org" }),
		net(func(n *networks.Network) { n.ExplorerURL = "javascript:alert(1)" }),
	} {
		cases = append(cases, c{testIdentityKey, testBotID, testTelegramHex, s})
	}
	for _, k := range cases {
		if _, err := ConfigJSON(k.identity, k.botID, k.telegram, k.nets); err == nil {
			t.Errorf("%+v accepted", k)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithConfig(%+v) did not panic", k)
				}
			}()
			WithConfig(k.identity, k.botID, k.telegram, k.nets)
		}()
	}
	for _, s := range []networks.Set{
		{networks.DevL1(), networks.DevL2()},
		net(func(n *networks.Network) { n.ExplorerURL = "" }),
		net(func(n *networks.Network) { n.ExplorerURL = "http://127.0.0.1:4000/explorer" }),
		net(func(n *networks.Network) { n.Tokens[0].Symbol = "USD₮0" }),
		net(func(n *networks.Network) { n.Name = "Arbitrum One" }),
	} {
		if _, err := ConfigJSON(testIdentityKey, testBotID, testTelegramHex, s); err != nil {
			t.Errorf("%+v refused: %v", s, err)
		}
	}
}

// TestPageTokensMatchEnclave: the token list the page serves in config.json
// is, chain by chain, the enclave's allow-list derived from the same
// networks.Set (AllowedTokens, the shape of enclave.Config.AllowedTokens):
// the page names exactly the tokens the enclave may sign transfers of. The
// check reads the served config.json back, as the page does, so a writer
// that dropped, added or changed a token fails it.
//
// At merge, the lead compares the real enclave config instead: the baked
// enclave.Config.AllowedTokens of a deployment and the config.json served
// for the same networks.Set must give servedTokens(...) ==
// enclaveConfig.AllowedTokens (see the report / docs/miniapp.md).
func TestPageTokensMatchEnclave(t *testing.T) {
	for name, nets := range map[string]networks.Set{
		"test networks": testNetworks,
		"dev":           {networks.DevL1(), withToken(networks.DevL2(), common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3"), "USDC", 6)},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(WithConfig(testIdentityKey, testBotID, testTelegramHex, nets)).ServeHTTP(rec, httptest.NewRequest("GET", Prefix+ConfigFile, nil))
			chains, got := servedTokens(t, rec.Body.Bytes())
			want := AllowedTokens(nets)
			if !maps.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("page tokens %v, enclave allow-list %v", got, want)
			}
			// The page knows exactly the chains the enclave may sign on.
			if !slices.Equal(chains, AllowedChainIDs(nets)) {
				t.Fatalf("page chains %v, enclave %v", chains, AllowedChainIDs(nets))
			}
		})
	}
	// The comparison can fail: one token more on one side.
	extra := AllowedTokens(testNetworks)
	extra[137] = []common.Address{lookalikeUSDC}
	rec := httptest.NewRecorder()
	Handler(WithConfig(testIdentityKey, testBotID, testTelegramHex, testNetworks)).ServeHTTP(rec, httptest.NewRequest("GET", Prefix+ConfigFile, nil))
	if _, got := servedTokens(t, rec.Body.Bytes()); maps.EqualFunc(got, extra, slices.Equal) {
		t.Fatal("a token only the enclave allows went unnoticed")
	}
}

func withToken(n networks.Network, addr common.Address, symbol string, decimals uint8) networks.Network {
	n.Tokens = append(n.Tokens, networks.Token{Address: addr, Symbol: symbol, Decimals: decimals})
	return n
}

// servedTokens reads a served config.json's chain ids (in order) and token
// lists as an allow-list: per chain id, the token addresses in order; a
// chain without tokens is absent (native only), as in
// enclave.Config.AllowedTokens.
func servedTokens(t *testing.T, body []byte) ([]uint64, map[uint64][]common.Address) {
	t.Helper()
	var cfg struct {
		Networks []struct {
			ChainID uint64 `json:"chain_id"`
			Tokens  []struct {
				Address string `json:"address"`
			} `json:"tokens"`
		} `json:"networks"`
	}
	if err := json.Unmarshal(body, &cfg); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	out := map[uint64][]common.Address{}
	var chains []uint64
	for _, n := range cfg.Networks {
		chains = append(chains, n.ChainID)
		for _, tok := range n.Tokens {
			if !common.IsHexAddress(tok.Address) || common.HexToAddress(tok.Address).Hex() != tok.Address {
				t.Fatalf("token address %q is not EIP-55", tok.Address)
			}
			out[n.ChainID] = append(out[n.ChainID], common.HexToAddress(tok.Address))
		}
	}
	return chains, out
}
