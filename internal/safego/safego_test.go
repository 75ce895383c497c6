package safego_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/safego"
)

// TestCallRecovers: a panic in fn is recovered, counted under its worker
// and logged with where it happened, never with the panic's value; fn that
// returns is not counted.
func TestCallRecovers(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := metrics.New(metrics.Options{})
	const secret = "initData-hash-0123456789abcdef"
	if safego.Call(log, m, "card_queue", func() {}) {
		t.Fatal("a return counted as a panic")
	}
	if !safego.Call(log, m, "card_queue", func() { panic(secret) }) {
		t.Fatal("the panic was not reported")
	}
	if !safego.Call(log, m, "not-a-worker", func() { var m map[string]int; m["x"] = 1 }) {
		t.Fatal("a runtime panic was not reported")
	}
	if safego.Call(nil, nil, "prune", func() { panic("no log, no metrics") }) != true {
		t.Fatal("nil log and metrics")
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Fatalf("the panic's value is in the log: %s", out)
	}
	if !strings.Contains(out, "worker=card_queue") || !strings.Contains(out, "safego_test.go:") {
		t.Fatalf("the log does not say the worker and where: %s", out)
	}
	mf, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range mf {
		if f.GetName() != "autowallet_background_panics_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			got[s.GetLabel()[0].GetValue()] = s.GetCounter().GetValue()
		}
	}
	if got["card_queue"] != 1 || got["other"] != 1 || len(got) != 2 {
		t.Fatalf("counted %v, want card_queue 1 and other 1 (an unknown worker name is no label)", got)
	}
}

// TestRecoverCountsAndSaysWhere: Recover counts a panic under its worker
// and returns where it happened (never the panic's value), writes no log
// line of its own, and reports nothing for fn that returns.
func TestRecoverCountsAndSaysWhere(t *testing.T) {
	m := metrics.New(metrics.Options{})
	const secret = "bot-token-123456:ABCDEF"
	if site, panicked := safego.Recover(m, "tracker", func() {}); panicked || site != "" {
		t.Fatalf("a return: %q %v", site, panicked)
	}
	site, panicked := safego.Recover(m, "tracker", func() { panic(secret) })
	if !panicked || !strings.Contains(site, "safego_test.go:") || strings.Contains(site, secret) {
		t.Fatalf("a panic: %q %v", site, panicked)
	}
	mf, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range mf {
		if f.GetName() == "autowallet_background_panics_total" {
			for _, s := range f.GetMetric() {
				if s.GetLabel()[0].GetValue() == "tracker" {
					n += s.GetCounter().GetValue()
				}
			}
		}
	}
	if n != 1 {
		t.Fatalf("counted %v tracker panics, want 1", n)
	}
}
