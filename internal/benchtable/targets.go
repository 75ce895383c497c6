package main

import (
	"fmt"
	"io"
)

// target bounds one benchmark's figure on its own (not a ratio): issue 11's
// numbers. Bench is "package.Benchmark" as in ratio; Unit is ns/op or a
// custom metric; Min and Max are the bounds (0: none).
type target struct {
	Bench, Unit string
	Min, Max    float64
}

// targets are the absolute figures the project tracks (docs/performance.md).
var targets = []target{
	// Durable wallet creations through the parent with 64 concurrent users
	// (the store's group commit, storage/bolt/batch.go).
	{Bench: "parent.BenchmarkCreateWalletHTTPParallel", Unit: "wallets/s", Min: 2500},
	// The bbolt file with 1,000,000 wallets.
	{Bench: "bolt.BenchmarkMillionWallets", Unit: "B/wallet", Max: 400},
}

// printTargets checks each target against the run's figures.
func printTargets(out io.Writer, byKey map[string]*result, targets []target) {
	if len(targets) == 0 {
		return
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "targets:")
	for _, t := range targets {
		name := t.Bench + " " + t.Unit
		r := byKey[t.Bench]
		if r == nil || (t.Unit != "ns/op" && r.metrics[t.Unit] == nil) {
			fmt.Fprintf(out, "  %s: missing from this run\n", name)
			continue
		}
		v := r.metric(t.Unit)
		var bound string
		ok := true
		switch {
		case t.Min != 0:
			bound, ok = ">= "+formatMetric(t.Min), v >= t.Min
		case t.Max != 0:
			bound, ok = "<= "+formatMetric(t.Max), v <= t.Max
		}
		verdict := "ok"
		if !ok {
			verdict = "MISSED"
		}
		fmt.Fprintf(out, "  %s = %s (target %s) %s\n", name, formatMetric(v), bound, verdict)
	}
}
