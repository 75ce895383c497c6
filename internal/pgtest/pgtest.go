// Package pgtest starts a real PostgreSQL server for tests: Debian's
// postgresql (installed by `make tools`), never a mock.
//
//	srv := pgtest.Start(t)
//	conn, err := pgx.Connect(ctx, srv.DSN())
//
// Start runs initdb into a fresh temporary directory (UTF8, C locale, trust
// authentication on the unix socket only), starts postgres listening on a
// unix socket in that directory and on no TCP address (listen_addresses is
// empty), waits until it accepts connections, creates the database "test" and
// returns. When the test ends the server is stopped (SIGINT, a fast shutdown)
// and the directory removed. Stop and Start restart the same server, keeping
// its data directory and socket, so a DSN stays valid across a restart.
//
// Why a unix socket: it cannot collide with another server (every server has
// its own directory, so parallel tests need no free port), it is reachable
// from no other host, and its directory is mode 0700, so only the user that
// owns it (and root) can connect: that directory is what makes trust
// authentication safe here. A TCP listener on 127.0.0.1 would let every local
// user in.
//
// Tests that need TCP (a deployment's view, a server on its own host in a
// network namespace) ask for it: StartWith(t, Options{TCP: "127.0.0.1:0",
// Password: …, AllowFrom: …, NetNS: …}) adds a listener whose pg_hba.conf
// lines admit only AllowFrom (default: the TCP host itself), with a password
// when one is given (tcp.go). Kill crashes the server (SIGKILL of the
// postmaster and its backends) for fault tests.
//
// Why fsync=off by default: a test server's data need not survive the machine
// crashing (it is removed at the end), and fsync dominates small writes.
// The server still survives its own restart and the loss of any of its
// processes, as the OS keeps the written pages. Options.Durable turns fsync
// back on for benchmarks that measure durable writes.
//
// Running as root: initdb and postgres refuse to run as root, so the server
// runs as the system user "postgres" (Debian's package creates it), or
// "nobody" when that user does not exist; its directory is chowned to that
// user. The test process (root) still reaches the socket.
//
// Timings on this machine (2 cores shared with other work, PostgreSQL 15,
// TestStartTime logs them): Start to a ready server with its database
// 1.0-1.7 s, nearly all of it initdb (1.5 s alone, run by hand); Stop about
// 50 ms; Start again on the same data 50-90 ms. Tests that need many
// databases can share one server through NewDatabase.
//
// A test process killed outright (SIGKILL, a hard timeout) runs no cleanup:
// the server gets SIGQUIT from the kernel (Pdeathsig) and exits; only its
// directory stays behind in $TMPDIR, named pgtest-*.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Timeouts that bound every wait of this package.
const (
	// InitTimeout bounds initdb.
	InitTimeout = 2 * time.Minute
	// ReadyTimeout bounds waiting for a started server to accept connections.
	ReadyTimeout = 30 * time.Second
	// StopTimeout bounds a fast shutdown; then the server is killed.
	StopTimeout = 30 * time.Second
)

const (
	// User is the server's superuser, the user of every DSN.
	User = "pgtest"
	// Database is the database Start creates.
	Database = "test"
	// defaultPort only names the socket file (.s.PGSQL.5432) of a server
	// without TCP; a server with Options.TCP uses its TCP port for both.
	defaultPort = 5432
)

// BinDirs is where the server binaries are looked for, newest major first:
// Debian installs them in /usr/lib/postgresql/<major>/bin, not on PATH.
const BinDirs = "/usr/lib/postgresql/*/bin"

