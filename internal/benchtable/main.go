// Command benchtable reads `go test -bench -benchmem` output on stdin and
// prints one table of the results and the ratios the project tracks:
//
//	go test -run '^$' -bench . -benchmem -count 1 ./... | go run ./internal/benchtable
//
// Every ratio is computed from figures of the same run. With -count > 1 a
// benchmark's figures are the median of its runs; a ratio of two
// benchmarks that ran the same number of times is the median of the runs'
// own ratios (ratioOf). Custom metrics reported
// with b.ReportMetric (wallets/s, p50-ms, p99-ms, B/wallet, ...) are printed
// in the last column, and ratios may compare them too.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ratio compares two benchmarks, each named "package.Benchmark" with the
// package's last path element, on Unit (default ns/op; or a custom metric
// such as wallets/s). A Target of 0 means the ratio is reported only.
type ratio struct {
	Num, Den string
	Unit     string
	Target   float64
}

// ratios are the ones the project tracks (see the enclave's bench_test.go).
var ratios = []ratio{
	// Approve may cost at most 30% over the cryptography it cannot avoid.
	{Num: "enclave.BenchmarkApprove", Den: "enclave.BenchmarkApproveFloor", Target: 1.3},
	// What HTTP over loopback adds to an approval.
	{Num: "enclave.BenchmarkApproveHTTP", Den: "enclave.BenchmarkApprove"},
	// Issue 11: an approval through the enclave's HTTP API at most 1.6x its
	// crypto floor (docs/performance.md, "Where an approval's time goes").
	{Num: "enclave.BenchmarkApproveHTTP", Den: "enclave.BenchmarkApproveFloor", Target: 1.6},
	// The same in CPU time per op (the process's: server, client and GC),
	// which the neighbours' load on a shared machine moves much less than
	// wall time; and with the leanest HTTP/1.1 client instead of the
	// parent's (parent.EnclaveClient), which shows the caller's share.
	{Num: "enclave.BenchmarkApproveHTTP", Den: "enclave.BenchmarkApproveFloor", Unit: "cpu-ns/op"},
	{Num: "enclave.BenchmarkApproveHTTPRawClient", Den: "enclave.BenchmarkApproveFloor"},
	{Num: "enclave.BenchmarkApproveHTTPRawClient", Den: "enclave.BenchmarkApproveFloor", Unit: "cpu-ns/op"},
	// What the enclave's key generation and sealing add to the fsynced insert.
	{Num: "parent.BenchmarkCreateWalletInProcess", Den: "bolt.BenchmarkCreateWallet"},
	// What HTTP over loopback adds to a wallet creation.
	{Num: "parent.BenchmarkCreateWalletHTTP", Den: "parent.BenchmarkCreateWalletInProcess"},
	// Wallets/s gained by 64 concurrent users (they share fsyncs: storage/bolt/batch.go).
	{Num: "parent.BenchmarkCreateWalletHTTPParallel", Den: "parent.BenchmarkCreateWalletHTTP", Unit: "wallets/s"},
	// What the bot and the Bot API round trips add to the service's work.
	{Num: "bot.BenchmarkReplyCreateWallet", Den: "parent.BenchmarkCreateWalletHTTP"},
	// Issue 11: the two engines side by side (storage/postgres beside
	// storage/bolt): durable creations one at a time and with concurrent users,
	// and bytes per wallet on disk at 1,000,000 wallets.
	{Num: "postgres.BenchmarkCreateWallet", Den: "bolt.BenchmarkCreateWallet"},
	{Num: "postgres.BenchmarkCreateWalletParallel", Den: "bolt.BenchmarkCreateWalletParallel"},
	{Num: "postgres.BenchmarkMillionWallets", Den: "bolt.BenchmarkMillionWallets", Unit: "B/wallet"},
}

