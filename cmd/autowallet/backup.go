package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// The admin listener of `autowallet parent` (-admin) and `autowallet backup`,
// its client. The parent holds bbolt's exclusive lock on the database file,
// so a consistent copy of a running deployment can only come from the parent
// itself: GET /backup streams a snapshot taken in one read transaction while
// the bot keeps serving.

// Admin API names.
const (
	// PathAdminBackup streams a snapshot of the database file.
	PathAdminBackup = "/backup"
	// AdminTokenFile is the file in the data folder holding the admin
	// listener's bearer token (mode 0600), written when the parent starts.
	AdminTokenFile = "admin.token"
	// HeaderSchema carries the snapshot's schema version.
	HeaderSchema = "X-Autowallet-Schema"
)

// checkLoopback accepts only host:port with a loopback IP literal host: the
// admin listener hands out the whole database and must never be reachable
// from the network. Names (even "localhost") are refused, since what they
// resolve to is up to /etc/hosts and DNS.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-admin %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-admin %q: the admin listener serves the whole database, so it listens on a loopback IP only (127.0.0.1:%s or [::1]:%s)", addr, port, port)
	}
	return nil
}

// adminServer is the parent's admin listener.
type adminServer struct {
	server   *http.Server
	listener net.Listener
	done     chan struct{}
}

// startAdmin writes a fresh admin token into the data folder and serves the
// admin API on addr (loopback only); routes add handlers beside /backup
// (the operators' /metrics, /healthz, /readyz: ops.go).
func startAdmin(addr, dataDir string, store storage.Store, log *slog.Logger, routes ...func(*http.ServeMux)) (*adminServer, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	token, err := writeAdminToken(filepath.Join(dataDir, AdminTokenFile))
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+PathAdminBackup, adminAuth(token, backupHandlerFor(store, log)))
	for _, r := range routes {
		r(mux)
	}
	a := &adminServer{
		// No write timeout: a backup of a large file may take a while.
		server: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       90 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		listener: l,
		done:     make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		if err := a.server.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server", "err", err)
		}
	}()
	return a, nil
}

// Addr is the admin listener's address.
func (a *adminServer) Addr() net.Addr { return a.listener.Addr() }

// Close stops the admin listener, waiting a while for a backup in flight.
func (a *adminServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := a.server.Shutdown(ctx)
	<-a.done
	return err
}

// writeAdminToken makes a random token and writes it to path with mode 0600,
// replacing an older one.
func writeAdminToken(path string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b)
	if err := writeFileAtomic(path, []byte(token+"\n")); err != nil {
		return "", fmt.Errorf("writing the admin token: %w", err)
	}
	return token, nil
}

func adminAuth(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "admin token missing or wrong: send \"Authorization: Bearer <token>\" with the token from "+AdminTokenFile+" in the parent's data folder (autowallet backup -token-file)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// NoBackupOnPostgres is the answer of /backup on a parent that keeps its
// state in PostgreSQL: the database is backed up by the database's tools.
const NoBackupOnPostgres = "this parent keeps its state in PostgreSQL: /backup copies a bbolt file only; back the database up with pg_dump, or with RDS snapshots and point-in-time recovery (docs/postgres.md)\n"

// backupHandlerFor is the /backup handler of the store's engine: the bbolt
// snapshot, or a 404 that says what to use instead.
func backupHandlerFor(store storage.Store, log *slog.Logger) http.Handler {
	if db, ok := store.(*bolt.DB); ok {
		return backupHandler(db, log)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, NoBackupOnPostgres)
	})
}

// backupHandler streams bolt.DB.BackupTo: Content-Length is the snapshot's
// size, known before the first byte.
func backupHandler(store *bolt.DB, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := false
		n, err := store.BackupTo(func(size int64, schema uint64) (io.Writer, error) {
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Length", strconv.FormatInt(size, 10))
			h.Set("Content-Disposition", `attachment; filename="`+bolt.FileName+`"`)
			h.Set(HeaderSchema, strconv.FormatUint(schema, 10))
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			started = true
			return w, nil
		})
		if err != nil {
			log.Error("backup failed", "err", err, "written", n)
			if !started {
				http.Error(w, "backup failed: "+err.Error(), http.StatusInternalServerError)
			}
			// Otherwise the client sees a body shorter than Content-Length.
			return
		}
		log.Info("backup served", "bytes", n, "remote", r.RemoteAddr)
	})
}

// BackupMain is `autowallet backup`: a consistent copy of the database, from
// the running parent's admin listener (-url) or from a data folder no process
// has open (-data).
type BackupMain struct {
	URL       string
	TokenFile string
	DataDir   string
	Output    string
	Timeout   time.Duration

	log    *slog.Logger
	stdout io.Writer
}

// NewBackupMain returns the backup program.
func NewBackupMain(log *slog.Logger, stdout io.Writer) *BackupMain {
	return &BackupMain{log: log, stdout: stdout}
}

// Done tells main that the command has finished once Run returns.
func (m *BackupMain) Done() bool { return true }

