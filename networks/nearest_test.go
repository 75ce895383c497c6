package networks

import (
	"math/big"
	"testing"
)

// TestFormatAmountNearest: Nearest keeps the places of the one rule and
// rounds half up; it is never below Down nor above Up.
func TestFormatAmountNearest(t *testing.T) {
	for _, c := range []struct {
		v    string
		dec  uint8
		want string
	}{
		{"21000294000", 18, "0.000000021"},
		{"21005000000", 18, "0.00000002101"},
		{"21004999999", 18, "0.000000021"},
		{"999999999999999999", 18, "1"},
		{"999999499999999999", 18, "0.999999"},
		{"1234567894999999999999", 18, "1234.567895"},
		{"1234567894499999999999", 18, "1234.567894"},
		{"500000000000", 18, "0.0000005"},
		{"1", 18, "0.000000000000000001"},
		{"25000000", 6, "25"},
		{"7", 0, "7"},
	} {
		v, _ := new(big.Int).SetString(c.v, 10)
		got := FormatAmount(v, c.dec, Nearest)
		if got != c.want {
			t.Errorf("FormatAmount(%s, %d, Nearest) = %q, want %q", c.v, c.dec, got, c.want)
		}
		r := func(s string) *big.Rat { x, _ := new(big.Rat).SetString(s); return x }
		if r(got).Cmp(r(FormatAmount(v, c.dec, Down))) < 0 || r(got).Cmp(r(FormatAmount(v, c.dec, Up))) > 0 {
			t.Errorf("Nearest %s outside [Down, Up]", got)
		}
	}
}
