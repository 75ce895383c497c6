package bot

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
)

// TestAssetButtonData: the data names the coin by chain id and token, fits
// Telegram's 64 bytes for the largest chain id, reads back to the same
// coin, and every other spelling is refused by reason.
func TestAssetButtonData(t *testing.T) {
	tok := common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	big := &networks.Network{ChainID: math.MaxUint64}
	for _, a := range []asset{{net: big}, {net: big, token: networks.Token{Address: tok}}, {net: &networks.Network{ChainID: 8453}, token: networks.Token{Address: tok}}} {
		d := assetData(a)
		if len(d) > maxCallbackLen {
			t.Fatalf("%q is %d bytes, Telegram keeps %d", d, len(d), maxCallbackLen)
		}
		id, got, err := parseAssetArg(strings.TrimPrefix(d, cbFlow))
		if err != nil || id != a.net.ChainID || got != a.token.Address {
			t.Fatalf("%q read as %d, %s, %v", d, id, got, err)
		}
	}
	if d := assetData(asset{net: &networks.Network{ChainID: 8453}, token: networks.Token{Address: tok}}); d != "f:a8453:a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48" {
		t.Fatalf("data %q", d)
	}
	for arg, want := range map[string]error{
		"asset:1":                      errOldAssetButton,
		"asset:":                       errOldAssetButton,
		"a1":                           errBadAssetButton,
		"a:native":                     errBadAssetButton,
		"a01:native":                   errBadAssetButton,
		"a+1:native":                   errBadAssetButton,
		"a18446744073709551616:native": errBadAssetButton, // 2^64
		"a1:Native":                    errBadAssetButton,
		"a1:A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48":   errBadAssetButton, // mixed case: one spelling only
		"a1:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb4":  errBadAssetButton,
		"a1:a0b86991c6218b36c1d19d4a2e9eb0ce3606eb4":    errBadAssetButton,
		"a1:0000000000000000000000000000000000000000":   errBadAssetButton, // native has one spelling
		"a1:a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48:x": errBadAssetButton,
		"max2": errBadAssetButton,
	} {
		if _, _, err := parseAssetArg(arg); !errors.Is(err, want) {
			t.Errorf("%q: got %v, want %v", arg, err, want)
		}
	}
}

// FuzzParseAssetArg: never panics; what it accepts is the one spelling
// assetData gives for that chain and token.
func FuzzParseAssetArg(f *testing.F) {
	f.Add("a8453:a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
	f.Add("a1:native")
	f.Add("asset:3")
	f.Fuzz(func(t *testing.T, arg string) {
		id, tok, err := parseAssetArg(arg)
		if err != nil {
			if !errors.Is(err, errBadAssetButton) && !errors.Is(err, errOldAssetButton) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if again := assetData(asset{net: &networks.Network{ChainID: id}, token: networks.Token{Address: tok}}); again != cbFlow+arg {
			t.Fatalf("%q accepted, but the chain %d and token %s are spelt %q", arg, id, tok, again)
		}
	})
}
