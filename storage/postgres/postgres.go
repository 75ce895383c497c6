// Package postgres is the PostgreSQL engine of storage.Store, for
// deployments of several parents on one database (docs/postgres.md). It
// keeps the same records and rules as the bbolt engine of package storage,
// and reuses that package's validation, so both refuse the same values with
// the same sentinel errors; storage/storagetest proves they behave alike.
//
// Every method runs in one transaction (READ COMMITTED). The rules are
// constraints of the schema (one wallet per owner, one owner per address,
// one open transfer per chain, wallet and nonce) and every state change
// reads its row with SELECT … FOR UPDATE first. A transaction that loses a
// race (a unique violation, a deadlock, a serialization failure) is run
// again from the start, at most MaxAttempts times: the second run sees the
// winner's row and answers as the bbolt engine would have (the existing
// wallet, ErrNonceInUse, ...).
package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/autowallet/autowallet/storage"
)

// MaxAttempts bounds how often one transaction is tried.
const MaxAttempts = 8

// DefaultOpTimeout bounds one method call (all its attempts) when
// Options.OpTimeout is zero.
const DefaultOpTimeout = 30 * time.Second

// DefaultMaxConns is the pool size when neither Options.MaxConns nor the
// DSN's pool_max_conns says.
const DefaultMaxConns = 16

// Options tune Open. The zero value is usable.
type Options struct {
	// Logger receives the few events worth logging (migrations applied).
	// Nil discards them. The DSN's password is never logged.
	Logger *slog.Logger
	// Now is the clock for Created/Updated of users, wallets and transfers
	// (nil: time.Now). Claims and leases use the server's now() instead, so
	// that several parents share one clock.
	Now func() time.Time
	// OpTimeout bounds one method call; zero means DefaultOpTimeout.
	OpTimeout time.Duration
	// MaxConns caps the pool; zero: pool_max_conns of the DSN, else
	// DefaultMaxConns.
	MaxConns int32
	// UnavailableWait is how long one call waits for an unreachable server
	// (unavailable.go) before failing with storage.ErrUnavailable; zero
	// means DefaultUnavailableWait, negative not at all.
	UnavailableWait time.Duration
}

// DB is an open PostgreSQL store. Its methods are safe for concurrent use.
type DB struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	wait    time.Duration // Options.UnavailableWait
	schema  uint64
}

var _ storage.Store = (*DB)(nil)
var _ storage.Copier = (*DB)(nil)

// Open connects to the database of dsn (a postgres:// URL or a libpq
// key=value string), applies the migrations this program has and the
// database lacks (migrate.go) and returns the store. A database whose schema
// is newer than this program is refused with storage.ErrSchemaTooNew and
// left unmodified.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the string: say only that it failed.
		return nil, errors.New("postgres: the connection string does not parse (a postgres:// URL or key=value pairs)")
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(dsn, "pool_max_conns"):
		// Concurrent users' commits share WAL flushes only on separate
		// connections: more than pgxpool's max(4, CPUs).
		cfg.MaxConns = DefaultMaxConns
	}
	db := &DB{log: opts.Logger, now: opts.Now, timeout: opts.OpTimeout, wait: opts.UnavailableWait}
	if db.wait == 0 {
		db.wait = DefaultUnavailableWait
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if db.now == nil {
		db.now = time.Now
	}
	if db.timeout <= 0 {
		db.timeout = DefaultOpTimeout
	}
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", Describe(dsn), redact(err))
	}
	if db.schema, err = migrate(ctx, db.pool, db.log); err != nil {
		db.pool.Close()
		return nil, err
	}
	return db, nil
}

// Describe names the database of dsn for a log line: host, port and
// database, never the user's password.
func Describe(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "(unparsable connection string)"
	}
	return fmt.Sprintf("host=%s port=%d dbname=%s", cfg.Host, cfg.Port, cfg.Database)
}

// redact keeps an error's PostgreSQL code and message but drops what could
// carry the connection string.
func redact(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return errors.New("cannot connect (server down, wrong host, or authentication failed)")
	}
	return err
}

// Close closes every connection.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Pool is the connection pool, for tests and benchmarks that look at the
// database directly.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping reports whether the server answers within ctx (a pooled
// connection's round trip; a new connection when none is idle), without
// the wait for a server that went away that the other calls have
// (unavailable.go): the readiness check (/readyz) wants the present. A
// failure is storage.ErrUnavailable, redacted of the DSN.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w: %w", storage.ErrUnavailable, redact(err))
	}
	return nil
}

// SchemaVersion is the schema version the database has (the highest
// migration applied).
func (db *DB) SchemaVersion() (uint64, error) {
	var v int64
	err := db.run(true, func(tx *pgTx) error {
		return tx.row(`SELECT max(version) FROM schema_version`).Scan(&v)
	})
	return uint64(v), err
}

// retryable reports whether a failed attempt may simply be run again:
// it lost a race (serialization failure, deadlock, unique violation: the
// next attempt sees the winner), or its connection failed before anything
// was sent.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01", "23505":
			return true
		}
		return false
	}
	return pgconn.SafeToRetry(err)
}

// run runs fn in one transaction, committed when fn returns nil, and runs
// it again (up to MaxAttempts) when an attempt failed retryably. An attempt
// that failed because the server is away (a restart, a dropped connection:
// unavailable.go) is run again too, for up to db.wait from the first such
// failure, with growing pauses: pgxpool replaces the dead connections, so a
// server back within that time costs the caller a delay, not an error.
// A failure that outlives that is wrapped with storage.ErrUnavailable.
func (db *DB) run(readOnly bool, fn func(tx *pgTx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), db.timeout)
	defer cancel()
	mode := pgx.ReadWrite
	if readOnly {
		mode = pgx.ReadOnly
	}
	var err error
	var w waiter
	for attempt := 1; ; {
		err = db.attempt(ctx, mode, fn)
		if err == nil || ctx.Err() != nil {
			break
		}
		if mayWait(err) {
			if !w.again(ctx, db.wait) {
				break
			}
			continue
		}
		if !retryable(err) || attempt == MaxAttempts {
			break
		}
		// A short pause, growing, lets the winner commit.
		time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
		attempt++
	}
	return mapErr(err)
}

