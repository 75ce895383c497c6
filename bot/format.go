package bot

// Amounts are written by the one rule the bot and the Mini App page share
// (docs/miniapp.md, "Amounts: one rounding rule"; Go networks.FormatAmount,
// JS AutowalletIntent.formatAmount, compared by a test):
//
//   - six decimal places, or more for a small value so that four
//     significant digits remain (0.00000002101), never "0" for a non-zero
//     value; trailing zeros trimmed ("0.05", "1");
//   - a maximum (max network fee, L1 data fee estimate, "total at most",
//     what a transfer needs) is rounded up: never shown below what it can
//     cost; a balance (what can be spent) is rounded down: never above what
//     is held; an actual amount (a fee paid, a deposit, a faucet drip) is
//     rounded to nearest, half up;
//   - the amount of a transfer is written exactly, all its digits: it is
//     what the user typed and what the enclave signs.
//
// bot/testdata/amount_format.json holds vectors of the rule in each mode.

import (
	"math/big"

	"github.com/autowallet/autowallet/networks"
)

// rounding says which way a shortened amount goes.
type rounding = networks.Rounding

const (
	nearest = networks.Nearest // actual amounts: a fee paid, a deposit
	up      = networks.Up      // maxima: max fee, total at most
	down    = networks.Down    // balances: what can be spent
	exact   = networks.Exact   // every digit: the amount being sent
)

// formatAmount writes v (in the smallest unit of a coin with decimals
// decimals) by the rule above.
func formatAmount(v *big.Int, decimals uint8, mode rounding) string {
	if v == nil {
		return "0"
	}
	return networks.FormatAmount(v, decimals, mode)
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// eth writes wei of a native coin with 18 decimals.
func eth(wei *big.Int, mode rounding) string { return formatAmount(wei, 18, mode) }
