package bolt

import (
	"context"
	"fmt"
	"io"

	"go.etcd.io/bbolt"
)

// BackupTo is Backup for a caller that must know the snapshot's size and
// schema version before the first byte is written, such as an HTTP handler
// setting Content-Length. Inside one read transaction it calls begin with the
// snapshot's size in bytes and its schema version, then writes the snapshot
// to the writer begin returns. An error from begin ends the backup before
// anything is written. It returns the number of bytes written.
func (db *DB) BackupTo(begin func(size int64, schema uint64) (io.Writer, error)) (int64, error) {
	var n int64
	err := db.bdb.View(func(tx *bbolt.Tx) error {
		schema, err := decodeSchemaVersion(tx.Bucket(bucketMeta).Get(metaSchemaKey))
		if err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
		w, err := begin(tx.Size(), schema)
		if err != nil {
			return err
		}
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	return n, nil
}

// Ping reports whether the file is open: a bbolt file answers as long as
// the process runs, so it only begins (and ends) a read transaction, which
// fails once Close has been called.
func (db *DB) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := db.bdb.Begin(false)
	if err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	return tx.Rollback()
}

// SchemaVersion is the schema version stored in the open file.
func (db *DB) SchemaVersion() (uint64, error) {
	var v uint64
	err := db.bdb.View(func(tx *bbolt.Tx) error {
		var err error
		v, err = decodeSchemaVersion(tx.Bucket(bucketMeta).Get(metaSchemaKey))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: %s: schema version: %w", db.path, err)
	}
	return v, nil
}
