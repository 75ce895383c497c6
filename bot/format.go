package bot

// One way of writing amounts everywhere in the chat (docs/bot.md, "How
// amounts are written"); the Mini App page follows the same rule in JS, and
// bot/testdata/amount_format.json holds the vectors both are checked on.
//
//   - At most 6 decimal places; a non-zero value below 0.000001 is written
//     with 2 significant digits instead (0.000000021), never as "0".
//   - Trailing zeros are trimmed ("0.05", "1").
//   - A maximum (max network fee, "total at most") is rounded up, so the
//     chat never promises less than the most it can cost; a balance, what
//     the user can spend, is rounded down, so it never promises more; an
//     actual amount (a fee paid, a deposit) is rounded to nearest, half up.
//   - The amount of a transfer is written exactly, all its digits: it is
//     what the user typed and what the enclave signs.

import (
	"math/big"
	"strings"
)

// rounding says which way a shortened amount goes.
type rounding int

const (
	nearest rounding = iota // actual amounts: a fee paid, a deposit
	up                      // maxima: max fee, total at most
	down                    // balances: what can be spent
	exact                   // every digit: the amount being sent
)

// maxPlaces is the most decimal places an amount is written with.
const maxPlaces = 6

// formatAmount writes v (in the smallest unit of a coin with decimals
// decimals) as a decimal number by the rule above.
func formatAmount(v *big.Int, decimals uint8, mode rounding) string {
	if v == nil {
		return "0"
	}
	neg := v.Sign() < 0
	abs := new(big.Int).Abs(v)
	d := int(decimals)
	places := d
	if mode != exact {
		places = min(maxPlaces, d)
		// Below 10^-6 (10^(d-6) units): two significant digits.
		if abs.Sign() > 0 && d > maxPlaces && abs.Cmp(pow10(d-maxPlaces)) < 0 {
			digits := len(abs.String()) // significant digits of abs
			places = min(d-digits+2, d)
		}
		abs = roundTo(abs, d-places, mode)
	}
	s := abs.String()
	if len(s) <= d {
		s = strings.Repeat("0", d-len(s)+1) + s
	}
	whole, frac := s[:len(s)-d], s[len(s)-d:]
	frac = strings.TrimRight(frac[:places], "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if neg && abs.Sign() != 0 {
		out = "-" + out
	}
	return out
}

// roundTo rounds abs to a multiple of 10^drop, the way mode says.
func roundTo(abs *big.Int, drop int, mode rounding) *big.Int {
	if drop <= 0 {
		return abs
	}
	unit := pow10(drop)
	q, r := new(big.Int).QuoRem(abs, unit, new(big.Int))
	switch mode {
	case up:
		if r.Sign() > 0 {
			q.Add(q, big.NewInt(1))
		}
	case nearest:
		if new(big.Int).Lsh(r, 1).Cmp(unit) >= 0 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Mul(q, unit)
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// eth writes wei of a native coin with 18 decimals.
func eth(wei *big.Int, mode rounding) string { return formatAmount(wei, 18, mode) }
