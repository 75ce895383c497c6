package main

import (
	"strings"
	"testing"
)

// TestTargets: an absolute target is checked on the median of its metric,
// either way, and a benchmark absent from the run says so.
func TestTargets(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{sampleMetrics, "parent.BenchmarkCreateWalletHTTPParallel wallets/s = 1400 (target >= 2500) MISSED"},
		{strings.ReplaceAll(sampleMetrics, "1400 wallets/s", "2600 wallets/s"), "parent.BenchmarkCreateWalletHTTPParallel wallets/s = 1500 (target >= 2500) MISSED"},
		{strings.ReplaceAll(strings.ReplaceAll(sampleMetrics, "1400 wallets/s", "2600 wallets/s"), "1500 wallets/s", "2700 wallets/s"), "parent.BenchmarkCreateWalletHTTPParallel wallets/s = 2600 (target >= 2500) ok"},
		{sampleMetrics, "bolt.BenchmarkMillionWallets B/wallet = 160.2 (target <= 400.0) ok"},
		{strings.Replace(sampleMetrics, "160.2 B/wallet", "527.0 B/wallet", 1), "bolt.BenchmarkMillionWallets B/wallet = 527.0 (target <= 400.0) MISSED"},
		{sample, "parent.BenchmarkCreateWalletHTTPParallel wallets/s: missing from this run"},
	} {
		var out strings.Builder
		if err := run(strings.NewReader(c.in), &out, ratios); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "targets:\n") || !strings.Contains(out.String(), "  "+c.want+"\n") {
			t.Errorf("the output lacks %q:\n%s", c.want, out.String())
		}
	}
}
