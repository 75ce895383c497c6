package bot

import (
	"context"
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
)

// known names the networks a deployment may run on, with their explorers,
// for a service that serves one chain.
var known = map[uint64]networks.Network{
	1:        {Name: "Ethereum", ExplorerURL: "https://etherscan.io"},
	11155111: {Name: "Sepolia testnet", ExplorerURL: "https://sepolia.etherscan.io"},
	17000:    {Name: "Holesky testnet", ExplorerURL: "https://holesky.etherscan.io"},
	8453:     {Name: "Base", ExplorerURL: "https://basescan.org"},
	10:       {Name: "Optimism", ExplorerURL: "https://optimistic.etherscan.io"},
	42161:    {Name: "Arbitrum One", ExplorerURL: "https://arbiscan.io"},
	137:      {Name: "Polygon", ExplorerURL: "https://polygonscan.com"},
	1337:     {Name: "Dev chain"},
}

// nets is the networks the bot offers, in the order it shows them.
func (b *Bot) nets() networks.Set {
	id := b.svc.ChainID()
	n, ok := known[id]
	if !ok {
		n.Name = "chain " + strconv.FormatUint(id, 10)
	}
	n.ChainID, n.NativeSymbol, n.NativeDecimals = id, "ETH", 18
	return networks.Set{n}
}

// network returns the network of a chain id, or a bare one for a chain the
// bot does not serve (an old transfer's).
func (b *Bot) network(chainID uint64) *networks.Network {
	if n, ok := b.nets().ByChainID(chainID); ok {
		return n
	}
	return &networks.Network{ChainID: chainID, Name: "chain " + strconv.FormatUint(chainID, 10), NativeSymbol: "ETH", NativeDecimals: 18}
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
	if !a.native() {
		return nil, fmt.Errorf("%w: token balances need several networks", parent.ErrNodeUnavailable)
	}
	return b.svc.Balance(ctx, addr)
}

// maxFeeEstimate is the most a transfer of a would cost in fees now, in the
// native coin.
func (b *Bot) maxFeeEstimate(ctx context.Context, a asset) (*big.Int, error) {
	maxFee, _, err := b.svc.Chain().Fees(ctx)
	if err != nil {
		return nil, err
	}
	return new(big.Int).Mul(maxFee, new(big.Int).SetUint64(parent.GasLimitETH)), nil
}

// buildRequest is the service's request for a transfer of amount of a.
func buildRequest(owner, chatID int64, a asset, to common.Address, amount *big.Int) parent.BuildRequest {
	return parent.BuildRequest{Owner: owner, To: to, Amount: amount, ChatID: chatID}
}

// feePaid is what a mined transaction paid in fees, or nil when the node
// does not say.
func (b *Bot) feePaid(ctx context.Context, chainID uint64, hash common.Hash) *big.Int {
	r, err := b.svc.Chain().Receipt(ctx, hash)
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
