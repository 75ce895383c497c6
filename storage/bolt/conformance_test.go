package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestConformance runs the engine-neutral suite on bbolt; storage/postgres
// runs the same suite on PostgreSQL.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "data"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
