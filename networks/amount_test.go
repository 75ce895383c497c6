package networks

import (
	"math/big"
	"strings"
	"testing"
)

func TestFormatAmount(t *testing.T) {
	n := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok {
			t.Fatalf("bad number %q", s)
		}
		return v
	}
	cases := []struct {
		v   string
		dec uint8
		r   Rounding
		out string
	}{
		{"0", 18, Up, "0"},
		{"0", 6, Exact, "0"},
		{"50000000000000000", 18, Exact, "0.05"},
		{"630000000000000", 18, Up, "0.00063"},
		{"21000294000", 18, Up, "0.00000002101"},
		{"21000294000", 18, Down, "0.000000021"},
		{"21000294000", 18, Exact, "0.000000021000294"},
		{"25000021000000000000", 18, Up, "25.000021"},
		{"25000021000000000001", 18, Up, "25.000022"},
		{"25000021000000000001", 18, Down, "25.000021"},
		{"1234567891234567891234", 18, Up, "1234.567892"},
		{"1234567891234567891234", 18, Down, "1234.567891"},
		{"1234567891234567891234", 18, Exact, "1234.567891234567891234"},
		{"999999999999999999", 18, Up, "1"},
		{"999999999999999999", 18, Down, "0.999999"},
		{"1", 18, Up, "0.000000000000000001"},
		{"1", 18, Down, "0.000000000000000001"},
		{"25000000", 6, Exact, "25"},
		{"25000000", 6, Up, "25"},
		{"1", 6, Up, "0.000001"},
		{"1234567", 6, Down, "1.234567"},
		{"7", 0, Up, "7"},
		{"12345", 2, Up, "123.45"},
		{"-5", 1, Exact, "-0.5"},
	}
	for _, c := range cases {
		if got := FormatAmount(n(c.v), c.dec, c.r); got != c.out {
			t.Errorf("FormatAmount(%s, %d, %d) = %q, want %q", c.v, c.dec, c.r, got, c.out)
		}
	}
}

// Up is never below the value and Down never above, by less than one unit
// of the last place kept.
func TestFormatAmountBounds(t *testing.T) {
	for i := int64(1); i < 200000; i = i*3 + 7 {
		v := new(big.Int).Mul(big.NewInt(i), big.NewInt(1234567))
		for _, dec := range []uint8{0, 2, 6, 8, 18, 36} {
			scale := new(big.Rat).SetFrac(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dec)), nil))
			up, ok := new(big.Rat).SetString(FormatAmount(v, dec, Up))
			down, ok2 := new(big.Rat).SetString(FormatAmount(v, dec, Down))
			exact, ok3 := new(big.Rat).SetString(FormatAmount(v, dec, Exact))
			if !ok || !ok2 || !ok3 || up.Cmp(scale) < 0 || down.Cmp(scale) > 0 || exact.Cmp(scale) != 0 {
				t.Fatalf("%s/10^%d: up %v down %v exact %v", v, dec, up, down, exact)
			}
		}
	}
}

// FuzzFormatAmount: for any value and decimals, Exact reads back as the
// value, Up is at least it and Down at most it, each within one unit of
// the last place kept; the text is a plain decimal number.
func FuzzFormatAmount(f *testing.F) {
	f.Add([]byte{0x02, 0x3c, 0x34, 0x87, 0x1d, 0x0e, 0xa8}, uint8(18))
	f.Add([]byte{0x01, 0x7d, 0x78, 0x40}, uint8(6))
	f.Add([]byte{0x04, 0xe3, 0x88, 0x7b, 0x70}, uint8(18))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(0))
	f.Add([]byte{}, uint8(36))
	f.Fuzz(func(t *testing.T, raw []byte, decimals uint8) {
		if decimals > 36 || len(raw) > 40 {
			return
		}
		v := new(big.Int).SetBytes(raw)
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
		x := new(big.Rat).SetFrac(v, scale)
		for _, r := range []Rounding{Exact, Up, Down} {
			s := FormatAmount(v, decimals, r)
			if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || (strings.Contains(s, ".") && strings.HasSuffix(s, "0")) {
				t.Fatalf("%s/10^%d: %q", v, decimals, s)
			}
			got, ok := new(big.Rat).SetString(s)
			if !ok {
				t.Fatalf("%q is not a number", s)
			}
			switch c := got.Cmp(x); {
			case r == Exact && c != 0, r == Up && c < 0, r == Down && c > 0:
				t.Fatalf("%s/10^%d rounded %d: %q", v, decimals, r, s)
			}
			// Within one unit of the last place kept, and that place keeps
			// at least four significant digits (or all the decimals).
			diff := new(big.Rat).Abs(new(big.Rat).Sub(got, x))
			if v.Sign() > 0 && diff.Cmp(new(big.Rat).Quo(x, big.NewRat(1000, 1))) > 0 {
				t.Fatalf("%s/10^%d rounded %d: %q is more than 0.1%% off", v, decimals, r, s)
			}
		}
	})
}
