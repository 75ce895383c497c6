package postgres_test

import (
	"context"
	"testing"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/postgres"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestConformance runs the engine-neutral suite on a real PostgreSQL
// server: one server, a fresh database per test.
func TestConformance(t *testing.T) {
	srv := pgtest.Start(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, srv.NewDatabase(t))
	})
}

func open(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
