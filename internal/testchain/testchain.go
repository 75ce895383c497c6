// Package testchain starts a real go-ethereum node in developer mode
// (`geth --dev`) for tests: a fresh single-node chain (chain id 1337) with a
// pre-funded, unlocked developer account, listening on 127.0.0.1 only.
//
// geth is looked up on PATH and then in $AUTOWALLET_TOOLS/bin; `make tools`
// installs the pinned version. A missing geth fails the test (it is never
// skipped silently).
//
// The node can be stopped and started again on the same data directory and
// port, so a test can simulate "the node is down for a while".
package testchain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// ChainID is the chain id of every geth --dev chain.
const ChainID uint64 = 1337

// Defaults for the options.
const (
	DefaultStartTimeout = 30 * time.Second
	DefaultStopTimeout  = 10 * time.Second
	DefaultPeriod       = 1 // seconds between blocks
)

// Option changes how the node is started.
type Option func(*config)

type config struct {
	period       uint64
	startTimeout time.Duration
	stopTimeout  time.Duration
	extraArgs    []string
}

// WithPeriod sets --dev.period: seconds between blocks. Zero makes geth mine a
// block as soon as a transaction arrives (and never otherwise).
func WithPeriod(seconds uint64) Option { return func(c *config) { c.period = seconds } }

// WithStartTimeout bounds how long Start waits for eth_chainId to answer.
func WithStartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

// WithStopTimeout bounds how long Stop waits after SIGTERM before it kills geth.
func WithStopTimeout(d time.Duration) Option { return func(c *config) { c.stopTimeout = d } }

// WithArgs appends extra command-line arguments for geth.
func WithArgs(args ...string) Option {
	return func(c *config) { c.extraArgs = append(c.extraArgs, args...) }
}

// Node is a running (or stopped) geth --dev node owned by one test.
type Node struct {
	// URL is the HTTP JSON-RPC endpoint, http://127.0.0.1:<port>.
	URL string
	// ChainID is the node's chain id (1337).
	ChainID uint64
	// DataDir is geth's data directory (a temp dir removed after the test).
	DataDir string
	// LogPath is the file geth's output goes to.
	LogPath string

	geth     string
	cfg      config
	httpPort int
	authPort int
	http     *http.Client

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	logFile *os.File
	devAcct common.Address
	nextID  atomic.Int64
}

// GethPath returns the geth binary the tests use: geth on PATH, else
// $AUTOWALLET_TOOLS/bin/geth. It returns an error that says to run
// `make tools` if neither exists.
func GethPath() (string, error) {
	if p, err := exec.LookPath("geth"); err == nil {
		return p, nil
	}
	if dir := os.Getenv("AUTOWALLET_TOOLS"); dir != "" {
		p := filepath.Join(dir, "bin", "geth")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	// Fall back to the repository's own .tools/bin, found from the working
	// directory upwards (go test runs in the package directory).
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			p := filepath.Join(dir, ".tools", "bin", "geth")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil || filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", errors.New("geth not found on PATH, in $AUTOWALLET_TOOLS/bin or in .tools/bin: run `make tools` (it installs the pinned geth into .tools/bin)")
}

// Start starts a fresh geth --dev node and registers its shutdown with
// t.Cleanup. It fails the test if geth is missing or does not come up.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	geth, err := GethPath()
	if err != nil {
		t.Fatalf("testchain: %v", err)
	}
	cfg := config{period: DefaultPeriod, startTimeout: DefaultStartTimeout, stopTimeout: DefaultStopTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	dir := t.TempDir()
	n := &Node{
		ChainID: ChainID,
		DataDir: filepath.Join(dir, "data"),
		LogPath: filepath.Join(dir, "geth.log"),
		geth:    geth,
		cfg:     cfg,
		http:    &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	t.Cleanup(func() {
		if err := n.stop(); err != nil {
			t.Logf("testchain: stopping geth: %v", err)
		}
	})
	// A free port found by listening on :0 can be taken by someone else
	// before geth binds it; try a few times with fresh ports.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if n.httpPort, err = freePort(); err != nil {
			t.Fatalf("testchain: %v", err)
		}
		if n.authPort, err = freePort(); err != nil {
			t.Fatalf("testchain: %v", err)
		}
		n.URL = fmt.Sprintf("http://127.0.0.1:%d", n.httpPort)
		if lastErr = n.start(); lastErr == nil {
			break
		}
		if !strings.Contains(n.logTail(4096), "address already in use") {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("testchain: %v\n--- tail of %s ---\n%s", lastErr, n.LogPath, n.logTail(4096))
	}
	var accts []common.Address
	if err := n.Call(context.Background(), &accts, "eth_accounts"); err != nil || len(accts) == 0 {
		t.Fatalf("testchain: eth_accounts: %v (%d accounts)", err, len(accts))
	}
	n.devAcct = accts[0]
	return n
}

// Start starts the node again after Stop, on the same data directory and
// port; the chain continues where it was.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	if err := n.start(); err != nil {
		t.Fatalf("testchain: restart: %v\n--- tail of %s ---\n%s", err, n.LogPath, n.logTail(4096))
	}
}