// Options change how Start sets up the server.
type Options struct {
	// Durable keeps fsync on (off by default, see the package doc).
	Durable bool
	// TCP, when set ("host:port"), makes the server also listen on that
	// TCP address, for tests that put PostgreSQL on its own host (a
	// network namespace) or reach it as a deployment does. Port 0 picks a
	// free port (by binding host:0 in the test's own namespace). Only the
	// addresses of AllowFrom may connect over TCP.
	TCP string
	// Password, when set, is the superuser's password, required of every
	// TCP client (scram-sha-256). Empty: TCP clients of AllowFrom are
	// trusted.
	Password string
	// AllowFrom lists the client addresses (CIDR) allowed over TCP; empty:
	// the TCP host itself (/32 or /128), i.e. clients on the same host.
	AllowFrom []string
	// NetNS, when set, is the network namespace (a name under
	// /var/run/netns, as `ip netns add` makes) the server runs in: its TCP
	// address is then an address of that namespace. Needs root.
	NetNS string
}

// Server is one PostgreSQL server of a test.
type Server struct {
	t       testing.TB
	bin     string // directory with initdb and postgres
	dir     string // base directory: socket, log; data in dir/data
	cred    *syscall.Credential
	durable bool
	port    int
	opts    Options
	tcpHost string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts a server for t with the default options; see StartWith.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith initialises and starts a server for t, creates the database
// "test" and registers its stop and removal with t.Cleanup. Any failure,
// including missing server binaries, fails the test: it never skips.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := FindBin()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, durable: opts.Durable, port: defaultPort, opts: opts}
	if opts.TCP != "" {
		if err := s.pickTCP(); err != nil {
			t.Fatal(err)
		}
	}
	if s.cred, err = runAs(); err != nil {
		t.Fatal(err)
	}
	// os.MkdirTemp, not t.TempDir: a socket path must stay under 108 bytes,
	// and t.TempDir's name carries the test's name.
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if err := os.RemoveAll(s.dir); err != nil {
			t.Errorf("pgtest: removing %s: %v", s.dir, err)
		}
	})
	if len(s.socketPath()) >= 100 {
		t.Fatalf("pgtest: socket path %s is too long for a unix socket: set TMPDIR to a shorter directory", s.socketPath())
	}
	if err := s.chown(s.dir); err != nil {
		t.Fatal(err)
	}
	if err := s.initdb(); err != nil {
		t.Fatal(err)
	}
	if opts.TCP != "" {
		if err := s.allowTCP(); err != nil {
			t.Fatal(err)
		}
	}
	s.Start()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	if opts.Password != "" {
		// Through the socket (trusted); TCP clients must then present it.
		if err := s.exec(ctx, "postgres", "ALTER USER "+User+" PASSWORD "+literal(opts.Password)); err != nil {
			t.Fatalf("pgtest: setting the password: %v", err)
		}
	}
	if err := s.exec(ctx, "postgres", "CREATE DATABASE "+Database); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", Database, err)
	}
	return s
}

// FindBin returns the directory of the newest installed server's binaries,
// or an error that says to run `make tools`.
func FindBin() (string, error) { return findBinIn(BinDirs) }

func findBinIn(pattern string) (string, error) {
	dirs, _ := filepath.Glob(pattern)
	var found []string
	for _, d := range dirs {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return "", fmt.Errorf("pgtest: no PostgreSQL server (postgres and initdb in %s): run `make tools` (installs Debian's postgresql)", pattern)
	}
	// Newest major first: 9.6 < 10 < 15, so compare numerically.
	sort.Slice(found, func(i, j int) bool { return major(found[i]) > major(found[j]) })
	return found[0], nil
}

func major(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// runAs returns the credentials to run the server with: none when not root;
// as root, the system user postgres or else nobody, since initdb and postgres
// refuse root (a superuser-owned server could write any file on the host).
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		// Groups empty: drop root's supplementary groups too.
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, errors.New("pgtest: running as root, and PostgreSQL refuses root; no user postgres or nobody to run it as: " +
		"create one (`useradd --system postgres`, or `make tools` installs postgresql, which does) or run the tests as an unprivileged user")
}

func (s *Server) chown(path string) error {
	if s.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
		return fmt.Errorf("pgtest: giving %s to uid %d (PostgreSQL refuses to run as root): %w", path, s.cred.Uid, err)
	}
	return nil
}

