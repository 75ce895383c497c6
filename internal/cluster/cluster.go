// Package cluster runs a deployment of several parents as real processes
// for tests and `make load`: a PostgreSQL server (internal/pgtest), geth
// --dev (internal/testchain), the Telegram emulator (in this process),
// one enclave per parent (the cmd/enclave program, one dev vault key for
// all, as one KMS key serves every enclave in production) and `autowallet
// parent` processes on the one database, taking updates by webhook behind
// a round-robin proxy (internal/lbproxy) standing in for the load balancer.
//
//	c := cluster.Start(t, cluster.Options{})     // two parents
//	u := c.Emu.User(1, "Ann", "ann")
//	c.Parents[0].Kill9()
//
// With Options.Net every part runs on a host of its own (internal/netns):
// each parent with its enclave in one namespace (the enclave on that
// namespace's loopback, as an enclave is reachable only from its parent),
// PostgreSQL, the chain node and "Telegram" (the emulator and the proxy)
// each on theirs, so a test can cut a parent off from the database or from
// everything. The servers of this process (PostgreSQL's unix socket, geth's
// port, the emulator) appear on their hosts' addresses through
// netns.Host.Expose.
//
// Every process is stopped and every file removed when the test ends.
package cluster

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/lbproxy"
	"github.com/autowallet/autowallet/internal/netns"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
)

const (
	// Token is the bot's token (bot id 4242 = testenv.BotID).
	Token = "4242:cluster-test"
	// WebhookSecret is the secret_token the parents set and check. A test
	// value: it is in no log line (the parents never log it).
	WebhookSecret = "cluster-webhook-secret_0123456789"
	// BotUsername and MiniAppLink name the bot's Mini App.
	BotUsername = "cluster_bot"
	MiniAppLink = "https://t.me/cluster_bot/wallet"
)

// Options tune a cluster; zero values take defaults.
type Options struct {
	// Parents is how many parents run (default 2).
	Parents int
	// Net, when set, puts every part on its own host (see the package doc).
	Net *netns.Net
	// ClaimTTL, passed to the parents, bounds how long an update stays
	// claimed by a parent that died or was cut off (0: the parent's default).
	ClaimTTL time.Duration
	// ParentArgs are extra flags for every parent.
	ParentArgs []string
	// Webhook tunes the emulator's deliveries (retry pauses, timeout).
	Webhook emulator.WebhookOptions
	// ProxyTimeout bounds one request through the proxy (default 10 s).
	ProxyTimeout time.Duration
	// CallbackTimeout bounds a press's wait for its answer (default 10 s).
	CallbackTimeout time.Duration
	// WrapAPI, when set, wraps the emulator's Bot API handler (e.g. to
	// timestamp the bot's messages, internal/loadtest).
	WrapAPI func(http.Handler) http.Handler
}

// Cluster is a running deployment.
type Cluster struct {
	t    testing.TB
	opts Options
	bins Bins

	PG   *pgtest.Server
	Node *testchain.Node
	Emu  *emulator.Emulator
	// Proxy is the round-robin proxy the emulator delivers updates to.
	Proxy *lbproxy.Proxy
	// DSN is the database as the test process reaches it (its unix socket).
	DSN string
	// Parents in the order started; Parents[i] is behind proxy backend i.
	Parents []*Parent

	tgKey    ed25519.PrivateKey
	tgAPI    string // the Bot API as the parents reach it
	encCfg   string
	VaultKey string // path of the dev vault key file all enclaves share
	pgDSN    string // the database as the parents reach it
	rpcURL   string // the chain node as the parents reach it

	// Hosts when Options.Net is set.
	DBHost, ChainHost, TGHost *netns.Host
}

