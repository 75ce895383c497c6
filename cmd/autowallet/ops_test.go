package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/protocol"
)

// freeLoopback is a loopback address with a port free a moment ago.
func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape is one GET /metrics, parsed by Prometheus's own text parser; it
// also returns the raw text (for the leak checks).
type scrape struct {
	fams map[string]*dto.MetricFamily
	text string
}

func getScrape(t *testing.T, base string) scrape {
	t.Helper()
	resp, err := http.Get(base + metrics.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	return scrape{fams: fams, text: string(b)}
}

// value is a series' value: a counter's or gauge's value, a histogram's
// count. labels are k, v pairs the series must have (others are ignored);
// a series that does not exist is 0.
func (s scrape) value(name string, labels ...string) float64 {
	f := s.fams[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// series is how many series a family has.
func (s scrape) series(name string) int {
	if f := s.fams[name]; f != nil {
		return len(f.Metric)
	}
	return 0
}

// TestMetricsCountRealWork: a real `autowallet parent` (with its bot, the
// enclave program and geth) serves /metrics on its admin listener; after a
// wallet is created through the bot, an approval is refused by the enclave,
// a transfer is approved and confirmed, Telegram answers a 429 and 40
// messages of a chat's own making arrive, the scrape (read with
// Prometheus's text parser) moved by exactly what was done. The scrape
// names no user, chat, address, token or text (the threat model's rows),
// and a chat's messages add no series.
func TestMetricsCountRealWork(t *testing.T) {
	w := newFaultWorld(t)
	admin := freeLoopback(t)
	p := w.startParent("-admin", admin)
	base := "http://" + admin
	before := getScrape(t, base)
	if before.value("autowallet_build_info") != 1 {
		t.Fatalf("no build info:\n%s", before.text)
	}
	network := ""
	for _, m := range before.fams["autowallet_ready_check"].GetMetric() {
		if v := m.GetLabel()[0].GetValue(); strings.HasPrefix(v, "node:") {
			network = strings.TrimPrefix(v, "node:")
		}
	}
	if network == "" {
		t.Fatalf("no node readiness check:\n%s", before.text)
	}

	const userID = 880011223344
	u, addr := w.fundedUser(userID, "Zyxwv")
	card, link := sendCard(t, u, "0.01", recipient)
	initData := approval(t, u, link)
	// initData whose auth_date was changed: Telegram's signature no longer
	// covers it, and the enclave refuses it.
	forged := regexp.MustCompile(`auth_date=(\d+)`).ReplaceAllStringFunc(initData, func(s string) string {
		n, _ := strconv.ParseInt(strings.TrimPrefix(s, "auth_date="), 10, 64)
		return "auth_date=" + strconv.FormatInt(n-1, 10)
	})
	if status, _, code := approveVia(t, p, forged); code != protocol.CodeBadSignature {
		t.Fatalf("forged approval: %d %s", status, code)
	}
	if status, ans, code := approveVia(t, p, initData); status != http.StatusOK {
		t.Fatalf("approval: %d %+v %s", status, ans, code)
	}
	cardSays(t, u, card.ID, "Confirmed in block")

	// Telegram asks to slow down once; the bot waits and sends.
	w.emu.FailNext("sendMessage", 1, 1)
	ask(t, u, "/help", func(m emulator.Message) bool { return strings.Contains(m.Text, "autowallet") })
	// A chat's own words: 20 texts and 20 commands nobody knows.
	for i := range 20 {
		u.Send(fmt.Sprintf("hello %d-%d", userID, i))
		u.Send(fmt.Sprintf("/zz%dq%d", i, userID))
	}
	var after scrape
	if !waitFor(30*time.Second, func() bool {
		after = getScrape(t, base)
		return after.value("autowallet_telegram_updates_total", "kind", "message")-before.value("autowallet_telegram_updates_total", "kind", "message") >= 20 &&
			after.value("autowallet_transfers", "state", "sent") == 0
	}) {
		t.Fatalf("the updates or the transfer did not settle:\n%s", after.text)
	}

	delta := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	exact := []struct {
		name   string
		labels []string
		want   float64
	}{
		// /start, /send, /help and 20 unknown commands; one button; 20 texts.
		{"autowallet_telegram_updates_total", []string{"kind", "command"}, 23},
		{"autowallet_telegram_updates_total", []string{"kind", "callback_query"}, 1},
		{"autowallet_telegram_updates_total", []string{"kind", "message"}, 20},
		{"autowallet_telegram_updates_total", []string{"kind", "other"}, 0},
		{"autowallet_telegram_replies_total", []string{"kind", "sendPhoto"}, 1},
		{"autowallet_telegram_replies_total", []string{"kind", "answerCallbackQuery"}, 1},
		{"autowallet_telegram_api_429_total", []string{"method", "sendMessage"}, 1},
		{"autowallet_telegram_api_errors_total", []string{"method", "sendMessage"}, 1},
		{"autowallet_telegram_api_errors_total", nil, 1},
		{"autowallet_approvals_total", []string{"outcome", "ok"}, 1},
		{"autowallet_approvals_total", []string{"outcome", string(protocol.CodeBadSignature)}, 1},
		{"autowallet_approvals_total", nil, 2},
		{"autowallet_enclave_request_duration_seconds", []string{"endpoint", protocol.PathWallets}, 1},
		{"autowallet_enclave_request_duration_seconds", []string{"endpoint", protocol.PathApprove}, 2},
		{"autowallet_enclave_errors_total", nil, 0},
		{"autowallet_transfer_transitions_total", []string{"to", "built"}, 1},
		{"autowallet_transfer_transitions_total", []string{"to", "approved"}, 1},
		{"autowallet_transfer_transitions_total", []string{"to", "sent"}, 1},
		{"autowallet_transfer_transitions_total", []string{"to", "confirmed"}, 1},
		{"autowallet_transfer_transitions_total", nil, 4},
		{"autowallet_store_operation_duration_seconds", []string{"op", "CreateWallet"}, 1},
		{"autowallet_store_errors_total", nil, 0},
		{"autowallet_rpc_errors_total", nil, 0},
		{"autowallet_transfers", []string{"state", "built"}, 0},
		{"autowallet_transfer_oldest_sent_seconds", nil, 0},
		{"autowallet_ready", nil, 0}, // 1 before and after
	}
	for _, c := range exact {
		if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := delta("autowallet_rpc_request_duration_seconds", "network", network, "method", "eth_sendRawTransaction"); n < 1 {
		t.Errorf("eth_sendRawTransaction timed %v times, want at least 1", n)
	}
	if after.value("autowallet_ready") != 1 || after.value("autowallet_watcher_lag_blocks", "network", network) > 5 {
		t.Errorf("ready %v, watcher lag %v", after.value("autowallet_ready"), after.value("autowallet_watcher_lag_blocks", "network", network))
	}

	// Threat model: the scrape leaks nothing. No bot token, no user or
	// chat id, no address (checksummed or not), no username, no text the
	// chat sent, no initData.
	for _, secret := range []string{faultToken, "fault-test", strconv.FormatInt(userID, 10), "zyxwv",
		addr.Hex(), strings.ToLower(addr.Hex()[2:]), recipient.Hex()[2:], "hello", "/zz", "zz0q",
		"auth_date", "startapp", regexp.MustCompile(`hash=([0-9a-f]+)`).FindStringSubmatch(initData)[1]} {
		if strings.Contains(strings.ToLower(after.text), strings.ToLower(secret)) {
			t.Errorf("the scrape contains %q", secret)
		}
	}
	// Bounded cardinality: the chat's 40 distinct messages added no series.
	for name, most := range map[string]int{
		"autowallet_telegram_updates_total":    len(metrics.UpdateKinds),
		"autowallet_telegram_replies_total":    len(metrics.BotMethods),
		"autowallet_telegram_api_errors_total": len(metrics.BotMethods),
		"autowallet_approvals_total":           len(metrics.ApprovalOutcomes),
	} {
		if n := after.series(name); n > most {
			t.Errorf("%s has %d series, at most %d", name, n, most)
		}
	}
	stopParent(t, p)
}

// readyz is one GET /readyz: its status and report.
func readyz(t *testing.T, base string) (int, metrics.Report) {
	t.Helper()
	resp, err := http.Get(base + metrics.PathReadyz)
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var r metrics.Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

// TestReadyzFollowsFaults: /readyz (admin and public listener) answers 200
// with every check ok; 503 naming the enclave when the enclave process is
// killed, and the node when geth is stopped; 200 again when each is back.
// /healthz on the admin listener (alive) stays 200 throughout.
func TestReadyzFollowsFaults(t *testing.T) {
	w := newFaultWorld(t)
	admin := freeLoopback(t)
	p := w.startParent("-admin", admin)
	bases := []string{"http://" + admin, p.url}

	expect := func(what string, status int, failing string, reason string) {
		t.Helper()
		for _, base := range bases {
			var got int
			var rep metrics.Report
			if !waitFor(20*time.Second, func() bool {
				got, rep = readyz(t, base)
				return got == status && strings.Join(rep.NotReady, ",") == failing
			}) {
				t.Fatalf("%s: %s/readyz = %d %+v, want %d not ready %q", what, base, got, rep, status, failing)
			}
			if failing != "" && rep.Checks[failing] != reason {
				t.Fatalf("%s: %s is %q, want %q", what, failing, rep.Checks[failing], reason)
			}
		}
		resp, err := http.Get(bases[0] + metrics.PathHealthz)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: /healthz %v %v", what, resp, err)
		}
		resp.Body.Close()
	}
	expect("at start", http.StatusOK, "", "")
	_, rep := readyz(t, bases[0])
	node := ""
	for name := range rep.Checks {
		if strings.HasPrefix(name, "node:") {
			node = name
		}
	}
	if len(rep.Checks) != 3 || rep.Checks["enclave"] != "ok" || rep.Checks["store"] != "ok" || node == "" {
		t.Fatalf("checks = %v", rep.Checks)
	}

	w.killEnclave()
	expect("enclave killed", http.StatusServiceUnavailable, "enclave", metrics.ReasonUnreachable)
	if s := getScrape(t, bases[0]); s.value("autowallet_ready") != 0 || s.value("autowallet_ready_check", "check", "enclave") != 0 {
		t.Fatalf("the scrape does not say not ready:\n%s", s.text)
	}
	w.startEnclave()
	expect("enclave back", http.StatusOK, "", "")

	w.node.Stop(t)
	expect("node stopped", http.StatusServiceUnavailable, node, metrics.ReasonUnreachable)
	w.node.Start(t)
	expect("node back", http.StatusOK, "", "")
	stopParent(t, p)
}

// TestDevServesMetricsAndReadyz: `autowallet dev` serves /metrics and
// /readyz on its one loopback listener (beside the API's /healthz); the
// readiness report names the enclave, the store and both dev networks'
// nodes, and a wallet created through the emulator is counted.
func TestDevServesMetricsAndReadyz(t *testing.T) {
	m := startDev(t, t.TempDir())
	defer m.Close()
	base := "http://" + m.Addr().String()
	before := getScrape(t, base)
	createWallet(t, m.Emulator().User(880022, "Dev", "dev"))
	after := getScrape(t, base)
	if d := after.value("autowallet_store_operation_duration_seconds", "op", "CreateWallet") - before.value("autowallet_store_operation_duration_seconds", "op", "CreateWallet"); d != 1 {
		t.Fatalf("CreateWallet timed %v times, want 1", d)
	}
	status, rep := readyz(t, base)
	if status != http.StatusOK || len(rep.Checks) != 4 || rep.Checks["enclave"] != "ok" || rep.Checks["store"] != "ok" {
		t.Fatalf("dev /readyz = %d %+v", status, rep)
	}
	for _, n := range m.networks {
		if rep.Checks["node:"+n.Name] != "ok" {
			t.Fatalf("dev /readyz has no ok check for %s: %+v", n.Name, rep)
		}
	}
}

// TestReadyzPostgresDown: a parent on PostgreSQL says `store` is not ready
// while the database server is stopped and ready again once it is back;
// neither /readyz nor /metrics ever names the database password.
func TestReadyzPostgresDown(t *testing.T) {
	const password = "pg-ready-secret-7Qx"
	srv := pgtest.StartWith(t, pgtest.Options{TCP: "127.0.0.1:0", Password: password})
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags([]string{
		"-data", t.TempDir(), "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-database", srv.TCPDSN(),
		"-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
		"-enclave-tcp", enc.Addr, "-bot-id", strconv.FormatInt(testenv.BotID, 10),
		"-telegram-public-key", hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)),
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.admin.Addr().String()
	wait := func(what string, ok func(int, metrics.Report) bool) {
		t.Helper()
		var status int
		var rep metrics.Report
		if !waitFor(30*time.Second, func() bool { status, rep = readyz(t, base); return ok(status, rep) }) {
			t.Fatalf("%s: /readyz = %d %+v", what, status, rep)
		}
	}
	wait("database up", func(s int, r metrics.Report) bool { return s == http.StatusOK && r.Checks["store"] == "ok" })
	srv.Stop()
	wait("database stopped", func(s int, r metrics.Report) bool {
		return s == http.StatusServiceUnavailable && strings.Join(r.NotReady, ",") == "store" &&
			(r.Checks["store"] == metrics.ReasonUnreachable || r.Checks["store"] == metrics.ReasonTimeout)
	})
	resp, err := http.Get(base + metrics.PathMetrics) // the store gauges fail: 500, fixed words
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, rb := readyzRaw(t, base)
	for _, b := range []string{string(body), rb} {
		if strings.Contains(b, password) || strings.Contains(b, "password") {
			t.Fatalf("an answer names the password: %s", b)
		}
	}
	srv.Start()
	wait("database back", func(s int, r metrics.Report) bool { return s == http.StatusOK })
	if s := getScrape(t, base); s.value("autowallet_ready") != 1 {
		t.Fatalf("scrape after the database came back:\n%s", s.text)
	}
}

func readyzRaw(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + metrics.PathReadyz)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
