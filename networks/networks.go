// Package networks describes the EVM networks a deployment serves: for each,
// its chain id, name, native coin, RPC endpoint, explorer, confirmation depth
// and the tokens (ERC-20 contracts) the wallet knows. One wallet address is
// the same on every network.
//
// The presets (presets.go) carry the official USDC and USDT contracts of
// Ethereum, Base, Optimism, Arbitrum One and Polygon PoS, each cited in
// docs/networks.md from the issuer's own documentation. The dev networks
// (dev.go) are the two embedded chains of `autowallet dev`.
//
// What the enclave may sign is not read from here at run time: its baked
// config lists the allowed chains and token contracts (docs/protocol.md), and
// the Mini App page's published config.json carries the same token list;
// tests check that the three agree.
package networks

import (
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Token is an ERC-20 contract the wallet knows on one network.
type Token struct {
	Address  common.Address
	Symbol   string // e.g. "USDC"; unique within a network
	Decimals uint8  // e.g. 6
}

// Network is one EVM network a deployment serves.
type Network struct {
	ChainID      uint64
	Name         string // for people: "Base"
	NativeSymbol string // the coin that pays fees: "ETH", "POL"
	// NativeDecimals is the native coin's decimals: 18 on every EVM chain
	// we know, kept explicit so the page and the bot never assume it.
	NativeDecimals uint8
	RPCURL         string // JSON-RPC endpoint; empty in a preset
	// ExplorerURL is the block explorer's base URL without a trailing
	// slash ("https://basescan.org"); empty where there is none.
	ExplorerURL   string
	Confirmations uint64 // blocks on top before a transfer counts as final
	// L1DataFee marks an OP-stack chain whose transactions also pay an L1
	// data fee, read from the GasPriceOracle predeploy (0x42…0F).
	L1DataFee bool
	Tokens    []Token
}

// TxURL is the explorer's page of a transaction, or "" without an explorer.
func (n *Network) TxURL(hash common.Hash) string {
	if n.ExplorerURL == "" {
		return ""
	}
	return n.ExplorerURL + "/tx/" + hash.Hex()
}

// AddressURL is the explorer's page of an address, or "" without an explorer.
func (n *Network) AddressURL(a common.Address) string {
	if n.ExplorerURL == "" {
		return ""
	}
	return n.ExplorerURL + "/address/" + a.Hex()
}

// Token returns the network's token at addr.
func (n *Network) Token(addr common.Address) (Token, bool) {
	for _, t := range n.Tokens {
		if t.Address == addr {
			return t, true
		}
	}
	return Token{}, false
}

// TokenBySymbol returns the network's token with that symbol (case
// insensitive).
func (n *Network) TokenBySymbol(symbol string) (Token, bool) {
	for _, t := range n.Tokens {
		if strings.EqualFold(t.Symbol, symbol) {
			return t, true
		}
	}
	return Token{}, false
}

// Validate checks one network's description.
func (n *Network) Validate() error {
	switch {
	case n.ChainID == 0:
		return fmt.Errorf("networks: %q: chain id is 0", n.Name)
	case n.Name == "":
		return fmt.Errorf("networks: chain %d: no name", n.ChainID)
	case n.NativeSymbol == "":
		return fmt.Errorf("networks: %s: no native coin symbol", n.Name)
	case n.NativeDecimals != 18:
		return fmt.Errorf("networks: %s: native coin has %d decimals, want 18", n.Name, n.NativeDecimals)
	case strings.HasSuffix(n.ExplorerURL, "/"):
		return fmt.Errorf("networks: %s: explorer URL ends with /", n.Name)
	}
	seen := map[string]bool{}
	addrs := map[common.Address]bool{}
	for _, t := range n.Tokens {
		key := strings.ToUpper(t.Symbol)
		switch {
		case t.Address == (common.Address{}):
			return fmt.Errorf("networks: %s: token %s at the zero address", n.Name, t.Symbol)
		case t.Symbol == "" || strings.EqualFold(t.Symbol, n.NativeSymbol):
			return fmt.Errorf("networks: %s: token %s: symbol empty or the native coin's", n.Name, t.Address.Hex())
		case t.Decimals > 36:
			return fmt.Errorf("networks: %s: token %s: %d decimals", n.Name, t.Symbol, t.Decimals)
		case seen[key] || addrs[t.Address]:
			return fmt.Errorf("networks: %s: token %s listed twice", n.Name, t.Symbol)
		}
		seen[key], addrs[t.Address] = true, true
	}
	return nil
}

// Set is the networks of a deployment, in the order they are shown.
type Set []Network

// Validate checks every network and that chain ids and names are unique.
func (s Set) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("networks: no network")
	}
	ids := map[uint64]bool{}
	names := map[string]bool{}
	for i := range s {
		if err := s[i].Validate(); err != nil {
			return err
		}
		if ids[s[i].ChainID] || names[strings.ToLower(s[i].Name)] {
			return fmt.Errorf("networks: %s (chain %d) listed twice", s[i].Name, s[i].ChainID)
		}
		ids[s[i].ChainID], names[strings.ToLower(s[i].Name)] = true, true
	}
	return nil
}

// ByChainID returns the network with that chain id.
func (s Set) ByChainID(id uint64) (*Network, bool) {
	for i := range s {
		if s[i].ChainID == id {
			return &s[i], true
		}
	}
	return nil, false
}

// ByName returns the network with that name (case insensitive).
func (s Set) ByName(name string) (*Network, bool) {
	for i := range s {
		if strings.EqualFold(s[i].Name, name) {
			return &s[i], true
		}
	}
	return nil, false
}
