package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/autowallet/autowallet/internal/metrics"
)

// The Grafana dashboard and the Prometheus alert rules (docs/metrics.md)
// may only name metrics the program exports: a metric renamed in
// internal/metrics without the deploy files following breaks these tests.

const (
	dashboardFile = "grafana/autowallet.json"
	alertsFile    = "prometheus/alerts.yml"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type dashboard struct {
	Title      string
	UID        string
	Templating struct {
		List []templateVar
	}
	Panels []panel
}

type templateVar struct {
	Name  string
	Type  string
	Query any
}

type panel struct {
	ID      int
	Type    string
	Title   string
	Targets []struct {
		RefID string
		Expr  string
	}
}

var metricName = regexp.MustCompile(`\bautowallet_[a-z0-9_]+`)

// known is the set of metric names a query may use: the program's own and
// each histogram's _bucket, _sum and _count series.
func known() map[string]bool {
	out := map[string]bool{}
	for _, n := range metrics.New(metrics.Options{}).Names() {
		out[n] = true
		if strings.HasSuffix(n, "_duration_seconds") { // the histograms
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[n+s] = true
			}
		}
	}
	return out
}

// checkExpr returns the problems of one PromQL expression: names no
// metric of the program, a name it does not export, unbalanced brackets.
func checkExpr(expr string, known map[string]bool) []string {
	var bad []string
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		bad = append(bad, "references no autowallet metric")
	}
	for _, n := range names {
		if !known[n] {
			bad = append(bad, "unknown metric "+n)
		}
	}
	depth := map[rune]int{}
	for _, r := range expr {
		switch r {
		case '(', '[', '{':
			depth[r]++
		case ')':
			depth['(']--
		case ']':
			depth['[']--
		case '}':
			depth['{']--
		}
	}
	for r, d := range depth {
		if d != 0 {
			bad = append(bad, fmt.Sprintf("unbalanced %q", r))
		}
	}
	return bad
}

func loadDashboard(t *testing.T, src string) dashboard {
	t.Helper()
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(src))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data", dashboardFile)
	}
	return d
}

func loadRules(t *testing.T, src string) ruleFile {
	t.Helper()
	var f ruleFile
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true) // a misspelt key (e.g. "annotation") is an error
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return f
}

// dashboardProblems checks the dashboard against the known metrics.
func dashboardProblems(d dashboard, known map[string]bool) []string {
	var bad []string
	if !slices.ContainsFunc(d.Templating.List, func(v templateVar) bool { return v.Name == "instance" && v.Type == "query" }) {
		bad = append(bad, "no instance template variable")
	}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			bad = append(bad, fmt.Sprintf("panel %q has no query", p.Title))
		}
		for _, tg := range p.Targets {
			for _, e := range checkExpr(tg.Expr, known) {
				bad = append(bad, fmt.Sprintf("panel %q: %s", p.Title, e))
			}
			if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				bad = append(bad, fmt.Sprintf("panel %q: query not templated by instance: %s", p.Title, tg.Expr))
			}
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				used[strings.TrimSuffix(n, "_bucket")] = true
			}
		}
	}
	for n := range known {
		if !strings.HasSuffix(n, "_bucket") && !strings.HasSuffix(n, "_sum") && !strings.HasSuffix(n, "_count") && !used[n] {
			bad = append(bad, "no panel shows "+n)
		}
	}
	slices.Sort(bad)
	return bad
}

// requiredAlerts are the conditions docs/metrics.md promises an alert for.
var requiredAlerts = []string{"AutowalletNotReady", "AutowalletTelegram429", "AutowalletApprovalFailureSpike",
	"AutowalletEnclaveErrors", "AutowalletWatcherLag", "AutowalletOutboxGrowing", "AutowalletTransfersStuckInSent",
	"AutowalletStoreSlow", "AutowalletWalletRowTampered", "AutowalletLeaseUnheld", "AutowalletSendSlotCorrupt"}

