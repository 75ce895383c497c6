package main

// The networks `autowallet parent` serves (docs/networks.md, "Configuring
// the networks"): a strict JSON file named by -networks
// (AUTOWALLET_NETWORKS), each entry a preset by name or a full description,
// with its RPC URL in the file or, better (providers put API keys in it),
// in the environment as AUTOWALLET_RPC_<NAME>. Without -networks, the older
// -rpc and -chain-id (ETH_RPC_URL, ETH_CHAIN_ID) serve one network.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// maxNetworksFile bounds the networks file (a few networks with their
// tokens take a few kB).
const maxNetworksFile = 256 << 10

// networksFile is the file's layout: {"networks": [entry, ...]}.
type networksFile struct {
	Networks []networkEntry `json:"networks"`
}

// networkEntry is a preset ("preset": "base", optionally with rpc_url and
// confirmations) or a full description (chain_id, name, native_symbol and
// the rest). Unknown fields are refused.
type networkEntry struct {
	Preset        string       `json:"preset,omitempty"`
	ChainID       uint64       `json:"chain_id,omitempty"`
	Name          string       `json:"name,omitempty"`
	NativeSymbol  string       `json:"native_symbol,omitempty"`
	ExplorerURL   string       `json:"explorer_url,omitempty"`
	Confirmations uint64       `json:"confirmations,omitempty"`
	L1DataFee     bool         `json:"l1_data_fee,omitempty"`
	Tokens        []tokenEntry `json:"tokens,omitempty"`
	RPCURL        string       `json:"rpc_url,omitempty"`
}

type tokenEntry struct {
	Address  string `json:"address"`
	Symbol   string `json:"symbol"`
	Decimals uint8  `json:"decimals"`
}

// rpcEnvName is the environment variable that holds a network's RPC URL:
// AUTOWALLET_RPC_ and the name in upper case with every run of other
// characters as one underscore ("Arbitrum One": AUTOWALLET_RPC_ARBITRUM_ONE).
func rpcEnvName(name string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return "AUTOWALLET_RPC_" + strings.TrimSuffix(b.String(), "_")
}

// loadNetworks reads and checks the networks file.
func loadNetworks(path string, getenv func(string) string) (networks.Set, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("networks file: %w", err)
	}
	set, err := parseNetworks(raw, getenv)
	if err != nil {
		return nil, fmt.Errorf("networks file %s: %w", path, err)
	}
	return set, nil
}

// parseNetworks decodes the file strictly (unknown fields, trailing data
// and duplicate-free JSON only), fills presets, takes each RPC URL from the
// environment (which wins) or the file, and validates the whole set. An
// error names the entry and never quotes an RPC URL.
func parseNetworks(raw []byte, getenv func(string) string) (networks.Set, error) {
	var f networksFile
	if err := protocol.DecodeJSON(bytes.NewReader(raw), maxNetworksFile, &f); err != nil {
		return nil, err
	}
	if len(f.Networks) == 0 {
		return nil, errors.New(`no network: write {"networks": [{"preset": "base"}, ...]}`)
	}
	var set networks.Set
	for i, e := range f.Networks {
		n, err := e.network()
		if err != nil {
			return nil, fmt.Errorf("network %d: %w", i+1, err)
		}
		env := rpcEnvName(n.Name)
		if v := getenv(env); v != "" {
			n.RPCURL = v
		}
		if n.RPCURL == "" {
			return nil, fmt.Errorf("%s: no RPC URL: set %s (or rpc_url in the file)", n.Name, env)
		}
		if !strings.HasPrefix(n.RPCURL, "http://") && !strings.HasPrefix(n.RPCURL, "https://") &&
			!strings.HasPrefix(n.RPCURL, "ws://") && !strings.HasPrefix(n.RPCURL, "wss://") {
			return nil, fmt.Errorf("%s: the RPC URL is not http(s):// or ws(s)://", n.Name)
		}
		set = append(set, n)
	}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	return set, nil
}

