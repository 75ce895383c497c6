package miniapp

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
)

// ConfigFile is the name of the page's config, served beside index.html.
const ConfigFile = "config.json"

// ConfigVersion is the version of config.json this page reads; it refuses
// every other.
const ConfigVersion = 2

// MaxConfigBytes bounds config.json; the page refuses a longer one.
const MaxConfigBytes = 64 << 10

// Limits the page also enforces: at most this many networks, and tokens per
// network.
const (
	MaxNetworks         = 32
	MaxTokensPerNetwork = 32
	maxNameRunes        = 32
	maxSymbolRunes      = 16
)

// pageConfig is config.json version 2 (docs/miniapp.md, "config.json"),
// its members in this order.
type pageConfig struct {
	Version           int           `json:"version"`
	IdentityKey       string        `json:"identity_key"`
	BotID             int64         `json:"bot_id"`
	TelegramPublicKey string        `json:"telegram_public_key"`
	Networks          []pageNetwork `json:"networks"`
}

type pageNetwork struct {
	ChainID        uint64      `json:"chain_id"`
	Name           string      `json:"name"`
	NativeSymbol   string      `json:"native_symbol"`
	NativeDecimals uint8       `json:"native_decimals"`
	ExplorerURL    string      `json:"explorer_url"`
	L1DataFee      bool        `json:"l1_data_fee"`
	Tokens         []pageToken `json:"tokens"`
}

type pageToken struct {
	Address  string `json:"address"` // EIP-55
	Symbol   string `json:"symbol"`
	Decimals uint8  `json:"decimals"`
}

// ConfigJSON is the page's config.json, version 2:
//
//	{"version":2,"identity_key":"<64 lowercase hex>","bot_id":N,
//	 "telegram_public_key":"<64 lowercase hex>","networks":[{"chain_id":8453,
//	 "name":"Base","native_symbol":"ETH","native_decimals":18,
//	 "explorer_url":"https://basescan.org","l1_data_fee":true,
//	 "tokens":[{"address":"0x…(EIP-55)","symbol":"USDC","decimals":6}]}]}
//
// and nothing else (docs/miniapp.md). identity_key verifies wallet
// statements; bot_id and telegram_public_key (any case in, lowercase out)
// verify the page's own launch data; networks is the page's own list of
// networks and tokens: the only source of a network's name, its coin and a
// token's symbol and decimals on the page (never the host). A key that is
// not 64 hex, a bot id that is not positive, or networks that do not pass
// networks.Set.Validate and the page's own display rules is an error.
func ConfigJSON(identityKey string, botID int64, telegramKey string, nets networks.Set) ([]byte, error) {
	if len(identityKey) != 64 || strings.Trim(identityKey, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("miniapp: identity key %q is not 64 lowercase hex characters", identityKey)
	}
	if botID <= 0 {
		return nil, fmt.Errorf("miniapp: bot id %d is not positive", botID)
	}
	tk := strings.ToLower(telegramKey)
	if len(tk) != 64 || strings.Trim(tk, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("miniapp: Telegram public key %q is not 64 hex characters", telegramKey)
	}
	pn, err := pageNetworks(nets)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(pageConfig{Version: ConfigVersion, IdentityKey: identityKey, BotID: botID, TelegramPublicKey: tk, Networks: pn})
	if err != nil {
		return nil, err
	}
	if len(b)+1 > MaxConfigBytes {
		return nil, fmt.Errorf("miniapp: config.json would be %d bytes, more than the page reads (%d)", len(b)+1, MaxConfigBytes)
	}
	return append(b, '\n'), nil
}

