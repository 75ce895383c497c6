package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/autowallet/autowallet/storage"
)

// Migrations are the SQL files migrations/NNNN_name.sql, applied in order
// of NNNN; the highest NNNN is the schema version this program writes.
// A file, once released, never changes: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the key of the advisory lock Open takes while it reads
// and upgrades the schema, so parents starting together apply each
// migration once (the others wait, then find it applied).
const migrationLock int64 = 0x6177_6d69_6772 // "awmigr"

type migration struct {
	version uint64
	name    string
	sql     string
}

// migrations lists the embedded files by version.
func migrations() ([]migration, error) { return loadMigrations(migrationFiles, "migrations") }

func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil || v == 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("postgres: migration file %q is not NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != uint64(i+1) {
			return nil, fmt.Errorf("postgres: migrations are not numbered 1, 2, 3, ...: %s", m.name)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this program writes.
func SchemaVersion() uint64 {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time; a test checks them
	}
	return uint64(len(ms))
}

// migrate brings the database to this program's schema in one transaction
// under the advisory lock and returns the version. A newer database is
// refused before anything is written.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (uint64, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	return migrateWith(ctx, pool, log, ms)
}

func migrateWith(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, ms []migration) (uint64, error) {
	known := uint64(len(ms))
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", redact(err))
	}
	defer tx.Rollback(context.Background())
	// Released at commit or rollback.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return 0, fmt.Errorf("postgres: migrate: lock: %w", redact(err))
	}
	current, err := currentVersion(ctx, tx)
	if err != nil {
		return 0, err
	}
	if current > known {
		return 0, fmt.Errorf("postgres: %w: the database has schema version %d, this program knows up to %d; upgrade autowallet (the database was not modified)", storage.ErrSchemaTooNew, current, known)
	}
	if current == known {
		return current, nil
	}
	for _, m := range ms[current:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return 0, fmt.Errorf("postgres: migration %s: %w", m.name, redact(err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, int64(m.version)); err != nil {
			return 0, fmt.Errorf("postgres: migration %s: %w", m.name, redact(err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: migrate: commit: %w", redact(err))
	}
	log.Info("postgres: schema migrated", "from", current, "to", known)
	return known, nil
}

// currentVersion is the highest version in schema_version; 0 when the
// table does not exist (an empty database). Tables without that table are
// refused: the database belongs to something else.
func currentVersion(ctx context.Context, tx pgx.Tx) (uint64, error) {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", redact(err))
	}
	if !exists {
		var other string
		err := tx.QueryRow(ctx, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name IN ('wallets', 'users', 'transfers') LIMIT 1`).Scan(&other)
		if err == nil {
			return 0, fmt.Errorf("postgres: %w: table %q without schema_version; not an autowallet database", storage.ErrCorrupt, other)
		}
		return 0, nil
	}
	var v *int64
	if err := tx.QueryRow(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", redact(err))
	}
	if v == nil || *v <= 0 {
		return 0, fmt.Errorf("postgres: %w: schema_version is empty", storage.ErrCorrupt)
	}
	return uint64(*v), nil
}