func main() {
	if err := run(os.Stdin, os.Stdout, ratios); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

type result struct {
	pkg, name     string
	nsOp, allocs  []float64
	hasAllocsData bool
	metrics       map[string][]float64 // custom units, by unit
	units         []string             // custom units in the order first seen
}

// samples are the figures of unit (ns/op or a custom one), one a run, in
// the order the runs came.
func (r *result) samples(unit string) []float64 {
	if unit == "" || unit == "ns/op" {
		return r.nsOp
	}
	return r.metrics[unit]
}

// metric is the median of unit (ns/op or a custom one); 0 when absent.
func (r *result) metric(unit string) float64 {
	if unit == "" || unit == "ns/op" {
		return median(r.nsOp)
	}
	return median(r.metrics[unit])
}

func (r *result) key() string { return shortPkg(r.pkg) + "." + r.name }

// benchLine matches "BenchmarkX-8  1000  1234 ns/op ..." (the -N suffix is
// GOMAXPROCS, left out of the name).
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func parse(r io.Reader) ([]*result, error) {
	var (
		pkg     string
		order   []*result
		byKey   = map[string]*result{}
		scanner = bufio.NewScanner(r)
	)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		res := byKey[pkg+" "+m[1]]
		if res == nil {
			res = &result{pkg: pkg, name: m[1]}
			byKey[pkg+" "+m[1]] = res
			order = append(order, res)
		}
		// The rest is pairs of "value unit".
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", line, err)
			}
			switch f[i+1] {
			case "ns/op":
				res.nsOp = append(res.nsOp, v)
			case "allocs/op":
				res.allocs = append(res.allocs, v)
				res.hasAllocsData = true
			case "B/op", "MB/s":
			default:
				if res.metrics == nil {
					res.metrics = map[string][]float64{}
				}
				if _, seen := res.metrics[f[i+1]]; !seen {
					res.units = append(res.units, f[i+1])
				}
				res.metrics[f[i+1]] = append(res.metrics[f[i+1]], v)
			}
		}
	}
	return order, scanner.Err()
}

func shortPkg(pkg string) string { return pkg[strings.LastIndex(pkg, "/")+1:] }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func run(in io.Reader, out io.Writer, ratios []ratio) error {
	results, err := parse(in)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("no benchmark results on stdin")
	}
	rows := [][]string{{"package", "benchmark", "ns/op", "allocs/op", "metrics"}}
	byKey := map[string]*result{}
	for _, r := range results {
		allocs := "-"
		if r.hasAllocsData {
			allocs = strconv.FormatFloat(median(r.allocs), 'f', -1, 64)
		}
		byKey[r.key()] = r
		var metrics []string
		for _, u := range r.units {
			metrics = append(metrics, u+"="+formatMetric(median(r.metrics[u])))
		}
		rows = append(rows, []string{shortPkg(r.pkg), r.name, strconv.FormatFloat(median(r.nsOp), 'f', 0, 64), allocs, strings.Join(metrics, " ")})
	}
	width := make([]int, 5)
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	for _, row := range rows {
		// Names left, numbers right, metrics last.
		line := fmt.Sprintf("%-*s  %-*s  %*s  %*s  %s", width[0], row[0], width[1], row[1], width[2], row[2], width[3], row[3], row[4])
		fmt.Fprintln(out, strings.TrimRight(line, " "))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "ratios:")
	for _, q := range ratios {
		name := fmt.Sprintf("%s / %s", q.Num, q.Den)
		if q.Unit != "" && q.Unit != "ns/op" {
			name += " (" + q.Unit + ")"
		}
		x, rounds := ratioOf(byKey[q.Num], byKey[q.Den], q.Unit)
		if x == 0 {
			fmt.Fprintf(out, "  %s: missing from this run\n", name)
			continue
		}
		if rounds > 1 {
			name += fmt.Sprintf(" [median of %d rounds]", rounds)
		}
		switch {
		case q.Target == 0:
			fmt.Fprintf(out, "  %s = %.2fx\n", name, x)
		case x <= q.Target:
			fmt.Fprintf(out, "  %s = %.2fx (target <= %.2fx) ok\n", name, x, q.Target)
		default:
			fmt.Fprintf(out, "  %s = %.2fx (target <= %.2fx) OVER TARGET\n", name, x, q.Target)
		}
	}
	printTargets(out, byKey, targets) // targets.go
	return nil
}

// ratioOf is num's figure over den's (0 when either is missing). When both
// ran the same number of times, more than once, in rounds (make bench runs
// the approval's benchmarks again, alternating: each round runs every one
// of them once, one after the other), the ratio is the median of each
// round's own ratio, so that a neighbour's load that slows one round
// slows both of its figures and cancels out; rounds reports how many.
// Otherwise it is the ratio of the medians.
func ratioOf(num, den *result, unit string) (x float64, rounds int) {
	if num == nil || den == nil {
		return 0, 0
	}
	n, d := num.samples(unit), den.samples(unit)
	if len(n) > 1 && len(n) == len(d) {
		per := make([]float64, 0, len(n))
		for i := range n {
			if n[i] == 0 || d[i] == 0 {
				return 0, 0
			}
			per = append(per, n[i]/d[i])
		}
		return median(per), len(per)
	}
	a, b := median(n), median(d)
	if a == 0 || b == 0 {
		return 0, 0
	}
	return a / b, 1
}

// formatMetric shows about four significant digits without an exponent.
func formatMetric(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000 || a == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}
