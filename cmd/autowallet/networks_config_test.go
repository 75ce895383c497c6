package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/protocol"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const sepoliaUSDC = "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"

// TestParseNetworks: presets by name with the RPC URL from the environment
// (which wins over the file), a full description with a token, and the
// order kept.
func TestParseNetworks(t *testing.T) {
	raw := `{"networks": [
		{"preset": "base", "rpc_url": "https://file.example/base"},
		{"preset": "arbitrum-one", "confirmations": 20},
		{"chain_id": 11155111, "name": "Sepolia", "native_symbol": "ETH", "explorer_url": "https://sepolia.etherscan.io",
		 "confirmations": 3, "rpc_url": "https://rpc.example/sepolia",
		 "tokens": [{"address": "` + sepoliaUSDC + `", "symbol": "USDC", "decimals": 6}]}
	]}`
	set, err := parseNetworks([]byte(raw), env(map[string]string{
		"AUTOWALLET_RPC_BASE":         "https://env.example/base",
		"AUTOWALLET_RPC_ARBITRUM_ONE": "wss://env.example/arb",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 3 || set[0].Name != "Base" || set[1].Name != "Arbitrum One" || set[2].Name != "Sepolia" {
		t.Fatalf("set %+v", set)
	}
	if set[0].RPCURL != "https://env.example/base" || set[1].RPCURL != "wss://env.example/arb" || set[2].RPCURL != "https://rpc.example/sepolia" {
		t.Errorf("rpc urls %q %q %q", set[0].RPCURL, set[1].RPCURL, set[2].RPCURL)
	}
	if set[1].Confirmations != 20 || !set[0].L1DataFee || len(set[0].Tokens) == 0 {
		t.Errorf("presets not taken: %+v %+v", set[0], set[1])
	}
	if tok, ok := set[2].TokenBySymbol("usdc"); !ok || tok.Address != common.HexToAddress(sepoliaUSDC) || tok.Decimals != 6 {
		t.Errorf("sepolia token %+v", tok)
	}
}

// TestParseNetworksRefusals: each bad file is refused with a reason, and no
// error quotes an RPC URL (providers put API keys in them).
func TestParseNetworksRefusals(t *testing.T) {
	secret := "https://rpc.example/v2/SECRETKEY"
	cases := map[string]struct{ raw, want string }{
		"unknown field":       {`{"networks": [{"preset": "base", "rpc": "x"}]}`, "malformed"},
		"trailing data":       {`{"networks": [{"preset": "base"}]} {}`, "malformed"},
		"empty":               {`{"networks": []}`, "no network"},
		"unknown preset":      {`{"networks": [{"preset": "bsc", "rpc_url": "` + secret + `"}]}`, "no preset"},
		"preset with tokens":  {`{"networks": [{"preset": "base", "tokens": [], "rpc_url": "` + secret + `"}]}`, "only rpc_url"},
		"no rpc":              {`{"networks": [{"preset": "optimism"}]}`, "AUTOWALLET_RPC_OPTIMISM"},
		"bad scheme":          {`{"networks": [{"preset": "optimism", "rpc_url": "file:///etc/passwd"}]}`, "not http"},
		"twice":               {`{"networks": [{"preset": "base", "rpc_url": "` + secret + `"}, {"preset": "Base", "rpc_url": "` + secret + `"}]}`, "twice"},
		"no name":             {`{"networks": [{"chain_id": 5, "native_symbol": "ETH", "rpc_url": "` + secret + `"}]}`, "chain_id, name"},
		"lower-case checksum": {`{"networks": [{"chain_id": 5, "name": "X", "native_symbol": "ETH", "rpc_url": "` + secret + `", "tokens": [{"address": "` + strings.ToLower(sepoliaUSDC) + `", "symbol": "USDC", "decimals": 6}]}]}`, "EIP-55"},
		"token is native":     {`{"networks": [{"chain_id": 5, "name": "X", "native_symbol": "ETH", "rpc_url": "` + secret + `", "tokens": [{"address": "` + sepoliaUSDC + `", "symbol": "eth", "decimals": 6}]}]}`, "symbol"},
	}
	for name, c := range cases {
		_, err := parseNetworks([]byte(c.raw), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRETKEY") {
			t.Errorf("%s: the error quotes the RPC URL: %v", name, err)
		}
	}
}

func TestRPCEnvName(t *testing.T) {
	for name, want := range map[string]string{"Base": "AUTOWALLET_RPC_BASE", "Arbitrum One": "AUTOWALLET_RPC_ARBITRUM_ONE",
		"Polygon PoS": "AUTOWALLET_RPC_POLYGON_POS", "Dev L2": "AUTOWALLET_RPC_DEV_L2", " zk--Sync! ": "AUTOWALLET_RPC_ZK_SYNC"} {
		if got := rpcEnvName(name); got != want {
			t.Errorf("rpcEnvName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestParentFlagsNetworks: -networks FILE replaces -rpc/-chain-id; both
// together are refused; -rpc alone still serves one network.
func TestParentFlagsNetworks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "networks.json")
	if err := os.WriteFile(path, []byte(`{"networks": [{"preset": "base", "rpc_url": "https://b.example"}, {"preset": "polygon", "rpc_url": "https://p.example"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m := NewParentMain(nil, nil)
	if err := m.ParseFlags([]string{"-networks", path, "-bot-id", "7"}); err != nil {
		t.Fatal(err)
	}
	if len(m.Config.Networks) != 2 || m.Config.Networks[1].NativeSymbol != "POL" {
		t.Fatalf("networks %+v", m.Config.Networks)
	}
	m = NewParentMain(nil, nil)
	if err := m.ParseFlags([]string{"-networks", path, "-rpc", "http://x", "-chain-id", "1", "-bot-id", "7"}); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("both: %v", err)
	}
	m = NewParentMain(nil, nil)
	if err := m.ParseFlags([]string{"-rpc", "http://127.0.0.1:8545", "-chain-id", "8453", "-bot-id", "7"}); err != nil {
		t.Fatal(err)
	}
	if n := m.Config.Networks; len(n) != 1 || n[0].Name != "Base" || n[0].RPCURL != "http://127.0.0.1:8545" {
		t.Errorf("-rpc network %+v", n)
	}
}

// TestCompareEnclaveNetworks: the served networks must match the chains
// and, per chain, the tokens the enclave reports.
func TestCompareEnclaveNetworks(t *testing.T) {
	base, _ := networks.Preset("base")
	set := networks.Set{base}
	usdc := base.Tokens[0].Address.Hex()
	type chain = protocol.ChainTokens
	ec := func(cs ...chain) []chain { return cs }
	if err := compareEnclaveNetworks(set, ec(chain{ChainID: 8453, Tokens: []string{usdc}}, chain{ChainID: 10})); err != nil {
		t.Errorf("matching config (with an extra chain): %v", err)
	}
	for name, c := range map[string][]chain{
		"no chains (an older enclave)": nil,
		"chain missing":                ec(chain{ChainID: 10}),
		"token not allowed":            ec(chain{ChainID: 8453}),
		"enclave signs another":        ec(chain{ChainID: 8453, Tokens: []string{usdc, "0x0000000000000000000000000000000000000bad"}}),
	} {
		if err := compareEnclaveNetworks(set, c); !errors.Is(err, errEnclaveNetworks) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseNetworks(f *testing.F) {
	f.Add([]byte(`{"networks": [{"preset": "base", "rpc_url": "https://b.example"}]}`))
	f.Add([]byte(`{"networks": [{"chain_id": 5, "name": "X", "native_symbol": "ETH", "rpc_url": "http://x", "tokens": [{"address": "` + sepoliaUSDC + `", "symbol": "USDC", "decimals": 6}]}]}`))
	f.Add([]byte(`{"networks": [{"preset": "arbitrum one", "confirmations": 1}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		set, err := parseNetworks(raw, env(map[string]string{"AUTOWALLET_RPC_ARBITRUM_ONE": "https://a.example"}))
		if err != nil {
			return
		}
		if verr := set.Validate(); verr != nil {
			t.Fatalf("accepted an invalid set: %v", verr)
		}
		for _, n := range set {
			if n.RPCURL == "" {
				t.Fatalf("%s accepted without an RPC URL", n.Name)
			}
		}
	})
}