// ParseFlags reads the command line.
func (m *BackupMain) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.StringVar(&m.URL, "url", "", "admin URL of the running parent, e.g. http://127.0.0.1:8081 (its -admin address)")
	fs.StringVar(&m.TokenFile, "token-file", envOr("AUTOWALLET_ADMIN_TOKEN_FILE", filepath.Join(envOr("AUTOWALLET_DATA", "autowallet-data"), AdminTokenFile)),
		"with -url: the parent's admin token [AUTOWALLET_ADMIN_TOKEN_FILE, default <AUTOWALLET_DATA>/"+AdminTokenFile+"]")
	fs.StringVar(&m.DataDir, "data", "", "instead of -url: copy this data folder directly (only when no process has it open)")
	fs.StringVar(&m.Output, "o", "", "the backup file to write (replaced atomically, mode 0600)")
	fs.DurationVar(&m.Timeout, "timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	switch {
	case m.Output == "":
		return errors.New("-o <file> is required")
	case (m.URL == "") == (m.DataDir == ""):
		return errors.New("give exactly one of -url (a running parent's admin listener) or -data (a stopped parent's data folder)")
	}
	return nil
}

// Run makes the backup: into a temp file beside -o, fsynced, checked to open
// with the expected schema, then renamed into place.
func (m *BackupMain) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.Timeout)
	defer cancel()
	dir := filepath.Dir(m.Output)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(m.Output)+".*.tmp")
	if err != nil {
		return fmt.Errorf("creating a temp file beside %s: %w", m.Output, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	var n int64
	var schema uint64
	if m.URL != "" {
		n, schema, err = m.fetch(ctx, tmp)
	} else {
		n, schema, err = m.copyStopped(tmp)
	}
	if err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := checkBackup(tmp.Name(), schema); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), m.Output); err != nil {
		return err
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "autowallet backup: wrote %s (%d bytes, schema %d)\n", m.Output, n, schema)
	return nil
}

// Close does nothing: Run has finished the work.
func (m *BackupMain) Close() error { return nil }

func (m *BackupMain) fetch(ctx context.Context, w io.Writer) (int64, uint64, error) {
	u := strings.TrimRight(m.URL, "/") + PathAdminBackup
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("-url: %w", err)
	}
	if tok, err := os.ReadFile(m.TokenFile); err == nil {
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, 0, fmt.Errorf("reading the admin token: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("asking the parent for a backup: %w (is it running with -admin?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, 0, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(msg)))
	}
	schema, err := strconv.ParseUint(resp.Header.Get(HeaderSchema), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("GET %s: no %s header: is this an autowallet admin listener?", u, HeaderSchema)
	}
	if resp.ContentLength <= 0 {
		return 0, 0, fmt.Errorf("GET %s: Content-Length %d, want the snapshot's size", u, resp.ContentLength)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, 0, fmt.Errorf("receiving the backup: %w", err)
	}
	if n != resp.ContentLength {
		return n, 0, fmt.Errorf("received %d bytes, the parent announced %d", n, resp.ContentLength)
	}
	return n, schema, nil
}

// copyStopped copies a data folder no process has open. It never waits for
// the lock: a held lock means a running parent, which must make the copy.
func (m *BackupMain) copyStopped(w io.Writer) (int64, uint64, error) {
	path := filepath.Join(m.DataDir, bolt.FileName)
	if _, err := os.Stat(path); err != nil {
		return 0, 0, fmt.Errorf("no database to back up: %w", err)
	}
	db, err := bolt.OpenFile(path, bolt.Options{Timeout: -1, Logger: m.log})
	if errors.Is(err, bolt.ErrLocked) {
		return 0, 0, fmt.Errorf("%s is locked by another process, most likely a running autowallet parent: "+
			"a running parent must make the copy itself; start it with -admin 127.0.0.1:8081 and run "+
			"autowallet backup -url http://127.0.0.1:8081 -token-file %s -o %s",
			path, filepath.Join(m.DataDir, AdminTokenFile), m.Output)
	}
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	var schema uint64
	n, err := db.BackupTo(func(_ int64, s uint64) (io.Writer, error) {
		schema = s
		return w, nil
	})
	return n, schema, err
}

// checkBackup opens the copy like the parent would and compares its schema
// version with the source's and this program's.
func checkBackup(path string, schema uint64) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		// bbolt would initialise an empty file as a fresh database.
		return errors.New("the backup is empty")
	}
	db, err := bolt.OpenFile(path, bolt.Options{Timeout: -1})
	if err != nil {
		return fmt.Errorf("the backup does not open: %w", err)
	}
	got, err := db.SchemaVersion()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("the backup does not open: %w", err)
	}
	if got != schema || got != bolt.SchemaVersion {
		return fmt.Errorf("the backup has schema %d, the source %d, this program %d", got, schema, bolt.SchemaVersion)
	}
	return nil
}

// writeFileAtomic writes data to path (mode 0600) via a temp file and rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
