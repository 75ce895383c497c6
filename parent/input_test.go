package parent

import (
	"errors"
	"math/big"
	"testing"
)

func TestParseAddress(t *testing.T) {
	const checksummed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" // EIP-55's own example
	ok := []string{
		checksummed,
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
		"0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",
		"  " + checksummed + "\n",
	}
	for _, s := range ok {
		a, err := ParseAddress(s)
		if err != nil || a.Hex() != checksummed {
			t.Errorf("ParseAddress(%q) = %s, %v", s, a.Hex(), err)
		}
	}
	bad := []string{
		"",
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",     // no 0x
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",   // checksum broken by one letter's case
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA",     // short
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00", // long
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",   // not hex
		"0x0000000000000000000000000000000000000000",   // burns funds
		"vitalik.eth",
	}
	for _, s := range bad {
		if _, err := ParseAddress(s); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddress(%q) = %v, want ErrBadAddress", s, err)
		}
	}
}

func TestParseETH(t *testing.T) {
	ok := map[string]string{
		"1":                    "1000000000000000000",
		"0.05":                 "50000000000000000",
		".5":                   "500000000000000000",
		"0,05":                 "50000000000000000",
		"1.":                   "1000000000000000000",
		"0.000000000000000001": "1",
		" 2.5 ":                "2500000000000000000",
	}
	for in, want := range ok {
		got, err := ParseETH(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseETH(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "0", "0.0", "-1", "+1", "1e18", "1.2.3", "1,2,3", "0x10", "one", "0.0000000000000000001", "1 000", "NaN", "99999999999999999999999999999999"} {
		if v, err := ParseETH(in); !errors.Is(err, ErrBadAmount) {
			t.Errorf("ParseETH(%q) = %v, %v; want ErrBadAmount", in, v, err)
		}
	}
}

func TestFormatETH(t *testing.T) {
	cases := []struct {
		wei      string
		decimals int
		want     string
	}{
		{"0", 6, "0"},
		{"1000000000000000000", 6, "1"},
		{"50000000000000000", 6, "0.05"},
		{"21000000000000", 6, "0.000021"},
		{"21000000000000", 4, "0"},
		{"1234567890123456789", 4, "1.2345"},
		{"1", 18, "0.000000000000000001"},
		{"-50000000000000000", 6, "-0.05"},
	}
	for _, c := range cases {
		v, _ := new(big.Int).SetString(c.wei, 10)
		if got := FormatETH(v, c.decimals); got != c.want {
			t.Errorf("FormatETH(%s, %d) = %q, want %q", c.wei, c.decimals, got, c.want)
		}
	}
	// Round trip: what FormatETH writes with 18 decimals, ParseETH reads back.
	for _, w := range []string{"1", "50000000000000000", "1234567890123456789"} {
		v, _ := new(big.Int).SetString(w, 10)
		back, err := ParseETH(FormatETH(v, 18))
		if err != nil || back.Cmp(v) != 0 {
			t.Errorf("round trip of %s = %v, %v", w, back, err)
		}
	}
}

func FuzzParseETH(f *testing.F) {
	for _, s := range []string{"0.05", "1", ".5", "1e5", "0,1", "-1", "0.000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseETH(s)
		if err != nil {
			if !errors.Is(err, ErrBadAmount) {
				t.Fatalf("ParseETH(%q) error %v does not wrap ErrBadAmount", s, err)
			}
			return
		}
		if v.Sign() <= 0 {
			t.Fatalf("ParseETH(%q) = %s, not positive", s, v)
		}
		back, err := ParseETH(FormatETH(v, 18))
		if err != nil || back.Cmp(v) != 0 {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}
