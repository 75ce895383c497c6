package deploy

import (
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/networks"
)

// TestProductionConfigMatchesPresets: the production enclave config allows
// exactly the preset networks, in their order, and on each exactly the
// preset's token contracts: a parent serving the presets passes its start
// check against this enclave (cmd/autowallet, compareEnclaveNetworks).
func TestProductionConfigMatchesPresets(t *testing.T) {
	cfg, err := enclave.ParseConfig([]byte(read(t, "enclave-config.json")))
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	tokens := map[uint64][]common.Address{}
	for _, n := range networks.Presets() {
		ids = append(ids, n.ChainID)
		for _, tok := range n.Tokens {
			tokens[n.ChainID] = append(tokens[n.ChainID], tok.Address)
		}
	}
	if !reflect.DeepEqual(cfg.AllowedChainIDs, ids) || !reflect.DeepEqual(cfg.AllowedTokens, tokens) {
		t.Fatalf("enclave config: chains %v tokens %v; presets: chains %v tokens %v", cfg.AllowedChainIDs, cfg.AllowedTokens, ids, tokens)
	}
}
