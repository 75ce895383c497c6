package pgtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func count(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM wallets").Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// TestRestartKeepsData writes through pgx, restarts the server with Stop and
// Start, and reads the rows back through a new connection; the old
// connection is dead, as a parent's would be.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	ctx := context.Background()
	conn := connect(t, srv.DSN())
	if _, err := conn.Exec(ctx, `CREATE TABLE wallets (user_id bigint PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"ä", "b", "c"} { // UTF8: a non-ASCII name survives
		if _, err := conn.Exec(ctx, `INSERT INTO wallets VALUES ($1, $2)`, i, name); err != nil {
			t.Fatal(err)
		}
	}
	// The constraint works: this is a real server, not a mock.
	_, err := conn.Exec(ctx, `INSERT INTO wallets VALUES (0, 'dup')`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("duplicate insert: got %v, want unique_violation 23505", err)
	}

	srv.Stop()
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("ping on a stopped server succeeded")
	}
	srv.Start()
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("the connection from before the restart still works; want it closed")
	}

	conn2 := connect(t, srv.DSN())
	if n := count(t, conn2); n != 3 {
		t.Fatalf("after restart: %d rows, want 3", n)
	}
	var name string
	if err := conn2.QueryRow(ctx, `SELECT name FROM wallets WHERE user_id = 0`).Scan(&name); err != nil || name != "ä" {
		t.Fatalf("after restart: name %q, %v; want ä", name, err)
	}
}

// TestParallelServers runs two servers at once: each has its own socket and
// data, so a table made on one is absent on the other.
func TestParallelServers(t *testing.T) {
	t.Parallel()
	var both sync.WaitGroup
	both.Add(2)
	var mu sync.Mutex
	var dirs []string
	t.Run("group", func(t *testing.T) {
		for _, name := range []string{"a", "b"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				srv := Start(t)
				conn := connect(t, srv.DSN())
				_, err := conn.Exec(context.Background(), `CREATE TABLE only_`+name+` (x int)`)
				mu.Lock()
				dirs = append(dirs, srv.Dir())
				mu.Unlock()
				both.Done()
				both.Wait() // both servers are up and have their table now
				if err != nil {
					t.Fatal(err)
				}
				var tables string
				err = conn.QueryRow(context.Background(),
					`SELECT string_agg(relname, ',') FROM pg_class WHERE relname LIKE 'only_%'`).Scan(&tables)
				if err != nil || tables != "only_"+name {
					t.Fatalf("tables on server %s: %q, %v; want only_%s", name, tables, err, name)
				}
			})
		}
	})
	if len(dirs) != 2 || dirs[0] == dirs[1] {
		t.Fatalf("server directories %v; want two different", dirs)
	}
}

// TestNoTCPAndPrivateSocket checks the server's exposure: no TCP listener,
// a socket directory only its owner can enter.
func TestNoTCPAndPrivateSocket(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	conn := connect(t, srv.DSN())
	var listen string
	if err := conn.QueryRow(context.Background(), `SHOW listen_addresses`).Scan(&listen); err != nil || listen != "" {
		t.Fatalf("listen_addresses = %q, %v; want empty", listen, err)
	}
	fi, err := os.Stat(srv.Dir())
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	var enc, collate string
	if err := conn.QueryRow(context.Background(),
		`SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = current_database()`).Scan(&enc, &collate); err != nil {
		t.Fatal(err)
	}
	if enc != "UTF8" || collate != "C" {
		t.Fatalf("encoding %s collate %s; want UTF8 C", enc, collate)
	}
}

// TestNewDatabase gives two tests on one server separate databases.
func TestNewDatabase(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	a, b := connect(t, srv.NewDatabase(t)), connect(t, srv.NewDatabase(t))
	if _, err := a.Exec(context.Background(), `CREATE TABLE wallets (x int)`); err != nil {
		t.Fatal(err)
	}
	_, err := b.Exec(context.Background(), `SELECT * FROM wallets`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		t.Fatalf("table of database a seen from b: %v; want undefined_table 42P01", err)
	}
}

// TestFindBinSaysMakeTools: without server binaries the error says what to run.
func TestFindBinSaysMakeTools(t *testing.T) {
	if _, err := FindBin(); err != nil {
		t.Fatalf("this machine has no server: %v", err)
	}
	_, err := findBinIn(t.TempDir() + "/*/bin")
	if err == nil || !strings.Contains(err.Error(), "run `make tools`") {
		t.Fatalf("FindBin with no server: %v; want it to say run `make tools`", err)
	}
}

// TestStartTime measures a start (initdb, start, CREATE DATABASE) and a
// restart, for the package doc.
func TestStartTime(t *testing.T) {
	begin := time.Now()
	srv := Start(t)
	started := time.Since(begin)
	begin = time.Now()
	srv.Stop()
	stopped := time.Since(begin)
	begin = time.Now()
	srv.Start()
	t.Logf("start %v, stop %v, restart %v", started.Round(time.Millisecond), stopped.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
}

// TestKilledTestLeavesNoServer kills -9 a test process that has a server
// running (this test binary, rerun as a child) and checks that the server
// goes too: Pdeathsig, as cleanups never run after SIGKILL.
func TestKilledTestLeavesNoServer(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "1" {
		srv := Start(t)
		os.WriteFile(os.Getenv("PGTEST_OUT"), []byte(srv.Dir()), 0o600)
		time.Sleep(time.Minute) // killed long before
		return
	}
	t.Parallel()
	out := filepath.Join(t.TempDir(), "dir")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledTestLeavesNoServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", "PGTEST_OUT="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var dir []byte
	for deadline := time.Now().Add(ReadyTimeout + InitTimeout); len(dir) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the child never started its server")
		}
		dir, _ = os.ReadFile(out)
	}
	t.Cleanup(func() { os.RemoveAll(string(dir)) }) // the child's cleanup never runs
	pidFile, err := os.ReadFile(filepath.Join(string(dir), "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("postmaster %d not running before the kill: %v", pid, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(StopTimeout); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d still running %v after its test process was killed", pid, StopTimeout)
		}
	}
}
