package pgtest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sys/unix"
)

// TestTCPWithPassword: a server with Options.TCP and a password listens on
// that address and lets in only a client with the password; the socket
// works as before.
func TestTCPWithPassword(t *testing.T) {
	t.Parallel()
	srv := StartWith(t, Options{TCP: "127.0.0.1:0", Password: "pw-'quoted'"})
	if !strings.HasPrefix(srv.TCPAddr(), "127.0.0.1:") {
		t.Fatal(srv.TCPAddr())
	}
	conn := connect(t, srv.TCPDSN())
	var listen string
	if err := conn.QueryRow(context.Background(), `SHOW listen_addresses`).Scan(&listen); err != nil || listen != "127.0.0.1" {
		t.Fatalf("listen_addresses = %q, %v", listen, err)
	}
	connect(t, srv.DSN()) // the socket still works
	wrong := strings.Replace(srv.TCPDSN(), "password='pw-\\'quoted\\''", "password=nope", 1)
	if wrong == srv.TCPDSN() {
		t.Fatal("could not make a wrong DSN from", srv.TCPDSN())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, wrong)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("wrong password: %v, want SQLSTATE 28P01", err)
	}
}

// TestTCPTrustOnlyFromAllowFrom: without a password, only the addresses of
// AllowFrom are let in over TCP.
func TestTCPTrustOnlyFromAllowFrom(t *testing.T) {
	t.Parallel()
	srv := StartWith(t, Options{TCP: "127.0.0.1:0", AllowFrom: []string{"127.0.0.2/32"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, srv.TCPDSN()) // from 127.0.0.1
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28000" {
		t.Fatalf("from 127.0.0.1: %v, want SQLSTATE 28000 (rejected by pg_hba)", err)
	}
	cfg, err := pgx.ParseConfig(srv.TCPDSN())
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	cfg.DialFunc = d.DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("from 127.0.0.2: %v", err)
	}
	conn.Close(ctx)
}

// TestKillAndRestart: Kill ends the server at once (the connection dies),
// Start recovers it, and committed rows are back.
func TestKillAndRestart(t *testing.T) {
	t.Parallel()
	srv := StartWith(t, Options{TCP: "127.0.0.1:0"})
	ctx := context.Background()
	conn := connect(t, srv.TCPDSN())
	if _, err := conn.Exec(ctx, `CREATE TABLE wallets (user_id bigint PRIMARY KEY); INSERT INTO wallets SELECT generate_series(1, 100)`); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("the connection survived Kill")
	}
	srv.Kill() // a killed server: nothing to do
	srv.Start()
	if n := count(t, connect(t, srv.TCPDSN())); n != 100 {
		t.Fatalf("%d rows after kill and restart", n)
	}
	b, _ := os.ReadFile(srv.logPath())
	if !strings.Contains(string(b), "not properly shut down") {
		t.Errorf("no crash recovery in the log:\n%s", srv.logTail())
	}
}

// TestNetNS: a server in its own network namespace listens there, not in
// the test's: over TCP it is reached only from inside the namespace.
func TestNetNS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2)")
	}
	ns := "pgtest-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // a port free here; the namespace has none in use
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := StartWith(t, Options{TCP: "127.0.0.1:" + strconv.Itoa(port), NetNS: ns})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pgx.Connect(ctx, srv.TCPDSN()); err == nil {
		t.Fatal("reached the namespace's server from the test's namespace")
	}
	cfg, err := pgx.ParseConfig(srv.TCPDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) { return dialIn(ns, network, addr) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("from inside the namespace: %v", err)
	}
	conn.Close(ctx)
	srv.Stop()
	srv.Start() // restarts in the namespace too
	conn, err = pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	conn.Close(ctx)
}

// dialIn dials from inside the network namespace ns (a socket belongs to
// the namespace of the thread that made it).
func dialIn(ns, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, err}
			return
		}
		c, err := net.DialTimeout(network, addr, 5*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
