package main

// The two embedded chains of `autowallet dev` (docs/networks.md, "Dev
// networks"): Dev L1 (chain 1337, -block-period) and Dev L2 (chain 31337,
// -l2-block-period, shorter), each with the OpenZeppelin test USDC deployed
// at start; the L2 has the GasPriceOracle stand-in at 0x42…0F, so its
// transfers pay an L1 data fee like Base's and the fee path is exercised
// for real. One networks.Set describes them, and the service, the enclave's
// allowed chains and tokens, the faucet (and the page's config) are all
// built from it.

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/networks"
)

// devL1BaseFee is the L1 base fee the Dev L2's GasPriceOracle stand-in
// charges for: 2 gwei, so an L2 transfer's L1 data fee is a few millionths
// of an ETH, about what Base charges.
var devL1BaseFee = big.NewInt(2_000_000_000)

// startDevChains starts Dev L1 and Dev L2 and describes them in m.networks.
// Each chain names its chain_id in its own log lines.
func (m *DevMain) startDevChains(c DevConfig) error {
	var err error
	log := m.log.With("component", "devchain")
	if m.devChain, err = devchain.StartWith(devchain.Options{ChainID: networks.DevL1ChainID, Period: c.BlockPeriod,
		Log: log, TestUSDC: true}); err != nil {
		return fmt.Errorf("starting Dev L1: %w", err)
	}
	if m.devL2, err = devchain.StartWith(devchain.Options{ChainID: networks.DevL2ChainID, Period: c.L2BlockPeriod,
		Log: log, TestUSDC: true, L1BaseFee: devL1BaseFee}); err != nil {
		return fmt.Errorf("starting Dev L2: %w", err)
	}
	l1, l2 := networks.DevL1(), networks.DevL2()
	l1.RPCURL, l2.RPCURL = m.devChain.URL, m.devL2.URL
	l1.Tokens = []networks.Token{{Address: m.devChain.USDC, Symbol: "USDC", Decimals: 6}}
	l2.Tokens = []networks.Token{{Address: m.devL2.USDC, Symbol: "USDC", Decimals: 6}}
	l2.L1DataFee = true
	m.networks = networks.Set{l1, l2}
	return m.networks.Validate()
}

// enclaveAllowed is what the dev enclave's config allows, from the
// networks served: their chain ids and, per chain, their token contracts.
func enclaveAllowed(set networks.Set) (ids []uint64, tokens map[uint64][]common.Address) {
	tokens = map[uint64][]common.Address{}
	for _, n := range set {
		ids = append(ids, n.ChainID)
		for _, t := range n.Tokens {
			tokens[n.ChainID] = append(tokens[n.ChainID], t.Address)
		}
	}
	return ids, tokens
}

// Networks are the networks dev mode serves (after Run).
func (m *DevMain) Networks() networks.Set { return m.networks }

// devFaucet drips ETH and test USDC on every dev chain (bot.MultiFaucet).
type devFaucet struct {
	chains []*devchain.Chain
	nets   networks.Set
}

// Drip sends test ETH on the first chain (bot.Faucet).
func (f *devFaucet) Drip(ctx context.Context, to common.Address) (*big.Int, common.Hash, error) {
	return f.chains[0].Drip(ctx, to)
}

// DripAll sends ETH and test USDC on every chain. A chain that fails is
// reported in the result's error; what the others sent is still returned.
func (f *devFaucet) DripAll(ctx context.Context, to common.Address) ([]bot.FaucetDrop, error) {
	var drops []bot.FaucetDrop
	var errs []error
	for i, c := range f.chains {
		n := f.nets[i]
		amount, hash, err := c.Drip(ctx, to)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s ETH: %w", n.Name, err))
		} else {
			drops = append(drops, bot.FaucetDrop{Network: n.Name, Symbol: n.NativeSymbol, Decimals: n.NativeDecimals, Amount: amount, Tx: hash, TxURL: n.TxURL(hash)})
		}
		if c.USDC == (common.Address{}) {
			continue
		}
		amount, hash, err = c.DripToken(ctx, to)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s USDC: %w", n.Name, err))
			continue
		}
		drops = append(drops, bot.FaucetDrop{Network: n.Name, Symbol: "USDC", Decimals: 6, Amount: amount, Tx: hash, TxURL: n.TxURL(hash)})
	}
	return drops, errors.Join(errs...)
}