func (e *networkEntry) network() (networks.Network, error) {
	if e.Preset != "" {
		// A preset takes its description as it is (the cited token
		// contracts); only where to reach it and how deep to wait change.
		if e.ChainID != 0 || e.Name != "" || e.NativeSymbol != "" || e.ExplorerURL != "" || e.L1DataFee || e.Tokens != nil {
			return networks.Network{}, fmt.Errorf("preset %q: only rpc_url and confirmations may be given with a preset", e.Preset)
		}
		n, err := networks.Preset(e.Preset)
		if err != nil {
			return networks.Network{}, err
		}
		n.RPCURL = e.RPCURL
		if e.Confirmations > 0 {
			n.Confirmations = e.Confirmations
		}
		return n, nil
	}
	if e.ChainID == 0 || e.Name == "" || e.NativeSymbol == "" {
		return networks.Network{}, errors.New("give a preset, or chain_id, name and native_symbol")
	}
	n := networks.Network{ChainID: e.ChainID, Name: e.Name, NativeSymbol: e.NativeSymbol, NativeDecimals: 18,
		ExplorerURL: e.ExplorerURL, Confirmations: max(e.Confirmations, 1), L1DataFee: e.L1DataFee, RPCURL: e.RPCURL}
	for _, t := range e.Tokens {
		// The address must be exactly its EIP-55 spelling: a token list is
		// written once and read by people, and a checksum catches a typo.
		if !common.IsHexAddress(t.Address) || common.HexToAddress(t.Address).Hex() != t.Address {
			return networks.Network{}, fmt.Errorf("%s: token %s: address %q is not in its EIP-55 checksum form", e.Name, t.Symbol, t.Address)
		}
		n.Tokens = append(n.Tokens, networks.Token{Address: common.HexToAddress(t.Address), Symbol: t.Symbol, Decimals: t.Decimals})
	}
	if err := n.Validate(); err != nil {
		return networks.Network{}, err
	}
	return n, nil
}

// errEnclaveNetworks: the networks the parent serves differ from what the
// enclave may sign for.
var errEnclaveNetworks = errors.New("the networks differ from the enclave's config")

// compareEnclaveNetworks refuses a network the enclave does not allow and
// a token list that differs from the enclave's for that chain (either way:
// a token the enclave refuses could never be sent, and one the enclave
// signs but the parent and page do not list would be shown as unknown).
// Chains the enclave allows beyond the served networks are fine (a
// deployment may serve fewer).
func compareEnclaveNetworks(set networks.Set, chains []protocol.ChainTokens) error {
	if len(chains) == 0 {
		return fmt.Errorf("%w: the enclave reports no allowed chains (an enclave built before issue 10?)", errEnclaveNetworks)
	}
	allowed := map[uint64][]common.Address{}
	for _, c := range chains {
		var toks []common.Address
		for _, t := range c.Tokens {
			toks = append(toks, common.HexToAddress(t))
		}
		allowed[c.ChainID] = toks
	}
	for _, n := range set {
		toks, ok := allowed[n.ChainID]
		if !ok {
			return fmt.Errorf("%w: %s (chain %d) is served, but the enclave does not sign for chain %d", errEnclaveNetworks, n.Name, n.ChainID, n.ChainID)
		}
		for _, t := range n.Tokens {
			if !slices.Contains(toks, t.Address) {
				return fmt.Errorf("%w: %s %s (%s) is listed, but the enclave does not sign transfers of it", errEnclaveNetworks, n.Name, t.Symbol, t.Address.Hex())
			}
		}
		for _, a := range toks {
			if _, ok := n.Token(a); !ok {
				return fmt.Errorf("%w: the enclave signs transfers of %s on %s, which the networks do not list", errEnclaveNetworks, a.Hex(), n.Name)
			}
		}
	}
	return nil
}

// checkEnclaveNetworks waits (bounded) for the enclave's health (it
// reports its allowed chains and tokens locked or not) and compares.
func checkEnclaveNetworks(ctx context.Context, enc *parent.EnclaveClient, set networks.Set) error {
	ctx, cancel := context.WithTimeout(ctx, identityWait)
	defer cancel()
	for {
		h, err := enc.Health(ctx)
		if err == nil {
			return compareEnclaveNetworks(set, h.Chains)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("could not read the enclave's allowed chains to compare with the networks: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
