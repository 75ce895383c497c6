package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func versions(t *testing.T, c *pgx.Conn) []int64 {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrationFilesAreNumbered(t *testing.T) {
	ms, err := migrations()
	if err != nil || len(ms) == 0 || SchemaVersion() != uint64(len(ms)) {
		t.Fatal(ms, err)
	}
	for _, bad := range []fstest.MapFS{
		{"m/0001_a.sql": {}, "m/0003_b.sql": {}}, // a gap
		{"m/x_a.sql": {}},                        // no number
		{"m/0001_a.txt": {}},                     // not SQL
	} {
		if _, err := loadMigrations(bad, "m"); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestOpenMigratesOnceAndReopens: a fresh database gets every migration
// once; opening again applies nothing and keeps the data.
func testOpenMigratesOnceAndReopens(t *testing.T, srv *pgtest.Server) {
	dsn := srv.NewDatabase(t)
	db, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(); err != nil || v != SchemaVersion() {
		t.Fatal(v, err)
	}
	if err := db.PutMeta("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Meta("k"); err != nil || string(v) != "v" {
		t.Fatal(v, err)
	}
	if v := versions(t, connect(t, dsn)); len(v) != int(SchemaVersion()) {
		t.Fatalf("schema_version rows %v", v)
	}
}

// TestConcurrentOpensMigrateOnce: parents starting together on an empty
// database: the advisory lock lets one migrate, the others find it done.
func testConcurrentOpensMigrateOnce(t *testing.T, srv *pgtest.Server) {
	dsn := srv.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), dsn, Options{})
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if v := versions(t, connect(t, dsn)); len(v) != int(SchemaVersion()) {
		t.Fatalf("schema_version rows %v", v)
	}
}

// TestSchemaTooNewIsRefusedAndUntouched: a database written by a newer
// program is refused with ErrSchemaTooNew, and nothing in it changes.
func testSchemaTooNewIsRefusedAndUntouched(t *testing.T, srv *pgtest.Server) {
	dsn := srv.NewDatabase(t)
	db, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	c := connect(t, dsn)
	ctx := context.Background()
	if _, err := c.Exec(ctx, `INSERT INTO schema_version (version) VALUES (99); CREATE TABLE future (x int); INSERT INTO meta VALUES ('k', 'v')`); err != nil {
		t.Fatal(err)
	}
	fingerprint := func() string {
		var s string
		if err := c.QueryRow(ctx, `SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		var m string
		if err := c.QueryRow(ctx, `SELECT string_agg(key || '=' || encode(value, 'escape'), ',') FROM meta`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return s + "|" + m
	}
	before := fingerprint()
	_, err = Open(ctx, dsn, Options{})
	if !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "99") {
		t.Errorf("the error does not say the version: %v", err)
	}
	if after := fingerprint(); after != before {
		t.Fatalf("the database changed: %s -> %s", before, after)
	}
	if v := versions(t, c); len(v) != int(SchemaVersion())+1 || v[len(v)-1] != 99 {
		t.Fatal(v)
	}
}

// TestUpgradeInOneTransaction: a database at version 1 gets version 2
// applied; a migration that fails leaves the database at version 1 with
// none of its statements applied.
func testUpgradeInOneTransaction(t *testing.T, srv *pgtest.Server) {
	dsn := srv.NewDatabase(t)
	db, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, _ := migrations()
	ctx := context.Background()
	bad := append(ms[:len(ms):len(ms)],
		migration{version: uint64(len(ms) + 1), name: "9998_half.sql", sql: `CREATE TABLE half (x int); SELECT no_such_function()`})
	if _, err := migrateWith(ctx, db.pool, db.log, bad); err == nil || !strings.Contains(err.Error(), "9998_half.sql") {
		t.Fatalf("a failing migration: %v", err)
	}
	c := connect(t, dsn)
	var half bool
	if err := c.QueryRow(ctx, `SELECT to_regclass('half') IS NOT NULL`).Scan(&half); err != nil || half {
		t.Fatal("half a migration was applied", half, err)
	}
	if v := versions(t, c); len(v) != len(ms) {
		t.Fatal(v)
	}
	good := append(ms[:len(ms):len(ms)],
		migration{version: uint64(len(ms) + 1), name: "9999_next.sql", sql: `ALTER TABLE users ADD COLUMN note text`})
	if v, err := migrateWith(ctx, db.pool, db.log, good); err != nil || v != uint64(len(good)) {
		t.Fatal(v, err)
	}
	if v := versions(t, c); len(v) != len(good) {
		t.Fatal(v)
	}
	// This program (without 9999) now refuses the database.
	_, err = Open(ctx, dsn, Options{})
	if !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Fatal(err)
	}
}

// TestForeignDatabaseIsRefused: tables of ours without schema_version are
// not adopted.
func testForeignDatabaseIsRefused(t *testing.T, srv *pgtest.Server) {
	dsn := srv.NewDatabase(t)
	if _, err := connect(t, dsn).Exec(context.Background(), `CREATE TABLE wallets (x int)`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dsn, Options{})
	if !errors.Is(err, storage.ErrCorrupt) {
		t.Fatal(err)
	}
}

// TestDSNPasswordNeverShown: the description of a DSN and the errors of
// Open carry no password.
func TestDSNPasswordNeverShown(t *testing.T) {
	const secret = "hunter2-secret"
	for _, dsn := range []string{
		"postgres://app:" + secret + "@db.example:5433/autowallet?sslmode=disable",
		"host=db.example port=5433 user=app password=" + secret + " dbname=autowallet",
	} {
		d := Describe(dsn)
		if strings.Contains(d, secret) || !strings.Contains(d, "db.example") || !strings.Contains(d, "autowallet") {
			t.Errorf("Describe(%q) = %q", dsn, d)
		}
	}
	_, err := Open(context.Background(), "postgres://app:"+secret+"@127.0.0.1:1/x?connect_timeout=1&sslmode=disable", Options{})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("open error: %v", err)
	}
	_, err = Open(context.Background(), "postgres://app:"+secret+"@[bad", Options{})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("parse error: %v", err)
	}
}

// TestMigrations runs the migration tests on one server, a database each.
func TestMigrations(t *testing.T) {
	srv := pgtest.Start(t)
	for name, fn := range map[string]func(*testing.T, *pgtest.Server){
		"OpenMigratesOnceAndReopens":        testOpenMigratesOnceAndReopens,
		"ConcurrentOpensMigrateOnce":        testConcurrentOpensMigrateOnce,
		"SchemaTooNewIsRefusedAndUntouched": testSchemaTooNewIsRefusedAndUntouched,
		"UpgradeInOneTransaction":           testUpgradeInOneTransaction,
		"ForeignDatabaseIsRefused":          testForeignDatabaseIsRefused,
	} {
		t.Run(name, func(t *testing.T) { fn(t, srv) })
	}
}
