package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
)

// MigrateMain is `autowallet migrate`: it copies the bbolt file of a data
// folder into a PostgreSQL database (docs/postgres.md, "Moving from bbolt").
//
// The copy is storage.Copy: every record in canonical form, 1,000 per
// transaction; a record the database already holds unchanged is skipped, so
// running it again changes nothing and a copy that stopped half way is
// completed. At the end both sides are summarized (records per kind and one
// SHA-256 over every record, sealed keys and transfers included) and must
// agree. A record the database holds with different data stops the copy
// with its name (storage.ErrConflict): migrate never overwrites.
//
// The parent must be stopped (the bbolt lock is not waited for) and the
// parents on PostgreSQL not started yet: alerts delivered there would be
// copied again from the file.
type MigrateMain struct {
	DataDir     string
	DatabaseURL string

	log    *slog.Logger
	stdout io.Writer
}

// NewMigrateMain returns the migrate program.
func NewMigrateMain(log *slog.Logger, stdout io.Writer) *MigrateMain {
	return &MigrateMain{log: log, stdout: stdout}
}

// ParseFlags reads -data and -database.
func (m *MigrateMain) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.StringVar(&m.DataDir, "data", envOr("AUTOWALLET_DATA", "autowallet-data"), "data folder with the bbolt file to copy [AUTOWALLET_DATA]")
	secretVar(fs, &m.DatabaseURL, "database", "AUTOWALLET_DATABASE_URL", "PostgreSQL database to copy into (postgres://… or key=value) [AUTOWALLET_DATABASE_URL]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if m.DatabaseURL == "" {
		return errors.New("missing -database (AUTOWALLET_DATABASE_URL): the PostgreSQL database to copy into")
	}
	return nil
}

// Run copies and verifies.
func (m *MigrateMain) Run(ctx context.Context) error {
	path := filepath.Join(m.DataDir, bolt.FileName)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no bbolt database to copy: %w", err)
	}
	src, err := bolt.OpenFile(path, bolt.Options{Timeout: -1, Logger: m.log})
	if errors.Is(err, bolt.ErrLocked) {
		return fmt.Errorf("%s is locked by another process, most likely a running autowallet parent: stop it first", path)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, m.DatabaseURL, postgres.Options{Logger: m.log})
	if err != nil {
		return fmt.Errorf("opening PostgreSQL (%s): %w", postgres.Describe(m.DatabaseURL), err)
	}
	defer dst.Close()
	t0 := time.Now()
	sum, err := storage.Copy(dst, src)
	if err != nil {
		return fmt.Errorf("copying %s into %s: %w", path, postgres.Describe(m.DatabaseURL), err)
	}
	fmt.Fprintf(m.stdout, "autowallet migrate: %s -> %s verified in %s\n", path, postgres.Describe(m.DatabaseURL), time.Since(t0).Round(time.Millisecond))
	for _, k := range storage.ItemKinds {
		fmt.Fprintf(m.stdout, "  %-9s %d\n", k+"s", sum.Counts[k])
	}
	fmt.Fprintf(m.stdout, "  sha256    %x (every record, both sides)\n", sum.Checksum)
	return nil
}

// Done: migrate is a one-shot command.
func (m *MigrateMain) Done() bool { return true }

// Close does nothing: Run has closed both stores.
func (m *MigrateMain) Close() error { return nil }
