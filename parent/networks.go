package parent

// Several networks: the service serves every network of its networks.Set,
// each through its own chain client. One wallet address is the same on all
// of them; nonces, fees and balances are per network.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
)

// NetworkChain is one network the service serves and the client of its node.
// The client must be dialed for the network's chain id (DialChain checks
// that the node reports it).
type NetworkChain struct {
	Network networks.Network
	Chain   *Chain
}

// Errors of the several-networks API; each wraps into a sentence for people.
var (
	// ErrUnknownNetwork: the deployment serves no network with that chain
	// id (or name).
	ErrUnknownNetwork = errors.New("this wallet does not serve that network")
	// ErrTokenNotListed: the token contract is not on the network's token
	// list (the enclave would refuse it too).
	ErrTokenNotListed = errors.New("token not listed on that network")
	// ErrNoFeeCoin: a token transfer the token balance covers, but the
	// wallet lacks the network's native coin to pay the fee. Errors of
	// this kind are *NoFeeCoinError and also wrap ErrBalanceTooLow.
	ErrNoFeeCoin = errors.New("no native coin for the network fee")
	// ErrTransferWouldFail: the node's eth_estimateGas says the token
	// contract would revert this transfer (paused, blocklisted, ...).
	ErrTransferWouldFail = errors.New("the token contract would refuse this transfer")
	// ErrRecipientIsToken: the recipient is the contract of a token this
	// wallet lists on that network (or the token being sent): a token
	// contract has no owner who could send the money back, so what is
	// sent to it is lost.
	ErrRecipientIsToken = errors.New("the recipient is a token contract")
	// ErrL1FeeUnknown: the network charges an L1 data fee and its
	// GasPriceOracle could not be read: no transfer is built without it.
	ErrL1FeeUnknown = errors.New("the L1 data fee could not be read")
)

// Balance is the wallet's holding of one asset on one network.
type Balance struct {
	ChainID  uint64
	Network  string         // the network's name, "Base"
	Token    common.Address // zero: the native coin
	Symbol   string         // "ETH", "USDC"
	Decimals uint8
	// Amount in the asset's smallest unit; nil when Err is set.
	Amount *big.Int
	// Err is set when the network's node did not answer (or answered
	// nonsense): the amount is unknown, not zero. It wraps
	// ErrNodeUnavailable or ErrNodeRejected.
	Err error
}

// Known reports whether the amount was read.
func (b Balance) Known() bool { return b.Err == nil && b.Amount != nil }

// Native reports whether the balance is of the network's native coin.
func (b Balance) Native() bool { return b.Token == (common.Address{}) }

// Networks is the set of networks the service serves, in the order they are
// shown. The caller must not modify it.
func (s *Service) Networks() networks.Set { return s.nets }

// Network returns the network with that chain id, or ErrUnknownNetwork.
func (s *Service) Network(chainID uint64) (*networks.Network, error) {
	n, ok := s.nets.ByChainID(chainID)
	if !ok {
		return nil, fmt.Errorf("%w (chain id %d)", ErrUnknownNetwork, chainID)
	}
	return n, nil
}

// ChainFor is the chain client of a network, or ErrUnknownNetwork.
func (s *Service) ChainFor(chainID uint64) (*Chain, error) {
	c, ok := s.chains[chainID]
	if !ok {
		return nil, fmt.Errorf("%w (chain id %d)", ErrUnknownNetwork, chainID)
	}
	return c, nil
}

// Balances reads the wallet's native coin and every listed token on every
// network, all networks at once. A network whose node is down gives its
// entries with Err set (unknown, not zero); the others are unaffected. The
// result is in the order of Networks, native coin first, then the tokens in
// list order. The error is only ctx's.
func (s *Service) Balances(ctx context.Context, addr common.Address) ([]Balance, error) {
	out := make([][]Balance, len(s.nets))
	var wg sync.WaitGroup
	for i := range s.nets {
		n := &s.nets[i]
		c := s.chains[n.ChainID]
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = networkBalances(ctx, n, c, addr)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var all []Balance
	for _, bs := range out {
		all = append(all, bs...)
	}
	return all, nil
}

// networkBalances reads one network's balances, one call after another
// (each bounded by the client's call timeout). After the node failed once,
// the rest of the network's entries take that error instead of waiting for
// the timeout again.
func networkBalances(ctx context.Context, n *networks.Network, c *Chain, addr common.Address) []Balance {
	bs := []Balance{{ChainID: n.ChainID, Network: n.Name, Symbol: n.NativeSymbol, Decimals: n.NativeDecimals}}
	for _, t := range n.Tokens {
		bs = append(bs, Balance{ChainID: n.ChainID, Network: n.Name, Token: t.Address, Symbol: t.Symbol, Decimals: t.Decimals})
	}
	var down error
	for i := range bs {
		if down != nil {
			bs[i].Err = down
			continue
		}
		var err error
		if bs[i].Native() {
			bs[i].Amount, err = c.Balance(ctx, addr)
		} else {
			bs[i].Amount, err = c.TokenBalance(ctx, bs[i].Token, addr)
		}
		if err != nil {
			bs[i].Amount, bs[i].Err = nil, err
			if errors.Is(err, ErrNodeUnavailable) || ctx.Err() != nil {
				down = err
			}
		}
	}
	return bs
}

// Balance is the wallet's native balance on the first network.
//
// Deprecated: a deployment serves several networks; use Balances.
func (s *Service) Balance(ctx context.Context, addr common.Address) (*big.Int, error) {
	if len(s.nets) == 0 {
		return nil, ErrUnknownNetwork
	}
	return s.chains[s.nets[0].ChainID].Balance(ctx, addr)
}

// Chain is the first network's chain client.
//
// Deprecated: use ChainFor.
func (s *Service) Chain() *Chain {
	if len(s.nets) == 0 {
		return nil
	}
	return s.chains[s.nets[0].ChainID]
}

// ChainID is the first network's chain id: the default of a BuildRequest
// without one.
//
// Deprecated: use Networks.
func (s *Service) ChainID() uint64 {
	if len(s.nets) == 0 {
		return 0
	}
	return s.nets[0].ChainID
}

// OneNetwork serves c's chain alone, described by networks.ForChainID
// (the single-chain setups of tests and of `-rpc` without a networks file).
func OneNetwork(c *Chain) []NetworkChain {
	return []NetworkChain{{Network: networks.ForChainID(c.ChainID()), Chain: c}}
}
