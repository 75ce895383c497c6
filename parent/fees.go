package parent

// Fees are honest: the network fee in the native coin (what it can cost at
// most, and what it likely costs), and where the network charges one (OP
// Stack: Base, Optimism) the L1 data fee read from the chain's own
// GasPriceOracle, never left out: when it cannot be read it is "unknown".

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/networks"
)

// TypicalTokenGas is the gas EstimateFee assumes for an ERC-20 transfer
// when it has no transfer to estimate: 65,000, about what a USDC or USDT
// transfer to a new holder uses on mainnet (a first credit of a balance
// slot costs 20,000 more than a later one). Build never uses it: it asks
// the node (eth_estimateGas) for the exact transfer.
const TypicalTokenGas uint64 = 65_000

// TokenGasMargin is the headroom over eth_estimateGas for a token
// transfer's gas limit, in percent: 25%. The estimate is exact for the state
// it ran on; a token whose transfer grows costlier by the time it is
// included (a proxy upgrade, a balance slot emptied and refilled, a
// different storage warmness) would otherwise run out of gas and still pay
// the fee. Unused gas is not charged, so the margin only raises the bound
// (and the balance the fee check asks for).
const TokenGasMargin = 25

// FeeEstimate is what a transfer on one network costs in its native coin.
type FeeEstimate struct {
	ChainID      uint64
	Network      string
	NativeSymbol string
	// GasLimit is the transfer's gas limit: 21000 for the native coin,
	// TypicalTokenGas or the node's estimate with TokenGasMargin for a
	// token.
	GasLimit             uint64
	MaxFeePerGas         *big.Int // wei per gas
	MaxPriorityFeePerGas *big.Int // wei per gas
	// MaxNetworkFee = GasLimit x MaxFeePerGas: the most the execution can
	// cost; the balance must cover it.
	MaxNetworkFee *big.Int
	// LikelyNetworkFee = GasLimit x (current base fee + tip): what it
	// costs if included now with every unit of gas used.
	LikelyNetworkFee *big.Int
	// HasL1DataFee: the network charges an L1 data fee (networks.Network
	// L1DataFee). Then L1DataFee is the GasPriceOracle's answer, or nil
	// with L1DataFeeErr set (show "unknown", never zero).
	HasL1DataFee bool
	L1DataFee    *big.Int
	L1DataFeeErr error
}

// L1Known reports whether the L1 data fee is known (or there is none).
func (f FeeEstimate) L1Known() bool { return !f.HasL1DataFee || f.L1DataFee != nil }

// MaxTotal is MaxNetworkFee plus the L1 data fee: the native coin a
// transfer needs beside its amount. ok is false when the L1 data fee is
// unknown (the total is then MaxNetworkFee alone, and incomplete).
func (f FeeEstimate) MaxTotal() (total *big.Int, ok bool) {
	total = new(big.Int).Set(f.MaxNetworkFee)
	if f.L1DataFee != nil {
		total.Add(total, f.L1DataFee)
	}
	return total, f.L1Known()
}

// LikelyTotal is LikelyNetworkFee plus the L1 data fee ("about").
func (f FeeEstimate) LikelyTotal() (total *big.Int, ok bool) {
	total = new(big.Int).Set(f.LikelyNetworkFee)
	if f.L1DataFee != nil {
		total.Add(total, f.L1DataFee)
	}
	return total, f.L1Known()
}

// EstimateFee estimates the fee of a transfer of token (zero: the native
// coin) on the network chainID, before the user has said how much or to
// whom: the gas limit is 21000 or TypicalTokenGas, and the L1 data fee is
// that of a transaction of that shape. Only the network's current fees and
// the L1 data fee are read. A node that is down fails the estimate
// (ErrNodeUnavailable); an unreadable oracle leaves the L1 data fee unknown
// (L1DataFeeErr) without failing it.
func (s *Service) EstimateFee(ctx context.Context, chainID uint64, token common.Address) (FeeEstimate, error) {
	// A transfer of 1,000 units (6 non-zero bytes) to a typical address:
	// the calldata of a real transfer has the same length and a similar
	// share of zero bytes.
	return s.estimate(ctx, chainID, token, common.Address{}, common.HexToAddress("0x5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"), big.NewInt(1_000_000_000))
}

// EstimateTransferFee estimates the fee of this very transfer from the
// wallet from: for a token, the gas limit is eth_estimateGas of
// transfer(to, amount) plus TokenGasMargin, as Build computes it
// (TypicalTokenGas if the node cannot estimate it, e.g. the amount is more
// than the balance).
func (s *Service) EstimateTransferFee(ctx context.Context, chainID uint64, token, from, to common.Address, amount *big.Int) (FeeEstimate, error) {
	if amount == nil || amount.Sign() < 0 || amount.BitLen() > 256 {
		return FeeEstimate{}, fmt.Errorf("%w: the amount must be a positive number", ErrBadAmount)
	}
	return s.estimate(ctx, chainID, token, from, to, amount)
}

func (s *Service) estimate(ctx context.Context, chainID uint64, token, from, to common.Address, amount *big.Int) (FeeEstimate, error) {
	n, err := s.Network(chainID)
	if err != nil {
		return FeeEstimate{}, err
	}
	c := s.chains[chainID]
	gas, txTo, value, data := GasLimitETH, to, amount, []byte(nil)
	if token != (common.Address{}) {
		if _, ok := n.Token(token); !ok {
			return FeeEstimate{}, fmt.Errorf("%w: %s on %s", ErrTokenNotListed, token.Hex(), n.Name)
		}
		gas, txTo, value, data = TypicalTokenGas, token, new(big.Int), TransferCalldata(to, amount)
		if from != (common.Address{}) {
			if est, err := c.EstimateGas(ctx, from, token, value, data); err == nil {
				gas = est + est*TokenGasMargin/100
			}
		}
	}
	maxFee, tip, err := c.Fees(ctx)
	if err != nil {
		return FeeEstimate{}, err
	}
	nonce := uint64(0)
	if from != (common.Address{}) {
		if nonce, err = c.PendingNonce(ctx, from); err != nil {
			return FeeEstimate{}, err
		}
	}
	return s.feeOf(ctx, n, c, unsignedTx(chainID, nonce, gas, maxFee, tip, txTo, value, data)), nil
}