// Stop stops the node (SIGTERM, then SIGKILL after the stop timeout). The
// data directory and port are kept for Start.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatalf("testchain: stop: %v", err)
	}
}

// Running reports whether the geth process is running.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Pause freezes geth (SIGSTOP): it keeps its port and accepts connections
// but answers nothing, like a hung node, until Resume.
func (n *Node) Pause(t testing.TB) {
	t.Helper()
	n.signal(t, syscall.SIGSTOP)
}

// Resume lets a paused geth run again (SIGCONT).
func (n *Node) Resume(t testing.TB) {
	t.Helper()
	n.signal(t, syscall.SIGCONT)
}

func (n *Node) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		t.Fatalf("testchain: %v: geth is not running", sig)
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("testchain: %v: %v", sig, err)
	}
	if sig == syscall.SIGSTOP {
		waitStopped(t, n.cmd.Process.Pid)
	}
}

// waitStopped waits until every thread of pid is stopped: a signal is
// delivered asynchronously, and on a loaded machine a thread already
// running could still answer a request after kill(2) returned.
func waitStopped(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			// The state is the field after the ")" that ends the name.
			if i := bytes.LastIndexByte(b, ')'); err == nil && i >= 0 && i+2 < len(b) && b[i+2] != 'T' && b[i+2] != 't' {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testchain: geth (pid %d) did not stop within 5 s of SIGSTOP", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// DevAccount is the node's pre-funded, unlocked developer account.
func (n *Node) DevAccount() common.Address { return n.devAcct }

func (n *Node) args() []string {
	args := []string{
		"--dev",
		"--dev.period", strconv.FormatUint(n.cfg.period, 10),
		"--datadir", n.DataDir,
		"--http",
		"--http.addr", "127.0.0.1",
		"--http.port", strconv.Itoa(n.httpPort),
		"--http.api", "eth,net,web3,txpool,debug,dev",
		"--authrpc.addr", "127.0.0.1",
		"--authrpc.port", strconv.Itoa(n.authPort),
		"--ipcdisable",
		"--nodiscover",
		"--maxpeers", "0",
		"--nat", "none",
		"--port", "0",
		"--cache", "64",
		"--verbosity", "3",
	}
	return append(args, n.cfg.extraArgs...)
}

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.exited:
		default:
			return errors.New("geth is already running")
		}
	}
	f, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== %s starting: geth %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(n.args(), " "))
	cmd := exec.Command(n.geth, n.args()...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", n.geth, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	n.cmd, n.exited, n.logFile = cmd, exited, f

	// Poll eth_chainId until it answers, geth exits, or the timeout passes.
	deadline := time.Now().Add(n.cfg.startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var id hexutil.Uint64
		err := n.call(ctx, &id, "eth_chainId")
		cancel()
		if err == nil {
			if uint64(id) != n.ChainID {
				n.stopLocked()
				return fmt.Errorf("geth answered chain id %d, want %d", uint64(id), n.ChainID)
			}
			return nil
		}
		select {
		case <-exited:
			n.stopLocked()
			return fmt.Errorf("geth exited during startup (%v)", cmd.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stopLocked()
			return fmt.Errorf("geth did not answer eth_chainId within %v: %v", n.cfg.startTimeout, err)
		}
	}
}

func (n *Node) stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopLocked()
}

func (n *Node) stopLocked() error {
	if n.cmd == nil {
		return nil
	}
	cmd, exited, f := n.cmd, n.exited, n.logFile
	n.cmd, n.exited, n.logFile = nil, nil, nil
	defer f.Close()
	select {
	case <-exited:
		return nil
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Process.Signal(syscall.SIGCONT) // in case it was paused
	select {
	case <-exited:
		return nil
	case <-time.After(n.cfg.stopTimeout):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	return fmt.Errorf("geth did not stop within %v of SIGTERM; killed", n.cfg.stopTimeout)
}

func (n *Node) logTail(max int64) string {
	f, err := os.Open(n.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if off := st.Size() - max; off > 0 {
		_, _ = f.Seek(off, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// LogTail returns up to the last max bytes of geth's output.
func (n *Node) LogTail(max int64) string { return n.logTail(max) }

// Call makes a JSON-RPC call to the node and decodes the result into result
// (which may be nil).
func (n *Node) Call(ctx context.Context, result any, method string, params ...any) error {
	return n.call(ctx, result, method, params...)
}

// RPCError is a JSON-RPC error answered by the node.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

func (n *Node) call(ctx context.Context, result any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	id := n.nextID.Add(1)
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %s", method, resp.Status)
	}
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  *RPCError       `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("%s: decoding response: %w", method, err)
	}
	if out.Error != nil {
		return out.Error
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(out.Result, result)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
