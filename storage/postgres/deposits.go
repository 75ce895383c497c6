package postgres

import (
	"bytes"
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/storage"
)

// WatchCursor: see bolt.DB.WatchCursor.
func (db *DB) WatchCursor(chainID uint64) (storage.WatchCursor, error) {
	return read(db, func(tx *pgTx) (storage.WatchCursor, error) {
		var block int64
		var hashes []byte
		err := tx.row(`SELECT block, hashes FROM watch_cursors WHERE chain_id = $1`, int64(chainID)).Scan(&block, &hashes)
		if isNoRows(err) {
			return storage.WatchCursor{}, fmt.Errorf("storage: watch cursor of chain %d: %w", chainID, storage.ErrNotFound)
		} else if err != nil {
			return storage.WatchCursor{}, fmt.Errorf("postgres: watch cursor of chain %d: %w", chainID, err)
		}
		return cursorOf(chainID, block, hashes)
	})
}

// cursorOf checks a cursor row as the bbolt decoder checks its value.
func cursorOf(chainID uint64, block int64, hashes []byte) (storage.WatchCursor, error) {
	c := storage.WatchCursor{ChainID: chainID, Block: uint64(block)}
	n := len(hashes) / common.HashLength
	if len(hashes)%common.HashLength != 0 || n == 0 || n > storage.MaxCursorHashes || uint64(n) > c.Block+1 {
		return storage.WatchCursor{}, fmt.Errorf("storage: watch cursor of chain %d: %w: %d bytes of hashes", chainID, storage.ErrCorrupt, len(hashes))
	}
	for i := 0; i < n; i++ {
		c.Hashes = append(c.Hashes, common.Hash(hashes[i*32:(i+1)*32]))
	}
	return c, nil
}

func joinHashes(hs []common.Hash) []byte {
	b := make([]byte, 0, len(hs)*common.HashLength)
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// StoreWatchedBlocks: see bolt.DB.StoreWatchedBlocks. A deposit is
// inserted with ON CONFLICT DO NOTHING and gets its outbox entry only when
// the insert stored it: two parents storing the same block range announce
// each deposit once (the second waits on the first's row, then finds it).
func (db *DB) StoreWatchedBlocks(cur storage.WatchCursor, deposits []storage.Deposit) (int, error) {
	if err := storage.CheckWatchedBlocks(cur, deposits); err != nil {
		return 0, err
	}
	return write(db, func(tx *pgTx) (int, error) {
		added := 0
		for i := range deposits {
			d := &deposits[i]
			key := d.Key()
			tag, err := tx.exec(`INSERT INTO deposits (key, owner, time, data) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING`,
				key, d.Owner, ns(d.Time), storage.EncodeDeposit(d))
			if err != nil {
				return 0, fmt.Errorf("postgres: store deposit: %w", err)
			}
			if tag.RowsAffected() == 0 {
				continue // stored before: announced once already
			}
			if _, err := tx.exec(`INSERT INTO deposit_outbox (key) VALUES ($1)`, key); err != nil {
				return 0, fmt.Errorf("postgres: store deposit: %w", err)
			}
			added++
		}
		if _, err := tx.exec(`INSERT INTO watch_cursors (chain_id, block, hashes) VALUES ($1, $2, $3)
			ON CONFLICT (chain_id) DO UPDATE SET block = excluded.block, hashes = excluded.hashes`,
			int64(cur.ChainID), int64(cur.Block), joinHashes(cur.Hashes)); err != nil {
			return 0, fmt.Errorf("postgres: store watch cursor: %w", err)
		}
		return added, nil
	})
}

func scanDeposit(key, data []byte) (storage.Deposit, error) {
	d, err := storage.DecodeDeposit(data)
	if err != nil {
		return storage.Deposit{}, fmt.Errorf("storage: deposit %x: %w", key, err)
	}
	if !bytes.Equal(d.Key(), key) {
		return storage.Deposit{}, fmt.Errorf("storage: deposit %x: %w: stored under another key", key, storage.ErrCorrupt)
	}
	return d, nil
}

// Deposits: see bolt.DB.Deposits.
func (db *DB) Deposits(owner int64, limit, offset int) ([]storage.Deposit, error) {
	if limit <= 0 || offset < 0 {
		return nil, fmt.Errorf("storage: deposits of user %d: %w: limit %d, offset %d", owner, storage.ErrInvalid, limit, offset)
	}
	return read(db, func(tx *pgTx) ([]storage.Deposit, error) {
		var out []storage.Deposit
		err := tx.rows(`SELECT key, data FROM deposits WHERE owner = $1 ORDER BY time DESC, key DESC LIMIT $2 OFFSET $3`,
			[]any{owner, limit, offset}, func(r pgx.Rows) error {
				var key, data []byte
				if err := r.Scan(&key, &data); err != nil {
					return err
				}
				d, err := scanDeposit(key, data)
				out = append(out, d)
				return err
			})
		return out, err
	})
}

// PendingAlerts: see bolt.DB.PendingAlerts.
func (db *DB) PendingAlerts(limit int) ([]storage.Alert, error) {
	return db.PendingAlertsAfter(0, limit)
}

// PendingAlertsAfter: see bolt.DB.PendingAlertsAfter.
func (db *DB) PendingAlertsAfter(after uint64, limit int) ([]storage.Alert, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("storage: pending alerts: %w: limit %d", storage.ErrInvalid, limit)
	}
	if after >= math.MaxInt64 {
		return nil, nil
	}
	return read(db, func(tx *pgTx) ([]storage.Alert, error) {
		var out []storage.Alert
		err := tx.rows(`SELECT o.seq, d.key, d.data FROM deposit_outbox o JOIN deposits d ON d.key = o.key
			WHERE o.seq > $1 ORDER BY o.seq LIMIT $2`, []any{int64(after), limit}, func(r pgx.Rows) error {
			var seq int64
			var key, data []byte
			if err := r.Scan(&seq, &key, &data); err != nil {
				return err
			}
			d, err := scanDeposit(key, data)
			out = append(out, storage.Alert{Seq: uint64(seq), Deposit: d})
			return err
		})
		return out, err
	})
}

// AlertDelivered: see bolt.DB.AlertDelivered.
func (db *DB) AlertDelivered(seq uint64) error {
	if seq > math.MaxInt64 {
		return nil
	}
	return db.run(false, func(tx *pgTx) error {
		if _, err := tx.exec(`DELETE FROM deposit_outbox WHERE seq = $1`, int64(seq)); err != nil {
			return fmt.Errorf("postgres: alert %d delivered: %w", seq, err)
		}
		return nil
	})
}
