package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/autowallet/autowallet/enclave
cpu: AMD EPYC
BenchmarkApprove-2        	    9068	    150000 ns/op	    4659 B/op	      92 allocs/op
BenchmarkApproveHTTP-2    	    4129	    300000 ns/op	   17891 B/op	     205 allocs/op
BenchmarkApproveFloor-2   	   10249	    100000 ns/op	    1264 B/op	      33 allocs/op
PASS
ok  	github.com/autowallet/autowallet/enclave	5.036s
pkg: github.com/autowallet/autowallet/protocol
BenchmarkDecodeStartParam-2   	 1174161	      1001 ns/op	     344 B/op	       8 allocs/op
BenchmarkDecodeStartParam-2   	 1174161	      1003 ns/op	     344 B/op	       8 allocs/op
BenchmarkDecodeStartParam-2   	 1174161	      2000 ns/op	     344 B/op	       8 allocs/op
BenchmarkNoMem	 100	 50.5 ns/op
ok  	github.com/autowallet/autowallet/protocol	2.357s
`

func TestTable(t *testing.T) {
	var out strings.Builder
	if err := run(strings.NewReader(sample), &out, ratios); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	rows := map[string]bool{}
	for line := range strings.Lines(got) {
		rows[strings.Join(strings.Fields(line), " ")] = true
	}
	for _, want := range []string{
		"package benchmark ns/op allocs/op metrics",
		"enclave BenchmarkApprove 150000 92",
		"enclave BenchmarkApproveHTTP 300000 205",
		"protocol BenchmarkDecodeStartParam 1003 8", // the median of three runs
		"protocol BenchmarkNoMem 50 -",
	} {
		if !rows[want] {
			t.Errorf("no row %q in:\n%s", want, got)
		}
	}
	for _, want := range []string{
		"enclave.BenchmarkApprove / enclave.BenchmarkApproveFloor = 1.50x (target <= 1.30x) OVER TARGET",
		"enclave.BenchmarkApproveHTTP / enclave.BenchmarkApprove = 2.00x\n",
		"enclave.BenchmarkApproveHTTP / enclave.BenchmarkApproveFloor = 3.00x (target <= 1.60x) OVER TARGET",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q:\n%s", want, got)
		}
	}
}

func TestRatioWithinTargetAndMissing(t *testing.T) {
	var out strings.Builder
	in := strings.Replace(sample, "150000 ns/op", "120000 ns/op", 1)
	rs := append(ratios, ratio{Num: "enclave.BenchmarkNope", Den: "enclave.BenchmarkApprove", Target: 2})
	if err := run(strings.NewReader(in), &out, rs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"= 1.20x (target <= 1.30x) ok", "enclave.BenchmarkNope / enclave.BenchmarkApprove: missing from this run"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNoInput(t *testing.T) {
	if err := run(strings.NewReader("PASS\n"), &strings.Builder{}, ratios); err == nil {
		t.Fatal("an empty run gave a table")
	}
}

const sampleMetrics = `pkg: github.com/autowallet/autowallet/parent
BenchmarkCreateWalletHTTP-2           	     500	   2000000 ns/op	       500.0 wallets/s	   10000 B/op	     100 allocs/op
BenchmarkCreateWalletHTTPParallel-2   	    1000	   1000000 ns/op	      1000 wallets/s	   10000 B/op	     100 allocs/op
BenchmarkCreateWalletHTTPParallel-2   	    1000	   1000000 ns/op	      1500 wallets/s	   10000 B/op	     100 allocs/op
BenchmarkCreateWalletHTTPParallel-2   	    1000	   1000000 ns/op	      1400 wallets/s	   10000 B/op	     100 allocs/op
pkg: github.com/autowallet/autowallet/bot
BenchmarkReplyStart-2   	     100	   4000000 ns/op	         3.512 p50-ms	        12.25 p99-ms
pkg: github.com/autowallet/autowallet/storage/bolt
BenchmarkMillionWallets-2   	       1	80000000000 ns/op	       160.2 B/wallet	        75.00 fill-s	         3.100 lookup-p99-us
`

// TestCustomMetrics: b.ReportMetric figures are printed (the median with
// -count > 1) and ratios can compare them.
func TestCustomMetrics(t *testing.T) {
	var out strings.Builder
	if err := run(strings.NewReader(sampleMetrics), &out, ratios); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	rows := map[string]bool{}
	for line := range strings.Lines(got) {
		rows[strings.Join(strings.Fields(line), " ")] = true
	}
	for _, want := range []string{
		"parent BenchmarkCreateWalletHTTP 2000000 100 wallets/s=500.0",
		"parent BenchmarkCreateWalletHTTPParallel 1000000 100 wallets/s=1400",
		"bot BenchmarkReplyStart 4000000 - p50-ms=3.512 p99-ms=12.25",
		"bolt BenchmarkMillionWallets 80000000000 - B/wallet=160.2 fill-s=75.00 lookup-p99-us=3.100",
		"parent.BenchmarkCreateWalletHTTPParallel / parent.BenchmarkCreateWalletHTTP (wallets/s) = 2.80x",
		"parent.BenchmarkCreateWalletHTTP / parent.BenchmarkCreateWalletInProcess: missing from this run",
	} {
		if !rows[want] {
			t.Errorf("no line %q in:\n%s", want, got)
		}
	}
}

// TestRatioOfRounds: two benchmarks that ran in the same rounds are
// compared round by round (the median of each round's ratio), so a slow
// round slows both figures and cancels; the ratio of the medians would
// say otherwise here (400/200 = 2.00x).
func TestRatioOfRounds(t *testing.T) {
	const rounds = `pkg: github.com/autowallet/autowallet/enclave
BenchmarkApproveHTTP-2    	 1	 300 ns/op
BenchmarkApproveFloor-2   	 1	 200 ns/op
BenchmarkApproveHTTP-2    	 1	 400 ns/op
BenchmarkApproveFloor-2   	 1	 300 ns/op
BenchmarkApproveHTTP-2    	 1	 600 ns/op
BenchmarkApproveFloor-2   	 1	 400 ns/op
BenchmarkApprove-2        	 1	 250 ns/op
`
	var out strings.Builder
	if err := run(strings.NewReader(rounds), &out, ratios); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// 300/200, 400/300, 600/400: 1.50x, 1.33x, 1.50x.
		"enclave.BenchmarkApproveHTTP / enclave.BenchmarkApproveFloor [median of 3 rounds] = 1.50x (target <= 1.60x) ok",
		// One run of Approve against three of the floor: medians, 250/300.
		"enclave.BenchmarkApprove / enclave.BenchmarkApproveFloor = 0.83x (target <= 1.30x) ok",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
}