func (db *DB) attempt(ctx context.Context, mode pgx.TxAccessMode, fn func(tx *pgTx) error) error {
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: mode})
	if err != nil {
		// Not redacted here, so run can tell the server's absence; run's
		// mapErr redacts what it returns.
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer ptx.Rollback(context.Background())
	tx := &pgTx{ctx: ctx, tx: ptx, now: db.now().UTC()}
	err = fn(tx)
	// A statement that failed aborts the PostgreSQL transaction even when
	// fn went on: a lost race is retried whatever fn made of it.
	if tx.failed != nil && retryable(tx.failed) {
		return tx.failed
	}
	if err != nil {
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return &commitError{err}
	}
	return nil
}

// mapErr turns the unique violation that outlived every attempt into the
// domain's sentinel (in practice the attempts end such races first).
func mapErr(err error) error {
	if down(err) {
		// The caller tests errors.Is(err, storage.ErrUnavailable); the
		// cause stays in the chain (redacted where it could quote the DSN).
		return fmt.Errorf("postgres: %w: %w", storage.ErrUnavailable, redact(err))
	}
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || pe.Code != "23505" {
		return err
	}
	switch pe.ConstraintName {
	case "wallets_address_key":
		return fmt.Errorf("postgres: %w: %s", storage.ErrWalletExists, pe.Message)
	case "transfers_nonce":
		return fmt.Errorf("postgres: %w: %s", storage.ErrNonceInUse, pe.Message)
	case "transfers_pkey":
		return fmt.Errorf("postgres: %w: %s", storage.ErrTransferExists, pe.Message)
	}
	return err
}

// pgTx is one attempt's transaction; it is the storage.Tx of Update.
type pgTx struct {
	ctx    context.Context
	tx     pgx.Tx
	now    time.Time
	failed error // the first statement error
}

func (tx *pgTx) note(err error) error {
	if err != nil && tx.failed == nil && !errors.Is(err, pgx.ErrNoRows) {
		tx.failed = err
	}
	return err
}

func (tx *pgTx) exec(sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := tx.tx.Exec(tx.ctx, sql, args...)
	return tag, tx.note(err)
}

type noteRow struct {
	tx  *pgTx
	row pgx.Row
}

func (r noteRow) Scan(dest ...any) error { return r.tx.note(r.row.Scan(dest...)) }

func (tx *pgTx) row(sql string, args ...any) pgx.Row {
	return noteRow{tx, tx.tx.QueryRow(tx.ctx, sql, args...)}
}

// rows runs a query and calls each for every row.
func (tx *pgTx) rows(sql string, args []any, each func(pgx.Rows) error) error {
	rows, err := tx.tx.Query(tx.ctx, sql, args...)
	if err != nil {
		return tx.note(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return tx.note(rows.Err())
}

// Update runs fn in one transaction, committed only if fn returns nil; fn
// may run more than once (storage.Store).
func (db *DB) Update(fn func(tx storage.Tx) error) error {
	return db.run(false, func(tx *pgTx) error { return fn(tx) })
}

// read and write run one method in a transaction of its own.
func read[T any](db *DB, fn func(tx *pgTx) (T, error)) (T, error) {
	var out T
	err := db.run(true, func(tx *pgTx) (err error) { out, err = fn(tx); return err })
	return out, err
}

func write[T any](db *DB, fn func(tx *pgTx) (T, error)) (T, error) {
	var out T
	err := db.run(false, func(tx *pgTx) (err error) { out, err = fn(tx); return err })
	return out, err
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// snapshot runs fn in one read-only REPEATABLE READ transaction: every
// statement sees the same snapshot (the bbolt engine's read transaction).
func (db *DB) snapshot(fn func(tx *pgTx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*db.timeout)
	defer cancel()
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", redact(err))
	}
	defer ptx.Rollback(context.Background())
	return fn(&pgTx{ctx: ctx, tx: ptx, now: db.now().UTC()})
}

// Unverified says why the connection of dsn does not authenticate the
// server ("" when it does, or when it never leaves the machine: a unix
// socket or a loopback address). With several parents the database holds
// what the bot tells users (docs/threat-model.md, "the database as an
// attacker"), so whoever sits between a parent and a remote database
// without sslmode=verify-full (or verify-ca) can read and write it: the
// parent says so at start.
func Unverified(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "the connection string does not parse"
	}
	if strings.HasPrefix(cfg.Host, "/") || cfg.Host == "localhost" {
		return ""
	}
	if ip := net.ParseIP(cfg.Host); ip != nil && ip.IsLoopback() {
		return ""
	}
	verified := func(c *tls.Config) bool {
		// verify-full checks the name; verify-ca skips it but checks the
		// chain itself (VerifyPeerCertificate); require, prefer and allow
		// check nothing.
		return c != nil && (!c.InsecureSkipVerify || c.VerifyPeerCertificate != nil)
	}
	if !verified(cfg.TLSConfig) {
		return "sslmode does not verify the server (use sslmode=verify-full with the server's CA)"
	}
	for _, f := range cfg.Fallbacks {
		if !verified(f.TLSConfig) {
			return "sslmode allows a connection that does not verify the server (use sslmode=verify-full with the server's CA)"
		}
	}
	return ""
}
