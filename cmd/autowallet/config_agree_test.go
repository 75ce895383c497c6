package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot/miniapp"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
)

// TestDevPageConfigAgreesWithEnclave: the token list the running page is
// served (/miniapp/config.json) and the one the running enclave signs for
// (its /v1/health `chains`, read from its config) are the same, chain by
// chain and token by token, and both include the dev chains' test USDC.
// The page names a token only from that list, and the enclave refuses
// every other: if the two differed, the page could show as "unknown" a
// token the enclave signs, or name one the enclave refuses.
func TestDevPageConfigAgreesWithEnclave(t *testing.T) {
	m := startDev(t, t.TempDir())
	defer m.Close()
	page := getPageConfig(t, "http://"+m.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := parent.NewEnclaveClientTCP(m.enclaveAddr, 10*time.Second).Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type chain struct {
		id     uint64
		tokens []string
	}
	var fromPage, fromEnclave []chain
	for _, n := range page.Networks {
		c := chain{id: n.ChainID, tokens: []string{}}
		for _, tok := range n.Tokens {
			c.tokens = append(c.tokens, tok.Address)
		}
		fromPage = append(fromPage, c)
	}
	for _, c := range h.Chains {
		fromEnclave = append(fromEnclave, chain{id: c.ChainID, tokens: append([]string{}, c.Tokens...)})
	}
	same := slices.EqualFunc(fromPage, fromEnclave, func(a, b chain) bool { return a.id == b.id && slices.Equal(a.tokens, b.tokens) })
	if !same {
		t.Fatalf("page config %v, enclave %v", fromPage, fromEnclave)
	}
	for _, id := range []uint64{networks.DevL1ChainID, networks.DevL2ChainID} {
		i := slices.IndexFunc(fromEnclave, func(c chain) bool { return c.id == id })
		if i < 0 || len(fromEnclave[i].tokens) != 1 {
			t.Fatalf("chain %d: no test USDC in the enclave's list %v", id, fromEnclave)
		}
	}
}

// TestPresetsMakeAValidPageConfig: the production presets are a token list
// the page accepts (deploy.TestProductionConfigMatchesPresets checks the
// production enclave config against the same presets).
func TestPresetsMakeAValidPageConfig(t *testing.T) {
	const hexKey = "0101010101010101010101010101010101010101010101010101010101010101"
	if _, err := miniapp.ConfigJSON(hexKey, 7000000001, hexKey, networks.Presets()); err != nil {
		t.Fatal(err)
	}
}
