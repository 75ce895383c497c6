// Package metrics is what an operator watches of autowallet: one Prometheus
// registry per process, owned here with every metric the program exports
// (docs/metrics.md), passed to the parts that count (the bot, the enclave
// client, the chain client, the service, the watchers, the store). Nothing
// is registered on the client library's global default registry.
//
// Labels are bounded by construction: a label value is a Bot API method, an
// update kind, an enclave endpoint, a JSON-RPC method, a configured network
// name, a transfer state, a store method or a stable error code, each from a
// fixed list the program knows (anything else is counted as "other"). No
// label ever carries a user id, chat id, address, amount, token or text a
// user typed, so a chat cannot create series or learn anything from a
// scrape (cmd/autowallet.TestMetricsCountRealWork, TestLabelsBounded).
//
// A nil *Metrics is valid and counts nothing: tests and tools that do not
// watch pass nil.
package metrics

import (
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of the program.
const Namespace = "autowallet"

// Other is the label value of anything outside a label's known list.
const Other = "other"

// Metrics holds the registry and the metric definitions.
type Metrics struct {
	reg *prometheus.Registry

	updates      *prometheus.CounterVec
	replies      *prometheus.CounterVec
	botErrors    *prometheus.CounterVec
	bot429       *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	bgPanics     *prometheus.CounterVec
	hookResets   *prometheus.CounterVec
	approvals    *prometheus.CounterVec
	enclaveTime  *prometheus.HistogramVec
	enclaveErrs  *prometheus.CounterVec
	rpcTime      *prometheus.HistogramVec
	rpcErrs      *prometheus.CounterVec
	transitions  *prometheus.CounterVec
	watcherLag   *prometheus.GaugeVec
	storeTime    *prometheus.HistogramVec
	storeErrs    *prometheus.CounterVec
	walletRows   *prometheus.CounterVec
	leaseHeld    *prometheus.GaugeVec
	slotCorrupt  *prometheus.CounterVec
	networkNames map[string]bool
	names        []string
}

// Options of New.
type Options struct {
	// Networks are the configured network names: the only values of the
	// network label (anything else counts as "other").
	Networks []string
	// Version is the program's version for autowallet_build_info (default:
	// the main module's version from the build info).
	Version string
}

// New makes a registry with the program's metrics, the Go runtime's and the
// process's.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), networkNames: map[string]bool{}}
	for _, n := range o.Networks {
		m.networkNames[n] = true
	}
	f := factory{m}
	m.updates = f.counter("telegram_updates_total", "Telegram updates received, by kind.", "kind")
	m.replies = f.counter("telegram_replies_total", "Bot API calls that succeeded (messages sent, edited, callbacks answered), by kind (the Bot API method).", "kind")
	m.botErrors = f.counter("telegram_api_errors_total", "Bot API calls that failed (a 429 included), by method.", "method")
	m.bot429 = f.counter("telegram_api_429_total", "Bot API answers 429 Too Many Requests, by method.", "method")
	m.dropped = f.counter("telegram_updates_dropped_total", "Updates given up without a complete handling, by reason: panic (a handler panicked) or deadline (the handling outlived its deadline and was cancelled). Each is acknowledged, never retried.", "reason")
	m.bgPanics = f.counter("background_panics_total", "Panics recovered in background work (card edits, wallet refreshes, pruning, the tracker, alert delivery), by worker; the one item is dropped and the worker goes on.", "worker")
	m.hookResets = f.counter("telegram_webhook_resets_total", "Times this parent found the bot's webhook changed or deleted (getWebhookInfo) and set it again.")
	m.approvals = f.counter("approvals_total", "Mini App approvals, by outcome: ok or the stable error code of the refusal.", "outcome")
	m.enclaveTime = f.histogram("enclave_request_duration_seconds", "Time of a call to the enclave's HTTP API, by endpoint.", latencyBuckets, "endpoint")
	m.enclaveErrs = f.counter("enclave_errors_total", "Calls to the enclave that did not reach it or got an internal error (not refusals), by endpoint.", "endpoint")
	m.rpcTime = f.histogram("rpc_request_duration_seconds", "Time of a JSON-RPC call to a network's node, by network and method.", latencyBuckets, "network", "method")
	m.rpcErrs = f.counter("rpc_errors_total", "JSON-RPC calls that failed (node unavailable or rejected; not found is not an error), by network and method.", "network", "method")
	m.transitions = f.counter("transfer_transitions_total", "Transfers created (to=built) and stored state changes, by the state reached.", "to")
	m.watcherLag = f.gauge("watcher_lag_blocks", "Blocks between a network's head and the incoming-funds watcher's cursor (head - cursor).", "network")
	m.storeTime = f.histogram("store_operation_duration_seconds", "Time of a storage.Store method, by method.", storeBuckets, "op")
	m.storeErrs = f.counter("store_errors_total", "storage.Store methods that failed (not found is not an error), by method.", "op")
	m.walletRows = f.counter("wallet_rows_tampered_total", "Wallet rows read whose owner or address disagrees with their sealed record's header (storage.ErrWalletTampered): a write to the database past the program. The wallet is not shown and deposits to the row's address are not announced.")
	m.leaseHeld = f.gauge("lease_held", "1 while this parent holds the lease on a piece of background work (parent/lease), else 0, by lease name. Summed over the parents, 0 means nobody runs that work.", "name")
	m.slotCorrupt = f.counter("send_slot_corrupt_total", "Send-slot waits the store asked for beyond what Telegram's limits can produce (a far-future tat row or a database clock jump); the message went by this parent's own limiters instead.")
	// The unlabelled counters exist at 0 from the start, so an alert on
	// their increase sees the first one.
	m.walletRows.WithLabelValues()
	m.slotCorrupt.WithLabelValues()

	version, revision := buildVersion(o.Version)
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion()},
	})
	bi.Set(1)
	m.names = append(m.names, Namespace+"_build_info")
	m.reg.MustRegister(bi,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Total is the sum of every series of the counter or gauge family name
// (false when the registry has no such family, or it has no series yet):
// what the tests read back, without each writing its own walk of Gather.
func (m *Metrics) Total(name string) (float64, bool) {
	fams, err := m.reg.Gather()
	if err != nil {
		return 0, false
	}
	for _, f := range fams {
		if f.GetName() != name || len(f.GetMetric()) == 0 {
			continue
		}
		var sum float64
		for _, s := range f.GetMetric() {
			sum += s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
		return sum, true
	}
	return 0, false
}

// Handler serves the registry in Prometheus's exposition formats (GET
// /metrics). Errors of a collector are served as a 500 rather than hidden.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.HTTPErrorOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Network is the network label of a configured network name, "other" for
// any name not configured.
func (m *Metrics) network(name string) string {
	if m.networkNames[name] {
		return name
	}
	return Other
}

// Seconds in which calls over loopback, vsock and the Internet fall.
var (
	latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	storeBuckets   = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}
)

// Names are the names of the program's own metrics (autowallet_*): those
// New registers, and those of WatchStore and WatchReadiness, which every
// parent registers. The deploy files' test checks the dashboard and the
// alert rules against them, so a rename breaks it.
func (m *Metrics) Names() []string {
	return append(slices.Clone(m.names), storeNames...)
}

// Names of the collectors of WatchStore and WatchReadiness.
var storeNames = []string{Namespace + "_transfers", Namespace + "_transfer_oldest_sent_seconds",
	Namespace + "_alert_outbox_depth", Namespace + "_ready", Namespace + "_ready_check"}

type factory struct{ m *Metrics }

func (f factory) register(name string, c prometheus.Collector) {
	f.m.reg.MustRegister(c)
	f.m.names = append(f.m.names, Namespace+"_"+name)
}

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.register(name, v)
	return v
}

func (f factory) gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.register(name, v)
	return v
}

func (f factory) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.register(name, v)
	return v
}

func buildVersion(version string) (string, string) {
	revision := "unknown"
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if version == "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	if version == "" {
		version = "unknown"
	}
	return version, revision
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}