func rulesProblems(f ruleFile, known map[string]bool, doc string) []string {
	var bad []string
	seen := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || seen[r.Alert] {
				bad = append(bad, fmt.Sprintf("rule %q: empty or repeated name", r.Alert))
			}
			seen[r.Alert] = true
			for _, e := range checkExpr(r.Expr, known) {
				bad = append(bad, fmt.Sprintf("alert %s: %s", r.Alert, e))
			}
			if s := r.Labels["severity"]; s != "page" && s != "warn" {
				bad = append(bad, fmt.Sprintf("alert %s: severity %q", r.Alert, s))
			}
			if r.Annotations["summary"] == "" {
				bad = append(bad, fmt.Sprintf("alert %s: no summary", r.Alert))
			}
			anchor := "docs/metrics.md#" + strings.ToLower(r.Alert)
			if r.Annotations["runbook"] != anchor || !strings.Contains(doc, "### "+r.Alert+"\n") {
				bad = append(bad, fmt.Sprintf("alert %s: runbook %q, want %s with a '### %s' section", r.Alert, r.Annotations["runbook"], anchor, r.Alert))
			}
		}
	}
	for _, a := range requiredAlerts {
		if !seen[a] {
			bad = append(bad, "no alert "+a)
		}
	}
	return bad
}

// TestDashboardAndAlertsUseKnownMetrics: both files parse (the rules
// strictly: unknown keys are errors), every metric they name is exported by
// the program, the dashboard is templated by instance and shows every
// metric, every alert references known metrics, has a severity, a summary
// and a runbook section in docs/metrics.md, and the promised alerts exist.
func TestDashboardAndAlertsUseKnownMetrics(t *testing.T) {
	k := known()
	if bad := dashboardProblems(loadDashboard(t, read(t, dashboardFile)), k); len(bad) > 0 {
		t.Errorf("%s:\n%s", dashboardFile, strings.Join(bad, "\n"))
	}
	if bad := rulesProblems(loadRules(t, read(t, alertsFile)), k, read(t, "../docs/metrics.md")); len(bad) > 0 {
		t.Errorf("%s:\n%s", alertsFile, strings.Join(bad, "\n"))
	}
}

// TestObservabilityCheckersCatchRenames: the checks above fail when a
// metric is renamed in either file, when a metric loses its panel, when an
// alert names no metric, and when the YAML has a misspelt key.
func TestObservabilityCheckersCatchRenames(t *testing.T) {
	k := known()
	dash := read(t, dashboardFile)
	renamed := strings.Replace(dash, "autowallet_watcher_lag_blocks", "autowallet_watcher_lag", 1)
	bad := dashboardProblems(loadDashboard(t, renamed), k)
	if !slices.Contains(bad, `panel "Watcher lag (blocks behind the confirmed head)": unknown metric autowallet_watcher_lag`) ||
		!slices.Contains(bad, "no panel shows autowallet_watcher_lag_blocks") {
		t.Errorf("a renamed dashboard metric was not caught: %v", bad)
	}
	rules := read(t, alertsFile)
	doc := read(t, "../docs/metrics.md")
	bad = rulesProblems(loadRules(t, strings.ReplaceAll(rules, "autowallet_alert_outbox_depth", "autowallet_outbox_depth")), k, doc)
	if !slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, "unknown metric autowallet_outbox_depth") }) {
		t.Errorf("a renamed alert metric was not caught: %v", bad)
	}
	bad = rulesProblems(loadRules(t, strings.Replace(rules, "expr: max(autowallet_transfer_oldest_sent_seconds) > 1800", "expr: vector(1)", 1)), k, doc)
	if !slices.Contains(bad, "alert AutowalletTransfersStuckInSent: references no autowallet metric") {
		t.Errorf("an alert on no metric was not caught: %v", bad)
	}
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader([]byte(strings.Replace(rules, "annotations:", "annotation:", 1))))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err == nil {
		t.Error("a misspelt key parsed")
	}
}

// TestPromtoolChecksRulesAndPanels: Prometheus's own checker (promtool,
// Debian's prometheus package) parses the alert rules and every dashboard
// query (as recording rules, with Grafana's $__rate_interval and $instance
// filled in). Skipped where promtool is not installed; the checks above
// run everywhere.
func TestPromtoolChecksRulesAndPanels(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make tools puts it in .tools/bin); the rules' PromQL is checked by the tests above only")
	}
	if out, err := exec.Command(promtool, "check", "rules", alertsFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", alertsFile, err, out)
	}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range loadDashboard(t, read(t, dashboardFile)).Panels {
		for _, tg := range p.Targets {
			expr := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*").Replace(tg.Expr)
			q, _ := json.Marshal(expr) // a JSON string is a YAML string
			fmt.Fprintf(&b, "      - record: panel:%d\n        expr: %s\n", n, q)
			n++
		}
	}
	path := filepath.Join(t.TempDir(), "panels.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool on the dashboard's %d queries: %v\n%s", n, err, out)
	}
}
