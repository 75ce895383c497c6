// Command benchtable reads `go test -bench -benchmem` output on stdin and
// prints one table of the results and the ratios the project tracks:
//
//	go test -run '^$' -bench . -benchmem -count 1 ./... | go run ./internal/benchtable
//
// Every ratio is computed from figures of the same run. With -count > 1 a
// benchmark's figures are the median of its runs.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ratio compares two benchmarks, each named "package.Benchmark" with the
// package's last path element. A Target of 0 means the ratio is reported only.
type ratio struct {
	Num, Den string
	Target   float64
}

// ratios are the ones the project tracks (see the enclave's bench_test.go).
var ratios = []ratio{
	// Approve may cost at most 30% over the cryptography it cannot avoid.
	{Num: "enclave.BenchmarkApprove", Den: "enclave.BenchmarkApproveFloor", Target: 1.3},
	// What HTTP over loopback adds to an approval.
	{Num: "enclave.BenchmarkApproveHTTP", Den: "enclave.BenchmarkApprove"},
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
	rows := [][]string{{"package", "benchmark", "ns/op", "allocs/op"}}
	ns := map[string]float64{}
	for _, r := range results {
		allocs := "-"
		if r.hasAllocsData {
			allocs = strconv.FormatFloat(median(r.allocs), 'f', -1, 64)
		}
		ns[r.key()] = median(r.nsOp)
		rows = append(rows, []string{shortPkg(r.pkg), r.name, strconv.FormatFloat(median(r.nsOp), 'f', 0, 64), allocs})
	}
	width := make([]int, 4)
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	for _, row := range rows {
		// Names left, numbers right.
		fmt.Fprintf(out, "%-*s  %-*s  %*s  %*s\n", width[0], row[0], width[1], row[1], width[2], row[2], width[3], row[3])
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "ratios:")
	for _, q := range ratios {
		name := fmt.Sprintf("%s / %s", q.Num, q.Den)
		num, den := ns[q.Num], ns[q.Den]
		if num == 0 || den == 0 {
			fmt.Fprintf(out, "  %s: missing from this run\n", name)
			continue
		}
		x := num / den
		switch {
		case q.Target == 0:
			fmt.Fprintf(out, "  %s = %.2fx\n", name, x)
		case x <= q.Target:
			fmt.Fprintf(out, "  %s = %.2fx (target <= %.2fx) ok\n", name, x, q.Target)
		default:
			fmt.Fprintf(out, "  %s = %.2fx (target <= %.2fx) OVER TARGET\n", name, x, q.Target)
		}
	}
	return nil
}
