package bot

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/autowallet/autowallet/parent"
)

// maxWholeDigits is the most digits an amount may have before its decimal
// point: 10^15 of any coin or token is beyond every real balance, and a
// longer number is a paste gone wrong (a phone number, an id), not a sum.
const maxWholeDigits = 15

// parseAmount reads a decimal amount typed by a user ("0.05", "25", ".5"; a
// single comma is taken as the decimal point) into the smallest unit of a
// coin with decimals decimals ("1,000" is refused as ambiguous). Every refusal wraps parent.ErrBadAmount and
// says in words what is wrong: a sign, letters, too many decimals, too many
// digits, zero.
func parseAmount(s string, decimals uint8, symbol string) (*big.Int, error) {
	s = strings.TrimSpace(s)
	if strings.Count(s, ",") == 1 && !strings.Contains(s, ".") {
		// "1,000" is one thousand to some and one to others: a comma with
		// exactly three digits after it and one to three before it (not
		// starting with 0) is refused, never guessed. "0,5", "1,5",
		// "0,500" and "1234,567" can only be decimal commas.
		if whole, frac, _ := strings.Cut(s, ","); len(frac) == 3 && len(whole) >= 1 && len(whole) <= 3 &&
			whole[0] != '0' && allDigits(whole) && allDigits(frac) {
			return nil, fmt.Errorf("%w: %q is ambiguous (a comma separates thousands in some countries and decimals in others): write %s%s or %s.%s",
				parent.ErrBadAmount, s, whole, frac, whole, frac)
		}
		s = strings.Replace(s, ",", ".", 1)
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "−") {
		return nil, fmt.Errorf("%w: the amount must be positive", parent.ErrBadAmount)
	}
	s = strings.TrimPrefix(s, "+")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return nil, fmt.Errorf("%w: it is empty; write a number like 0.05", parent.ErrBadAmount)
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("%w: %q is not a number; write it like 0.05", parent.ErrBadAmount, clip(s))
			}
		}
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > maxWholeDigits {
		return nil, fmt.Errorf("%w: that number has too many digits (%d before the decimal point, at most %d): it is far more than any balance",
			parent.ErrBadAmount, len(whole), maxWholeDigits)
	}
	if len(frac) > int(decimals) {
		return nil, fmt.Errorf("%w: %s has at most %d decimals, %q has %d", parent.ErrBadAmount, symbol, decimals, clip(s), len(frac))
	}
	v, _ := new(big.Int).SetString("0"+whole+frac+strings.Repeat("0", int(decimals)-len(frac)), 10)
	if v.Sign() == 0 {
		return nil, fmt.Errorf("%w: the amount must be more than zero", parent.ErrBadAmount)
	}
	return v, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// clip shortens what a user typed before it is quoted back.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
