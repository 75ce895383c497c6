package networks

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// presetAddressHex are the token addresses exactly as written in presets.go
// and docs/networks.md: each must be its own EIP-55 checksum spelling.
var hexAddr = regexp.MustCompile(`0x[0-9a-fA-F]{40}`)

// TestPresetsValidate: the presets form a valid Set, every token address is
// written in its EIP-55 form (in the source), USDC and USDT have 6
// decimals, and the OP-stack networks (and only they) have an L1 data fee.
func TestPresetsValidate(t *testing.T) {
	ps := Presets()
	if err := ps.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{1: "Ethereum", 8453: "Base", 10: "Optimism", 42161: "Arbitrum One", 137: "Polygon PoS"}
	if len(ps) != len(want) {
		t.Fatalf("%d presets, want %d", len(ps), len(want))
	}
	for _, n := range ps {
		if want[n.ChainID] != n.Name {
			t.Errorf("chain %d named %q, want %q", n.ChainID, n.Name, want[n.ChainID])
		}
		if n.RPCURL != "" || n.Confirmations == 0 || !strings.HasPrefix(n.ExplorerURL, "https://") {
			t.Errorf("%s: rpc %q, confirmations %d, explorer %q", n.Name, n.RPCURL, n.Confirmations, n.ExplorerURL)
		}
		if opStack := n.ChainID == BaseChainID || n.ChainID == OptimismChainID; n.L1DataFee != opStack {
			t.Errorf("%s: L1 data fee %v", n.Name, n.L1DataFee)
		}
		if _, ok := n.TokenBySymbol("USDC"); !ok {
			t.Errorf("%s has no USDC", n.Name)
		}
		for _, tok := range n.Tokens {
			if tok.Decimals != 6 || (tok.Symbol != "USDC" && tok.Symbol != "USDT") {
				t.Errorf("%s: token %+v", n.Name, tok)
			}
		}
	}
	if p, _ := ps.ByChainID(PolygonChainID); p.NativeSymbol != "POL" {
		t.Errorf("Polygon's native coin %q", p.NativeSymbol)
	}
}

// TestPresetSourceIsEIP55: every address literal in presets.go is written
// with its EIP-55 checksum, so a typo in one letter's case would fail.
func TestPresetSourceIsEIP55(t *testing.T) {
	for _, n := range Presets() {
		for _, tok := range n.Tokens {
			if !strings.Contains(presetsSource, tok.Address.Hex()) {
				t.Errorf("%s %s: %s is not written in its EIP-55 form in presets.go", n.Name, tok.Symbol, tok.Address.Hex())
			}
		}
	}
	for _, lit := range hexAddr.FindAllString(presetsSource, -1) {
		if common.HexToAddress(lit).Hex() != lit {
			t.Errorf("address %s in presets.go is not EIP-55 (want %s)", lit, common.HexToAddress(lit).Hex())
		}
	}
}

// TestPresetByName: names fold case, spaces and dashes; the first word is
// enough; unknown names are refused with the list.
func TestPresetByName(t *testing.T) {
	for name, id := range map[string]uint64{"base": 8453, "Arbitrum One": 42161, "arbitrum-one": 42161, "arbitrum": 42161,
		"POLYGON": 137, "polygon-pos": 137, "ethereum": 1, "optimism": 10} {
		n, err := Preset(name)
		if err != nil || n.ChainID != id {
			t.Errorf("Preset(%q) = %d, %v; want %d", name, n.ChainID, err, id)
		}
	}
	if _, err := Preset("bsc"); err == nil || !strings.Contains(err.Error(), "base") {
		t.Errorf("unknown preset: %v", err)
	}
	if n := ForChainID(8453); n.Name != "Base" || len(n.Tokens) == 0 {
		t.Errorf("ForChainID(8453) = %+v", n)
	}
	if n := ForChainID(777); n.Name != "Chain 777" || n.NativeSymbol != "ETH" || n.Validate() != nil {
		t.Errorf("ForChainID(777) = %+v", n)
	}
}
