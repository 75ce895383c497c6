package enclave

import (
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/protocol"
)

// parseChains reads the chains of a config file into c: version 2's
// "chains" (chain ids and their token contracts), or version 1's
// "allowed_chain_ids" (no token). Each version refuses the other's field,
// so a file has one reading.
func parseChains(f *configFile, c *Config) error {
	switch f.Version {
	case configV1:
		// Version 1 predates tokens: it stays readable, and means what it
		// always meant, the native coin on the listed chains.
		if f.Chains != nil {
			return fmt.Errorf("%w: chains is a version 2 field; version 1 has allowed_chain_ids", ErrBadConfig)
		}
		c.AllowedChainIDs = f.AllowedChainIDs
		return nil
	case configV2:
	default:
		return fmt.Errorf("%w: version %d, want %d (or %d)", ErrBadConfig, f.Version, configV2, configV1)
	}
	if f.AllowedChainIDs != nil {
		return fmt.Errorf("%w: allowed_chain_ids is a version 1 field; version 2 lists chains", ErrBadConfig)
	}
	for _, ch := range f.Chains {
		c.AllowedChainIDs = append(c.AllowedChainIDs, ch.ChainID)
		for _, s := range ch.Tokens {
			a, err := parseTokenAddress(s)
			if err != nil {
				return fmt.Errorf("%w: chain %d: %v", ErrBadConfig, ch.ChainID, err)
			}
			if c.AllowedTokens == nil {
				c.AllowedTokens = make(map[uint64][]common.Address)
			}
			c.AllowedTokens[ch.ChainID] = append(c.AllowedTokens[ch.ChainID], a)
		}
	}
	return nil
}

// parseTokenAddress reads a token contract address as the config file must
// write it: "0x" and 40 hex digits in EIP-55 mixed case, exactly. A
// lowercase (unchecksummed) address is refused: the checksum is what
// catches a mistyped digit in the one list that decides what the enclave
// signs.
func parseTokenAddress(s string) (common.Address, error) {
	if len(s) != 42 || !common.IsHexAddress(s) || s[:2] != "0x" {
		return common.Address{}, fmt.Errorf("token %q is not a 0x-prefixed 20-byte hex address", s)
	}
	a := common.HexToAddress(s)
	if a.Hex() != s {
		return common.Address{}, fmt.Errorf("token %q is not in EIP-55 checksum case (want %s, after checking the digits)", s, a.Hex())
	}
	return a, nil
}

// validateTokens checks AllowedTokens: only allowed chains, no zero
// address (that is the native coin, never a token), nothing twice.
func (c *Config) validateTokens() error {
	for chain, tokens := range c.AllowedTokens {
		if !slices.Contains(c.AllowedChainIDs, chain) {
			return fmt.Errorf("%w: tokens for chain %d, which is not an allowed chain", ErrBadConfig, chain)
		}
		for i, t := range tokens {
			if t == (common.Address{}) {
				return fmt.Errorf("%w: chain %d: the zero address is the native coin, not a token", ErrBadConfig, chain)
			}
			if slices.Contains(tokens[:i], t) {
				return fmt.Errorf("%w: chain %d: token %s is listed twice", ErrBadConfig, chain, t.Hex())
			}
		}
	}
	return nil
}

func hasDuplicate(ids []uint64) bool {
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return true
		}
	}
	return false
}

// tokenAllowed reports whether the config lets the enclave sign a transfer
// of token on chain: the native coin (zero address) on any allowed chain,
// a token only where its chain lists it.
func (c *Config) tokenAllowed(chain uint64, token common.Address) bool {
	if token == (common.Address{}) {
		return true
	}
	return slices.Contains(c.AllowedTokens[chain], token)
}

// chainTokens is the config's chains and tokens in the file's order and
// form (EIP-55; an empty list, never null), as EncodeConfig writes them and
// /v1/health reports them.
func (c *Config) chainTokens() []protocol.ChainTokens {
	out := make([]protocol.ChainTokens, 0, len(c.AllowedChainIDs))
	for _, id := range c.AllowedChainIDs {
		ct := protocol.ChainTokens{ChainID: id, Tokens: []string{}}
		for _, t := range c.AllowedTokens[id] {
			ct.Tokens = append(ct.Tokens, t.Hex())
		}
		out = append(out, ct)
	}
	return out
}
