package bot

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// nets is the networks the bot offers, in the order it shows them.
func (b *Bot) nets() networks.Set { return b.svc.Networks() }

// network returns the network of a chain id, or a description for a chain
// the deployment no longer serves (an old transfer's).
func (b *Bot) network(chainID uint64) *networks.Network {
	if n, ok := b.nets().ByChainID(chainID); ok {
		return n
	}
	n := networks.ForChainID(chainID)
	return &n
}

// NetworkName is a chain's name for people.
func (b *Bot) networkName(chainID uint64) string { return b.network(chainID).Name }

// asset is one coin on one network: the native coin (token zero) or a
// listed ERC-20 token.
type asset struct {
	net   *networks.Network
	token networks.Token // Address zero: the native coin
}

func (a asset) native() bool { return a.token.Address == (common.Address{}) }

func (a asset) symbol() string {
	if a.native() {
		return a.net.NativeSymbol
	}
	return a.token.Symbol
}

func (a asset) decimals() uint8 {
	if a.native() {
		return a.net.NativeDecimals
	}
	return a.token.Decimals
}

// String is "USDC on Base".
func (a asset) String() string { return a.symbol() + " on " + a.net.Name }

// assetOf is the asset a transfer moves.
func (b *Bot) assetOf(chainID uint64, token common.Address) asset {
	n := b.network(chainID)
	a := asset{net: n}
	if token != (common.Address{}) {
		if t, ok := n.Token(token); ok {
			a.token = t
		} else {
			// Not in the list: shown by its contract address, 0 decimals.
			a.token = networks.Token{Address: token, Symbol: token.Hex()}
		}
	}
	return a
}

// assets lists every coin and token on every network.
func (b *Bot) assets() []asset {
	var out []asset
	set := b.nets()
	for i := range set {
		n := &set[i]
		out = append(out, asset{net: n})
		for _, t := range n.Tokens {
			out = append(out, asset{net: n, token: t})
		}
	}
	return out
}

// balance is addr's balance of a.
func (b *Bot) balance(ctx context.Context, a asset, addr common.Address) (*big.Int, error) {
	c, err := b.svc.ChainFor(a.net.ChainID)
	if err != nil {
		return nil, err
	}
	if a.native() {
		return c.Balance(ctx, addr)
	}
	return c.TokenBalance(ctx, a.token.Address, addr)
}

// l1FeeMargin is how many times the L1 data fee estimate the native
// coin's Max leaves unspent: the fee follows Ethereum's price at inclusion
// and no field of the signed transaction caps it.
const l1FeeMargin = 2

// maxFeeEstimate is what Max leaves for fees of a transfer of a now, in
// the native coin: the max network fee, plus l1FeeMargin times the L1 data
// fee estimate where the network has one.
func (b *Bot) maxFeeEstimate(ctx context.Context, a asset) (*big.Int, error) {
	f, err := b.svc.EstimateFee(ctx, a.net.ChainID, a.token.Address)
	if err != nil {
		return nil, err
	}
	if !f.L1Known() {
		return nil, parent.ErrL1FeeUnknown
	}
	total := new(big.Int).Set(f.MaxNetworkFee)
	if f.L1DataFee != nil {
		total.Add(total, new(big.Int).Mul(f.L1DataFee, big.NewInt(l1FeeMargin)))
	}
	return total, nil
}

// buildRequest is the service's request for a transfer of amount of a.
func buildRequest(owner, chatID int64, a asset, to common.Address, amount *big.Int) parent.BuildRequest {
	return parent.BuildRequest{Owner: owner, ChainID: a.net.ChainID, Token: a.token.Address, To: to, Amount: amount, ChatID: chatID}
}

// feePaid is what a mined transaction paid in fees (stored by the
// tracker; else read from the receipt), or nil when unknown.
func (b *Bot) feePaid(ctx context.Context, t storage.Transfer) *big.Int {
	if t.FeePaid != nil {
		return t.FeePaid
	}
	c, err := b.svc.ChainFor(t.ChainID)
	if err != nil {
		return nil
	}
	r, err := c.Receipt(ctx, t.TxHash)
	if err != nil {
		return nil
	}
	return r.Fee()
}

// txLink is an HTML link to a transaction on its network's explorer, or the
// hash as code where there is no explorer.
func (b *Bot) txLink(chainID uint64, hash common.Hash) string {
	if url := b.network(chainID).TxURL(hash); url != "" {
		return fmt.Sprintf("<a href=\"%s\">%s</a>", url, short(hash.Hex()))
	}
	return "<code>" + hash.Hex() + "</code>"
}

// addressLink is an address as code, with an explorer link after it where
// there is one.
func (b *Bot) addressLink(chainID uint64, a common.Address) string {
	s := "<code>" + a.Hex() + "</code>"
	if url := b.network(chainID).AddressURL(a); url != "" {
		s += fmt.Sprintf(" (<a href=\"%s\">explorer</a>)", url)
	}
	return s
}
