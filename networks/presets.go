package networks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// The presets: the public networks a deployment can serve by name, with the
// official USDC and USDT contracts. Every token address is cited in
// docs/networks.md from the issuer's own documentation (Circle for USDC,
// Tether for USDT); a token the issuer does not list for a network (a
// bridged copy such as USDC.e) is left out.
//
// Confirmations (docs/networks.md, "Confirmations"): how deep a block must
// be before the wallet says "confirmed" or "received". Ethereum: 3 blocks
// (36 s; reorgs deeper than 1-2 blocks have not happened since the merge,
// finality takes ~13 min and is more than a wallet message needs). OP Stack
// and Arbitrum sequencers order transactions once and do not reorg their
// own blocks short of an L1 reorg: 10 blocks (Base, Optimism: 20 s;
// Arbitrum: 2.5 s). Polygon PoS has had reorgs of dozens of blocks before
// its 2024 fork-choice changes (milestones, finality in ~16 s): 32 blocks
// (~64 s).

// Chain ids of the presets.
const (
	EthereumChainID    uint64 = 1
	OptimismChainID    uint64 = 10
	PolygonChainID     uint64 = 137
	BaseChainID        uint64 = 8453
	ArbitrumOneChainID uint64 = 42161
)

func token(addr, symbol string, decimals uint8) Token {
	return Token{Address: common.HexToAddress(addr), Symbol: symbol, Decimals: decimals}
}

// Presets returns the preset networks, without RPC URLs, in the order they
// are listed.
func Presets() Set {
	return Set{
		{
			ChainID: EthereumChainID, Name: "Ethereum", NativeSymbol: "ETH", NativeDecimals: 18,
			ExplorerURL: "https://etherscan.io", Confirmations: 3,
			Tokens: []Token{
				token("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", 6),
				token("0xdAC17F958D2ee523a2206206994597C13D831ec7", "USDT", 6),
			},
		},
		{
			ChainID: BaseChainID, Name: "Base", NativeSymbol: "ETH", NativeDecimals: 18,
			ExplorerURL: "https://basescan.org", Confirmations: 10, L1DataFee: true,
			Tokens: []Token{
				token("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USDC", 6),
			},
		},
		{
			ChainID: OptimismChainID, Name: "Optimism", NativeSymbol: "ETH", NativeDecimals: 18,
			ExplorerURL: "https://optimistic.etherscan.io", Confirmations: 10, L1DataFee: true,
			Tokens: []Token{
				token("0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85", "USDC", 6),
			},
		},
		{
			ChainID: ArbitrumOneChainID, Name: "Arbitrum One", NativeSymbol: "ETH", NativeDecimals: 18,
			ExplorerURL: "https://arbiscan.io", Confirmations: 10,
			Tokens: []Token{
				token("0xaf88d065e77c8cC2239327C5EDb3A432268e5831", "USDC", 6),
			},
		},
		{
			ChainID: PolygonChainID, Name: "Polygon PoS", NativeSymbol: "POL", NativeDecimals: 18,
			ExplorerURL: "https://polygonscan.com", Confirmations: 32,
			Tokens: []Token{
				token("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", "USDC", 6),
				token("0xc2132D05D31c914a87C6611C10748AEb04B58e8F", "USDT", 6),
			},
		},
	}
}

// Preset returns the preset with that name ("base", "Arbitrum One",
// "arbitrum-one", "polygon": case, spaces and dashes do not matter, and the
// first word of a name is enough when it is unambiguous).
func Preset(name string) (Network, error) {
	want := presetKey(name)
	var found []Network
	for _, n := range Presets() {
		k := presetKey(n.Name)
		if k == want || strings.SplitN(strings.ToLower(n.Name), " ", 2)[0] == want {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		names := make([]string, 0, 5)
		for _, n := range Presets() {
			names = append(names, presetKey(n.Name))
		}
		return Network{}, fmt.Errorf("networks: no preset named %q (presets: %s)", name, strings.Join(names, ", "))
	}
	return found[0], nil
}

// presetKey folds a name: lower case, spaces as dashes.
func presetKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), " ", "-")
}

// ForChainID describes a network by chain id alone (the single -rpc of
// older configurations): the preset or dev network with that id, else a
// network named "Chain <id>" with native coin ETH, no explorer and no
// tokens, 2 confirmations (the parent's default before several networks).
func ForChainID(id uint64) Network {
	all := append(Presets(), DevL1(), DevL2())
	if i := slices.IndexFunc(all, func(n Network) bool { return n.ChainID == id }); i >= 0 {
		return all[i]
	}
	return Network{ChainID: id, Name: fmt.Sprintf("Chain %d", id), NativeSymbol: "ETH", NativeDecimals: 18, Confirmations: 2}
}