// Start runs a cluster for t; it all stops when t ends.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Parents == 0 {
		o.Parents = 2
	}
	if o.ProxyTimeout == 0 {
		o.ProxyTimeout = 10 * time.Second
	}
	if o.CallbackTimeout == 0 {
		o.CallbackTimeout = 10 * time.Second
	}
	if o.Webhook.RetryMin == 0 {
		o.Webhook.RetryMin = 50 * time.Millisecond
	}
	if o.Webhook.RetryMax == 0 {
		o.Webhook.RetryMax = time.Second
	}
	if o.Webhook.Timeout == 0 {
		o.Webhook.Timeout = o.ProxyTimeout + time.Second
	}
	c := &Cluster{t: t, opts: o, bins: Build(t)}
	if o.Net != nil {
		c.DBHost, c.ChainHost, c.TGHost = o.Net.Host("db"), o.Net.Host("chain"), o.Net.Host("tg")
	}

	// PostgreSQL: the parents use its unix socket, or, with Net, it runs
	// in the db host's namespace and they use TCP (trusted from the test
	// subnet only). The test process keeps the unix socket either way.
	if c.DBHost != nil {
		c.PG = pgtest.StartWith(t, pgtest.Options{TCP: c.DBHost.Addr("5432"), NetNS: c.DBHost.NS, AllowFrom: []string{netns.Subnet}})
		c.DSN, c.pgDSN = c.PG.DSN(), c.PG.TCPDSN()
	} else {
		c.PG = pgtest.Start(t)
		c.DSN, c.pgDSN = c.PG.DSN(), c.PG.DSN()
	}

	// The chain.
	c.Node = testchain.Start(t)
	c.rpcURL = c.Node.URL
	if c.ChainHost != nil {
		c.rpcURL = "http://" + c.ChainHost.Expose(t, "8545", "tcp", strings.TrimPrefix(c.Node.URL, "http://"))
	}

	// Telegram: the emulator's Bot API on 127.0.0.1, or on the tg host.
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	c.tgKey = key
	var err error
	c.Emu, err = emulator.New(emulator.Config{
		BotToken: Token, BotUsername: BotUsername, MiniAppShortName: "wallet",
		MiniAppURL: "https://pages.example/miniapp/", SigningKey: key,
		CallbackTimeout: o.CallbackTimeout, Webhook: o.Webhook,
	})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = c.Emu.Handler()
	if o.WrapAPI != nil {
		h = o.WrapAPI(h)
	}
	api := httptest.NewUnstartedServer(h)
	if c.TGHost != nil {
		l, err := c.TGHost.Listen("tcp", c.TGHost.Addr("8081"))
		if err != nil {
			t.Fatal(err)
		}
		api.Listener.Close()
		api.Listener = l
	}
	api.Start()
	t.Cleanup(api.Close)
	t.Cleanup(c.Emu.Close)
	c.tgAPI = api.URL

	// The enclaves' config and the one dev vault key.
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{
		"version": 1, "mode": "dev", "bot_id": testenv.BotID, "telegram_public_key": hex.EncodeToString(pub),
		"allowed_chain_ids": []uint64{c.Node.ChainID}, "max_auth_age": "1h", "clock_skew": "1m",
	})
	c.encCfg, c.VaultKey = filepath.Join(dir, "enclave.json"), filepath.Join(dir, "vault.key")
	if err := os.WriteFile(c.encCfg, cfg, 0o644); err != nil {
		t.Fatal(err)
	}

	// Parents: each with its address fixed now, so the proxy knows them.
	var backends []string
	for i := range o.Parents {
		p := c.newParent(i)
		c.Parents = append(c.Parents, p)
		backends = append(backends, p.backend)
	}
	if c.Proxy, err = lbproxy.Start(backends, o.ProxyTimeout); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Proxy.Close() })
	for _, p := range c.Parents {
		p.startEnclave()
		p.Start()
	}
	return c
}

// TelegramKey signs initData as Telegram does (the emulator's key).
func (c *Cluster) TelegramKey() ed25519.PrivateKey { return c.tgKey }

// Logs is every parent's log so far, for failure messages.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, p := range c.Parents {
		fmt.Fprintf(&b, "--- %s ---\n%s", p.Instance, p.Logs())
	}
	return b.String()
}

// Parent is one `autowallet parent` process with its enclave.
type Parent struct {
	c        *Cluster
	Index    int
	Instance string // -instance, renamed on every restart (a new process)
	Host     *netns.Host
	// HTTPAddr is the parent's listener (Mini App API and webhook).
	HTTPAddr string
	// URL is the parent's listener as the test process reaches it.
	URL     string
	backend string // the proxy's backend URL for this parent
	encAddr string

	mu       sync.Mutex
	cmd      *exec.Cmd
	logs     *bytes.Buffer
	enc      *exec.Cmd
	encLog   *bytes.Buffer
	restarts int
}