// pageNetworks is the "networks" member of config.json for nets, checked
// against the rules the page applies (so the page never refuses what Go
// writes): Set.Validate, at most MaxNetworks networks of at most
// MaxTokensPerNetwork tokens, a name of 1..32 and symbols of 1..16
// printable characters (letters, digits, punctuation, symbols; spaces only
// in a name: no control, format or bidirectional-override character), an
// explorer URL that is empty or https (http only on a loopback host) in
// printable ASCII without a trailing slash, query, fragment or credentials.
func pageNetworks(nets networks.Set) ([]pageNetwork, error) {
	if err := nets.Validate(); err != nil {
		return nil, fmt.Errorf("miniapp: %w", err)
	}
	if len(nets) > MaxNetworks {
		return nil, fmt.Errorf("miniapp: %d networks, at most %d", len(nets), MaxNetworks)
	}
	out := make([]pageNetwork, 0, len(nets))
	for _, n := range nets {
		if !displayable(n.Name, maxNameRunes, true) || !displayable(n.NativeSymbol, maxSymbolRunes, false) {
			return nil, fmt.Errorf("miniapp: network %d: name %q or coin %q is not 1..%d / 1..%d printable characters", n.ChainID, n.Name, n.NativeSymbol, maxNameRunes, maxSymbolRunes)
		}
		if !explorerOK(n.ExplorerURL) {
			return nil, fmt.Errorf("miniapp: %s: explorer URL %q is not https://host[/path] without a trailing slash", n.Name, n.ExplorerURL)
		}
		if len(n.Tokens) > MaxTokensPerNetwork {
			return nil, fmt.Errorf("miniapp: %s: %d tokens, at most %d", n.Name, len(n.Tokens), MaxTokensPerNetwork)
		}
		p := pageNetwork{ChainID: n.ChainID, Name: n.Name, NativeSymbol: n.NativeSymbol, NativeDecimals: n.NativeDecimals,
			ExplorerURL: n.ExplorerURL, L1DataFee: n.L1DataFee, Tokens: []pageToken{}}
		for _, t := range n.Tokens {
			if !displayable(t.Symbol, maxSymbolRunes, false) {
				return nil, fmt.Errorf("miniapp: %s: token %s: symbol %q is not 1..%d printable characters", n.Name, t.Address.Hex(), t.Symbol, maxSymbolRunes)
			}
			p.Tokens = append(p.Tokens, pageToken{Address: t.Address.Hex(), Symbol: t.Symbol, Decimals: t.Decimals})
		}
		out = append(out, p)
	}
	return out, nil
}

// AllowedTokens is the token allow-list of nets in the shape of
// enclave.Config.AllowedTokens: per chain id, the token contracts it lists,
// in order (a network without tokens is absent: native only). The page's
// config.json and the enclave's baked config are both derived from one
// networks.Set, and TestPageTokensMatchEnclave checks that they agree.
func AllowedTokens(nets networks.Set) map[uint64][]common.Address {
	out := make(map[uint64][]common.Address)
	for _, n := range nets {
		for _, t := range n.Tokens {
			out[n.ChainID] = append(out[n.ChainID], t.Address)
		}
	}
	return out
}

// AllowedChainIDs is the chain ids of nets in order, in the shape of
// enclave.Config.AllowedChainIDs: the networks the page can name are the
// ones the enclave may sign on.
func AllowedChainIDs(nets networks.Set) []uint64 {
	out := make([]uint64, 0, len(nets))
	for _, n := range nets {
		out = append(out, n.ChainID)
	}
	return out
}

// displayable: 1..max runes of valid UTF-8, each a letter, mark, digit,
// punctuation or symbol (space too when spaces is set): nothing invisible,
// no control or bidirectional override that could reorder what the page
// shows next to it.
func displayable(s string, max int, spaces bool) bool {
	if !utf8.ValidString(s) || s == "" || utf8.RuneCountInString(s) > max || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		switch {
		case r == ' ' && spaces:
		case unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
		default:
			return false
		}
	}
	return true
}

func explorerOK(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || strings.HasSuffix(s, "/") || strings.ContainsAny(s, "\"'<>\\`?#@") {
		return false
	}
	loopback := u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost"
	return u.Scheme == "https" || (u.Scheme == "http" && loopback)
}

// WithConfig serves config.json (ConfigJSON) pinning the deployment
// identity key (with which the page verifies wallet statements), the bot id
// and Telegram's public key (with which it verifies its own launch data),
// and the page's own list of networks and tokens (with which it names what
// a transfer moves). In production the operator publishes config.json with
// the page, on an origin the host does not control; a host serving it (dev,
// or a parent serving the page) is trusted for it. Invalid values panic, so
// a misconfiguration shows at start-up. Without it config.json is not
// found, and the page shows no address as verified and no transfer as
// approvable.
func WithConfig(identityKey string, botID int64, telegramKey string, nets networks.Set) Option {
	b, err := ConfigJSON(identityKey, botID, telegramKey, nets)
	if err != nil {
		panic(err)
	}
	return func(c *config) { c.configJSON = b }
}
