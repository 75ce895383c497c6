package networks

import (
	"math/big"
	"strings"
)

// Rounding says which way FormatAmount cuts digits it does not show.
type Rounding int

const (
	// Exact shows every digit: the amount of a transfer (what is signed).
	Exact Rounding = iota
	// Up rounds towards +∞: a maximum (max fee, total at most) is never
	// shown below what it can be.
	Up
	// Down truncates: a balance is never shown above what is held.
	Down
	// Nearest rounds half up: an actual amount (a fee paid, a deposit),
	// neither a bound nor a balance (the bot's cards and alerts).
	Nearest
)

// FormatAmount writes v (in the smallest unit of a coin or token with
// decimals decimals) as a decimal number, the one rule the bot and the Mini
// App page share (docs/miniapp.md, "Amounts: one rounding rule"):
//
//   - 0 is "0"; a negative v is written with a leading "-" and rounded as
//     its absolute value (callers do not show negative amounts);
//   - with Exact, every digit;
//   - otherwise let e be the power of ten of v's first non-zero digit in
//     whole units (1.5 -> 0, 0.00063 -> -4, 1234 -> 3) and keep
//     k = min(decimals, max(6, 3-e)) decimal places: six, or more for a
//     small value so that four significant digits remain; the digits cut
//     off round Up (any non-zero rest adds one unit of the last kept
//     place), Down (dropped) or Nearest (half up);
//   - trailing zeros after the point are trimmed, and the point with them.
//
// Examples (18 decimals, Up): 630000000000000 -> "0.00063",
// 21000294000 -> "0.00000002101", 25000021000000000000 -> "25.000021",
// 1234567891234567891234 -> "1234.567892".
func FormatAmount(v *big.Int, decimals uint8, r Rounding) string {
	if v.Sign() < 0 {
		return "-" + FormatAmount(new(big.Int).Neg(v), decimals, r)
	}
	if v.Sign() == 0 {
		return "0"
	}
	d := int(decimals)
	k := d
	if r != Exact {
		e := len(v.String()) - 1 - d
		k = min(d, max(6, 3-e))
	}
	unit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d-k)), nil)
	q, rest := new(big.Int).QuoRem(v, unit, new(big.Int))
	if r == Up && rest.Sign() != 0 || r == Nearest && new(big.Int).Lsh(rest, 1).Cmp(unit) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	s := q.String()
	if k == 0 {
		return s
	}
	if len(s) <= k {
		s = strings.Repeat("0", k-len(s)+1) + s
	}
	whole, frac := s[:len(s)-k], strings.TrimRight(s[len(s)-k:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}
