package bot

import (
	"encoding/json"
	"math/big"
	"os"
	"testing"
)

// TestFormatAmountVectors checks the one formatter on the vectors the Mini
// App page is checked on too.
func TestFormatAmountVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/amount_format.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Value    string `json:"value"`
			Decimals uint8  `json:"decimals"`
			Mode     string `json:"mode"`
			Want     string `json:"want"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Vectors) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	modes := map[string]rounding{"up": up, "down": down, "nearest": nearest, "exact": exact}
	for _, v := range f.Vectors {
		n, ok := new(big.Int).SetString(v.Value, 10)
		mode, okm := modes[v.Mode]
		if !ok || !okm {
			t.Fatalf("bad vector %+v", v)
		}
		if got := formatAmount(n, v.Decimals, mode); got != v.Want {
			t.Errorf("formatAmount(%s, %d, %s) = %q, want %q", v.Value, v.Decimals, v.Mode, got, v.Want)
		}
	}
}

// FuzzFormatAmount: up is never below the value, down never above, and
// exact reads back to the value.
func FuzzFormatAmount(f *testing.F) {
	f.Add(uint64(21000294000), uint8(18))
	f.Add(uint64(1), uint8(6))
	f.Add(uint64(999999999999999999), uint8(18))
	f.Fuzz(func(t *testing.T, v uint64, dec uint8) {
		dec %= 37
		n := new(big.Int).SetUint64(v)
		back := func(s string) *big.Int {
			r, ok := new(big.Rat).SetString(s)
			if !ok {
				t.Fatalf("%q does not read back", s)
			}
			r.Mul(r, new(big.Rat).SetInt(pow10(int(dec))))
			if !r.IsInt() {
				t.Fatalf("%q has more than %d decimals", s, dec)
			}
			return r.Num()
		}
		if got := back(formatAmount(n, dec, exact)); got.Cmp(n) != 0 {
			t.Fatalf("exact %d/%d read back %s", v, dec, got)
		}
		if back(formatAmount(n, dec, up)).Cmp(n) < 0 {
			t.Fatalf("up %d/%d is below the value", v, dec)
		}
		if back(formatAmount(n, dec, down)).Cmp(n) > 0 {
			t.Fatalf("down %d/%d is above the value", v, dec)
		}
		if v > 0 && formatAmount(n, dec, nearest) == "0" {
			t.Fatalf("nearest %d/%d is 0", v, dec)
		}
	})
}