func (c *Cluster) newParent(i int) *Parent {
	p := &Parent{c: c, Index: i, Instance: fmt.Sprintf("parent%d", i+1)}
	if c.opts.Net != nil {
		p.Host = c.opts.Net.Host(fmt.Sprintf("p%d", i+1))
		// Inside its own namespace a parent may use fixed ports.
		p.HTTPAddr = p.Host.Addr("8080")
		p.encAddr = "127.0.0.1:5005"
		// The proxy runs in this process; it reaches the parent as
		// Telegram would, from the tg host.
		p.backend = "http://" + c.TGHost.Reach(c.t, p.HTTPAddr)
		p.URL = p.backend
	} else {
		p.HTTPAddr, p.encAddr = freeAddr(c.t), freeAddr(c.t)
		p.URL = "http://" + p.HTTPAddr
		p.backend = p.URL
	}
	c.t.Cleanup(func() { p.kill(); p.killEnclave() })
	return p
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (p *Parent) command(name string, args ...string) *exec.Cmd {
	if p.Host != nil {
		return p.Host.Command(name, args...)
	}
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// startEnclave runs the enclave program, unlocked with the dev vault key.
func (p *Parent) startEnclave() {
	t := p.c.t
	t.Helper()
	cmd := p.command(p.c.bins.Enclave, "-config", p.c.encCfg, "-tcp", p.encAddr, "-dev-vault-key", p.c.VaultKey, "-entropy", "os")
	p.encLog = new(bytes.Buffer)
	if err := waitLine(cmd, p.encLog, "enclave listening on ", 30*time.Second); err != nil {
		t.Fatalf("enclave of %s: %v\n%s", p.Instance, err, p.encLog)
	}
	p.enc = cmd
}

func (p *Parent) killEnclave() {
	if p.enc != nil {
		p.enc.Process.Kill()
		p.enc.Wait()
	}
}

// Args are the parent's flags.
func (p *Parent) Args() []string {
	c := p.c
	args := []string{
		"-data", c.t.TempDir(), "-database", c.pgDSN, "-instance", p.Instance,
		"-http", p.HTTPAddr, "-rpc", c.rpcURL, "-chain-id", strconv.FormatUint(c.Node.ChainID, 10),
		"-enclave-tcp", p.encAddr, "-telegram-public-key", hex.EncodeToString(c.tgKey.Public().(ed25519.PublicKey)),
		"-bot-token", Token, "-telegram-api", c.tgAPI, "-miniapp", MiniAppLink,
		"-webhook-url", c.Proxy.URL() + "/telegram/webhook",
		"-poll", "200ms", "-confirmations", "1",
	}
	if c.opts.ClaimTTL > 0 {
		args = append(args, "-webhook-claim-ttl", c.opts.ClaimTTL.String())
	}
	return append(args, c.opts.ParentArgs...)
}

// Start starts the parent process (again, after Kill9 or Stop, as a new
// instance) and waits until it serves.
func (p *Parent) Start() {
	t := p.c.t
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		t.Fatalf("%s is running", p.Instance)
	}
	if p.restarts > 0 {
		p.Instance = fmt.Sprintf("parent%d-r%d", p.Index+1, p.restarts)
	}
	p.restarts++
	cmd := p.command(p.c.bins.Autowallet, append([]string{"parent"}, p.Args()...)...)
	// The secret by the environment, as the parent takes it (never a flag).
	cmd.Env = append(os.Environ(), "ETH_RPC_URL=", "TELEGRAM_BOT_ID=", "AUTOWALLET_DATABASE_URL=", "AUTOWALLET_WEBHOOK_SECRET="+WebhookSecret)
	p.logs = new(bytes.Buffer)
	if err := waitLine(cmd, p.logs, "autowallet parent listening on ", 60*time.Second); err != nil {
		t.Fatalf("%s: %v\n%s", p.Instance, err, p.logs)
	}
	p.cmd = cmd
	// Wait for its setWebhook too: the emulator (as Telegram) replaces the
	// webhook on every setWebhook and drops the deliveries in flight to the
	// old one, which a test would count as updates interrupted by its fault.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(safeString(p.logs), `msg="taking updates by webhook"`) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not set its webhook within 30 s:\n%s", p.Instance, safeString(p.logs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Running reports whether the process runs.
func (p *Parent) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Kill9 kills the parent with SIGKILL and waits for it to be gone.
func (p *Parent) Kill9() {
	p.c.t.Helper()
	if !p.kill() {
		p.c.t.Fatalf("%s is not running", p.Instance)
	}
}

func (p *Parent) kill() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	p.cmd = nil
	return true
}

// Stop stops the parent cleanly (SIGTERM) within 30 s, or fails the test.
func (p *Parent) Stop() {
	t := p.c.t
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	cmd := p.cmd
	p.cmd = nil
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not stop on SIGTERM; log:\n%s", p.Instance, p.logs)
	}
}

// Logs is the parent's log (stderr) so far.
func (p *Parent) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logs == nil {
		return ""
	}
	return safeString(p.logs)
}

// HTTPClient reaches the parent's listener from the test process.
func (p *Parent) HTTPClient(timeout time.Duration) *http.Client {
	if p.Host != nil {
		return p.c.TGHost.HTTPClient(timeout)
	}
	return &http.Client{Timeout: timeout}
}

// waitLine starts cmd with stderr into logs and waits until its stdout has
// a line starting with prefix (the program's "listening" line).
func waitLine(cmd *exec.Cmd, logs *bytes.Buffer, prefix string, limit time.Duration) error {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = &lockedWriter{b: logs}
	if err := cmd.Start(); err != nil {
		return err
	}
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), prefix) {
				found = true
				up <- true
			}
		}
		io.Copy(io.Discard, stdout)
		if !found {
			close(up)
		}
	}()
	select {
	case ok := <-up:
		if ok {
			return nil
		}
		cmd.Wait()
		return fmt.Errorf("exited before serving (%v)", cmd.ProcessState)
	case <-time.After(limit):
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("not serving after %v", limit)
	}
}

// lockedWriter lets a process write its log while a test reads it.
type lockedWriter struct {
	b *bytes.Buffer
}

var logMu sync.Mutex

func (w *lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.b.Write(p)
}

func safeString(b *bytes.Buffer) string {
	logMu.Lock()
	defer logMu.Unlock()
	return b.String()
}