// unsignedTx is the transaction an intent becomes, without signature.
func unsignedTx(chainID, nonce, gas uint64, maxFee, tip *big.Int, to common.Address, value *big.Int, data []byte) *types.Transaction {
	return types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(chainID), Nonce: nonce, GasTipCap: tip, GasFeeCap: maxFee,
		Gas: gas, To: &to, Value: value, Data: data,
	})
}

// feeOf prices tx on network n: the network fee from its gas and fee caps,
// and the L1 data fee from the oracle where the network has one.
func (s *Service) feeOf(ctx context.Context, n *networks.Network, c *Chain, tx *types.Transaction) FeeEstimate {
	gas := new(big.Int).SetUint64(tx.Gas())
	// Fees returns max fee = 2 x base fee + tip, so base + tip is
	// (max fee + tip) / 2.
	likely := new(big.Int).Add(tx.GasFeeCap(), tx.GasTipCap())
	likely.Rsh(likely, 1)
	f := FeeEstimate{
		ChainID: n.ChainID, Network: n.Name, NativeSymbol: n.NativeSymbol,
		GasLimit: tx.Gas(), MaxFeePerGas: tx.GasFeeCap(), MaxPriorityFeePerGas: tx.GasTipCap(),
		MaxNetworkFee:    new(big.Int).Mul(gas, tx.GasFeeCap()),
		LikelyNetworkFee: likely.Mul(likely, gas),
		HasL1DataFee:     n.L1DataFee,
	}
	if n.L1DataFee {
		f.L1DataFee, f.L1DataFeeErr = c.L1Fee(ctx, tx)
		if f.L1DataFeeErr != nil {
			f.L1DataFee = nil
			s.log.Warn("L1 data fee unknown", "chain_id", n.ChainID, "err", f.L1DataFeeErr)
		}
	}
	return f
}

// InsufficientBalanceError: the wallet holds less of the asset than the
// transfer needs. For the native coin Need is the amount plus the fee
// (Fee: the max network fee plus the L1 data fee). It wraps
// ErrBalanceTooLow.
type InsufficientBalanceError struct {
	ChainID  uint64
	Network  string
	Token    common.Address // zero: the native coin
	Symbol   string
	Decimals uint8
	Have     *big.Int // smallest unit
	Need     *big.Int // smallest unit
	Fee      *big.Int // native coin only: the fee part of Need, wei
}

func (e *InsufficientBalanceError) Error() string {
	if e.Token == (common.Address{}) {
		return fmt.Sprintf("%s: you have %s %s on %s; it needs up to %s %s (amount plus network fee of up to %s %s)",
			ErrBalanceTooLow, down(e.Have, e.Decimals), e.Symbol, e.Network,
			up(e.Need, e.Decimals), e.Symbol, up(e.Fee, e.Decimals), e.Symbol)
	}
	return fmt.Sprintf("%s: you have %s %s on %s; the transfer needs %s %s", ErrBalanceTooLow,
		down(e.Have, e.Decimals), e.Symbol, e.Network, up(e.Need, e.Decimals), e.Symbol)
}

func (e *InsufficientBalanceError) Unwrap() error { return ErrBalanceTooLow }

// NoFeeCoinError: a token transfer that the token balance covers, on a
// network where the wallet has less of the native coin than the fee may
// take. It wraps ErrNoFeeCoin and ErrBalanceTooLow. Its message is the
// sentence for the user: "you have 25 USDC on Base but no ETH there to pay
// the network fee (about 0.00002 ETH)".
type NoFeeCoinError struct {
	ChainID       uint64
	Network       string
	TokenSymbol   string
	TokenDecimals uint8
	TokenBalance  *big.Int // smallest unit
	NativeSymbol  string
	NativeBalance *big.Int // wei
	// Fee is what the native balance must cover: the max network fee plus
	// the L1 data fee (wei); Likely is what it would likely cost.
	Fee    *big.Int
	Likely *big.Int
}

func (e *NoFeeCoinError) Error() string {
	have := "no " + e.NativeSymbol
	if e.NativeBalance != nil && e.NativeBalance.Sign() > 0 {
		have = "only " + down(e.NativeBalance, 18) + " " + e.NativeSymbol
	}
	return fmt.Sprintf("you have %s %s on %s but %s there to pay the network fee (about %s %s, up to %s %s)",
		down(e.TokenBalance, e.TokenDecimals), e.TokenSymbol, e.Network, have,
		up(e.Likely, 18), e.NativeSymbol, up(e.Fee, 18), e.NativeSymbol)
}

func (e *NoFeeCoinError) Unwrap() []error { return []error{ErrNoFeeCoin, ErrBalanceTooLow} }

// down and up write an amount by the one rule the bot and the page share
// (networks.FormatAmount): a balance rounded down, a need or a fee rounded
// up, so a refusal never shows a balance larger or a fee smaller than it is.
func down(v *big.Int, decimals uint8) string { return formatOr0(v, decimals, networks.Down) }
func up(v *big.Int, decimals uint8) string   { return formatOr0(v, decimals, networks.Up) }

func formatOr0(v *big.Int, decimals uint8, r networks.Rounding) string {
	if v == nil {
		return "0"
	}
	return networks.FormatAmount(v, decimals, r)
}
