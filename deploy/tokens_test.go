package deploy

import (
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/enclave"
)

// TestProductionTokens: the production enclave config allows exactly the
// five preset networks and, on each, exactly the issuers' own USDC and
// USDT contracts cited in docs/networks.md (the parent's presets): nothing
// bridged, nothing more. A change to either list must change both.
func TestProductionTokens(t *testing.T) {
	cfg, err := enclave.ParseConfig([]byte(read(t, "enclave-config.json")))
	if err != nil {
		t.Fatal(err)
	}
	a := common.HexToAddress
	want := map[uint64][]common.Address{
		1:     {a("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), a("0xdAC17F958D2ee523a2206206994597C13D831ec7")}, // Ethereum: USDC, USDT
		8453:  {a("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")},                                                  // Base: USDC
		10:    {a("0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85")},                                                  // Optimism: USDC
		42161: {a("0xaf88d065e77c8cC2239327C5EDb3A432268e5831")},                                                  // Arbitrum One: USDC
		137:   {a("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"), a("0xc2132D05D31c914a87C6611C10748AEb04B58e8F")}, // Polygon PoS: USDC, USDT
	}
	if !reflect.DeepEqual(cfg.AllowedChainIDs, []uint64{1, 8453, 10, 42161, 137}) || !reflect.DeepEqual(cfg.AllowedTokens, want) {
		t.Fatalf("chains %v, tokens %v", cfg.AllowedChainIDs, cfg.AllowedTokens)
	}
}
