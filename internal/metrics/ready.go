package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Paths of the operators' endpoints (docs/metrics.md).
const (
	PathMetrics = "/metrics"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
)

// Reasons a check gives for not being ready. A check answers one of these
// fixed words, never an error's text: an error may quote a URL with an API
// key in it or a database's connection string, and /readyz answers anyone
// who reaches the listener (the ALB's health check on the public one).
const (
	ReasonUnreachable = "unreachable" // no answer, or an error
	ReasonLocked      = "locked"      // the enclave answers but has no vault key
	ReasonTimeout     = "timeout"     // no answer within the check's time
	// ReasonKeyNotStored: the enclave is unlocked, but this parent does
	// not know that it holds the stored vault key (a first-key race lost,
	// or not yet unlocked by this parent): it must be restarted or unlocked
	// (parent.Service.VaultKeyCheck).
	ReasonKeyNotStored = "key_not_stored"
	// The database holds no usable blob of the deployment's vault key
	// (parent.ErrVaultKeyMissing, ErrVaultKeyMismatch, ErrVaultKeyChanged,
	// an empty blob): someone wrote the database. Restore
	// kms_ciphertext_blob from a backup; restarting the enclave does not
	// help (docs/kms.md).
	ReasonKeyMissing  = "key_missing"  // no blob, but wallets are stored
	ReasonKeyCorrupt  = "key_corrupt"  // the stored blob is empty
	ReasonKeyMismatch = "key_mismatch" // the key does not open the stored wallets, or is not -identity-key
	ReasonKeyChanged  = "key_changed"  // the stored blob is not the one this parent checked
)

// Check is one thing readiness needs. Run answers "" when ready, otherwise
// one of the Reason words.
type Check struct {
	Name string
	Run  func(ctx context.Context) string
}

// Report is the answer of /readyz.
type Report struct {
	Status string            `json:"status"` // ready or not ready
	Checks map[string]string `json:"checks"` // name -> ok or a reason
	// NotReady names the checks that failed, sorted.
	NotReady []string `json:"not_ready,omitempty"`
}

// Ready reports whether every check passed.
func (r Report) Ready() bool { return len(r.NotReady) == 0 }

// Readiness runs its checks at most once per ttl, all at once, each within
// timeout; callers in the meantime share the last report (the lock is held
// while checking, so a flood of /readyz costs one round of checks per ttl).
type Readiness struct {
	checks  []Check
	timeout time.Duration
	ttl     time.Duration

	mu   sync.Mutex
	at   time.Time
	last Report
}

// NewReadiness makes a Readiness (defaults: timeout 2 s, ttl 1 s).
func NewReadiness(timeout, ttl time.Duration, checks ...Check) *Readiness {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if ttl <= 0 {
		ttl = time.Second
	}
	return &Readiness{checks: checks, timeout: timeout, ttl: ttl}
}

// Check returns a report at most ttl old.
func (r *Readiness) Check() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && time.Since(r.at) < r.ttl {
		return r.last
	}
	// Not a request's context: the report is shared, so one caller hanging
	// up must not turn it into "unreachable" for everyone.
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	rep := Report{Status: "ready", Checks: make(map[string]string, len(r.checks))}
	results := make([]string, len(r.checks))
	var wg sync.WaitGroup
	for i, c := range r.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan string, 1)
			go func() { done <- c.Run(ctx) }()
			select {
			case results[i] = <-done:
			case <-ctx.Done():
				results[i] = ReasonTimeout
			}
		}()
	}
	wg.Wait()
	for i, c := range r.checks {
		if results[i] == "" {
			rep.Checks[c.Name] = "ok"
			continue
		}
		rep.Checks[c.Name] = results[i]
		rep.NotReady = append(rep.NotReady, c.Name)
	}
	sort.Strings(rep.NotReady)
	if !rep.Ready() {
		rep.Status = "not ready"
	}
	r.last, r.at = rep, time.Now()
	return rep
}

// Handler serves GET /readyz: 200 with the report when every check passes,
// 503 with the report naming what is not ready otherwise.
func (r *Readiness) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rep := r.Check()
		status := http.StatusOK
		if !rep.Ready() {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, rep)
	})
}

// HealthzHandler serves GET /healthz for liveness: 200 whenever the process
// serves HTTP at all. It checks nothing else, so a supervisor restarts the
// process only when it is wedged, not when the enclave or a node is down
// (that is /readyz).
func HealthzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WatchReadiness exports r at each scrape as autowallet_ready (1 or 0) and
// autowallet_ready_check{check} (1 or 0 per check), so an alert can fire on
// "not ready" without Prometheus reaching /readyz.
func (m *Metrics) WatchReadiness(r *Readiness) {
	if m == nil || r == nil {
		return
	}
	m.reg.MustRegister(&readyCollector{r: r,
		ready: prometheus.NewDesc(Namespace+"_ready", "1 when every readiness check passes (GET /readyz answers 200), else 0.", nil, nil),
		check: prometheus.NewDesc(Namespace+"_ready_check", "1 when this readiness check passes, else 0.", []string{"check"}, nil),
	})
}

type readyCollector struct {
	r            *Readiness
	ready, check *prometheus.Desc
}

func (c *readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.ready; ch <- c.check }

func (c *readyCollector) Collect(ch chan<- prometheus.Metric) {
	rep := c.r.Check()
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, b2f(rep.Ready()))
	for _, k := range c.r.checks {
		ch <- prometheus.MustNewConstMetric(c.check, prometheus.GaugeValue, b2f(rep.Checks[k.Name] == "ok"), k.Name)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