func (s *Server) dataDir() string    { return filepath.Join(s.dir, "data") }
func (s *Server) logPath() string    { return filepath.Join(s.dir, "postgres.log") }
func (s *Server) socketPath() string { return filepath.Join(s.dir, ".s.PGSQL."+strconv.Itoa(s.port)) }

func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir // the server user may not be able to read our working directory
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	// Pdeathsig: a test binary that dies (timeout, kill) leaves no server
	// behind; Go sets it after switching credentials, so it survives that.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

func (s *Server) initdb() error {
	ctx, cancel := context.WithTimeout(context.Background(), InitTimeout)
	defer cancel()
	cmd := s.command(ctx, "initdb",
		"--pgdata", s.dataDir(), "--username", User,
		"--encoding", "UTF8", "--locale", "C",
		// Trust on the socket only: its 0700 directory is the access control.
		"--auth-local", "trust", "--auth-host", "reject",
		"--no-sync", "--no-instructions")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: initdb as %s: %v\n%s%s", s.who(), err, out, credHint(err))
	}
	return nil
}

func (s *Server) who() string {
	if s.cred == nil {
		return "the current user"
	}
	return "uid " + strconv.FormatUint(uint64(s.cred.Uid), 10)
}

func credHint(err error) string {
	if errors.Is(err, syscall.EPERM) {
		return "\n(cannot switch to the server's user: run the tests as an unprivileged user, or as root with CAP_SETUID)"
	}
	return ""
}

// Start starts the stopped server again on its data directory and waits until
// it accepts connections. StartWith has already started it once.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("pgtest: Start: the server is running")
	}
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatalf("pgtest: %v", err)
	}
	fsync := "off"
	if s.durable {
		fsync = "on"
	}
	listen := "" // no TCP at all, unless asked for
	if s.tcpHost != "" {
		listen = s.tcpHost
	}
	cmd := s.command(context.Background(), "postgres",
		"-D", s.dataDir(), "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses="+listen,
		"-c", "unix_socket_directories="+s.dir,
		"-c", "unix_socket_permissions=0700",
		"-c", "fsync="+fsync, "-c", "full_page_writes="+fsync)
	cmd.Stdout, cmd.Stderr = logf, logf
	release, err := s.startIn(cmd)
	if err != nil {
		logf.Close()
		s.t.Fatalf("pgtest: starting %s: %v%s", cmd.Path, err, credHint(err))
	}
	logf.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); release(); close(done) }()
	s.cmd, s.done = cmd, done

	start := time.Now()
	deadline := start.Add(ReadyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.exec(ctx, "postgres", "SELECT 1")
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			s.cmd = nil
			s.t.Fatalf("pgtest: postgres exited while starting (%v):\n%s", cmd.ProcessState, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pgtest: postgres not ready after %v (last error: %v):\n%s", ReadyTimeout, err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down (SIGINT: a fast shutdown that ends every
// session), waiting at most StopTimeout before killing it. The data
// directory stays, for Start. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		return
	case <-time.After(StopTimeout):
	}
	// The postmaster's children exit when they see it gone.
	_ = cmd.Process.Kill()
	<-done
	s.t.Errorf("pgtest: postgres did not stop within %v; killed:\n%s", StopTimeout, s.logTail())
}

// DSN returns a pgx connection string for the database "test".
func (s *Server) DSN() string { return s.DSNFor(Database) }

// DSNFor returns a pgx connection string for the named database.
func (s *Server) DSNFor(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
		quote(s.dir), s.port, quote(User), quote(db))
}

// quote quotes a libpq keyword/value: single quotes, \ and ' escaped.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// NewDatabase creates a new empty database on the server and returns its
// DSN, so tests can share one server and still not see each other's tables.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("db_%d", dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	if err := s.exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	return s.DSNFor(name)
}

var dbSeq atomic.Uint64

func (s *Server) exec(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, s.DSNFor(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Dir returns the server's base directory (socket, log, data in data/).
func (s *Server) Dir() string { return s.dir }

// logTail returns the end of the server's log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
