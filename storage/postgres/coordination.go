package postgres

import (
	"fmt"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// Coordination (storage/coordination.go) with the server's clock: every
// parent asks the same now(), so a claim or lease runs out at one moment
// for all of them, whatever their own clocks say.

// ClaimUpdate: see bolt.DB.ClaimUpdate. One statement: the insert of a
// new claim, or the take-over of the holder's own or a run-out claim; the
// row lock of ON CONFLICT serialises two parents claiming at once.
func (db *DB) ClaimUpdate(updateID int64, holder string, ttl time.Duration) (storage.UpdateClaim, error) {
	if err := storage.CheckClaim(updateID, holder, ttl); err != nil {
		return 0, err
	}
	return write(db, func(tx *pgTx) (storage.UpdateClaim, error) {
		tag, err := tx.exec(`INSERT INTO telegram_updates AS u (update_id, done, until, holder)
			VALUES ($1, false, now() + $3 * interval '1 microsecond', $2)
			ON CONFLICT (update_id) DO UPDATE SET until = excluded.until, holder = excluded.holder
			WHERE NOT u.done AND (u.holder = excluded.holder OR u.until <= now())`,
			updateID, holder, ttl.Microseconds())
		if err != nil {
			return 0, fmt.Errorf("postgres: claim update %d: %w", updateID, err)
		}
		if tag.RowsAffected() == 1 {
			return storage.UpdateClaimed, nil
		}
		var done bool
		if err := tx.row(`SELECT done FROM telegram_updates WHERE update_id = $1`, updateID).Scan(&done); err != nil {
			return 0, fmt.Errorf("postgres: claim update %d: %w", updateID, err)
		}
		if done {
			return storage.UpdateDone, nil
		}
		return storage.UpdateInProgress, nil
	})
}

// FinishUpdate: see bolt.DB.FinishUpdate.
func (db *DB) FinishUpdate(updateID int64, holder string) error {
	return db.run(false, func(tx *pgTx) error {
		var done bool
		var cur string
		err := tx.row(`SELECT done, holder FROM telegram_updates WHERE update_id = $1 FOR UPDATE`, updateID).Scan(&done, &cur)
		if isNoRows(err) {
			return fmt.Errorf("storage: update %d: %w", updateID, storage.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("postgres: update %d: %w", updateID, err)
		}
		if done {
			return nil
		}
		if cur != holder {
			return fmt.Errorf("storage: update %d: %w: claimed by another holder", updateID, storage.ErrInvalid)
		}
		_, err = tx.exec(`UPDATE telegram_updates SET done = true, until = now() WHERE update_id = $1`, updateID)
		return err
	})
}

// PruneUpdates: see bolt.DB.PruneUpdates. The cut is the server's
// now() - olderThan: `until` was written with the server's now(), so a
// parent whose clock runs ahead cannot prune records Telegram may still
// redeliver.
func (db *DB) PruneUpdates(olderThan time.Duration) (int, error) {
	if olderThan < 0 {
		return 0, fmt.Errorf("storage: %w: prune age %v is negative", storage.ErrInvalid, olderThan)
	}
	return write(db, func(tx *pgTx) (int, error) {
		tag, err := tx.exec(`DELETE FROM telegram_updates WHERE until < now() - $1 * interval '1 microsecond'`, olderThan.Microseconds())
		if err != nil {
			return 0, fmt.Errorf("postgres: prune updates: %w", err)
		}
		return int(tag.RowsAffected()), nil
	})
}

// AcquireLease: see bolt.DB.AcquireLease.
func (db *DB) AcquireLease(name, holder string, ttl time.Duration) (storage.Lease, bool, error) {
	if err := storage.CheckHolder("lease name", name); err != nil {
		return storage.Lease{}, false, err
	}
	if err := storage.CheckHolder("holder", holder); err != nil {
		return storage.Lease{}, false, err
	}
	if err := storage.CheckTTL(ttl); err != nil {
		return storage.Lease{}, false, err
	}
	var got bool
	l, err := write(db, func(tx *pgTx) (storage.Lease, error) {
		got = false
		var now time.Time
		if err := tx.row(`SELECT now()`).Scan(&now); err != nil {
			return storage.Lease{}, fmt.Errorf("postgres: lease %q: %w", name, err)
		}
		now = now.UTC()
		cur := storage.Lease{Name: name}
		var token int64
		err := tx.row(`SELECT holder, until, token FROM leases WHERE name = $1 FOR UPDATE`, name).Scan(&cur.Holder, &cur.Until, &token)
		exists := err == nil
		if err != nil && !isNoRows(err) {
			return storage.Lease{}, fmt.Errorf("postgres: lease %q: %w", name, err)
		}
		cur.Token, cur.Until = uint64(token), cur.Until.UTC()
		if exists && cur.Holder != holder && now.Before(cur.Until) {
			return cur, nil
		}
		next := storage.Lease{Name: name, Holder: holder, Until: now.Add(ttl.Truncate(time.Microsecond)), Token: cur.Token}
		if cur.Holder != holder || !now.Before(cur.Until) {
			next.Token++
		}
		// A new lease is a plain INSERT: two parents taking it at once
		// collide on the primary key and the loser's retry sees the winner.
		q := `UPDATE leases SET holder = $2, until = $3, token = $4 WHERE name = $1`
		if !exists {
			q = `INSERT INTO leases (name, holder, until, token) VALUES ($1, $2, $3, $4)`
		}
		if _, err := tx.exec(q, name, holder, next.Until, int64(next.Token)); err != nil {
			return storage.Lease{}, fmt.Errorf("postgres: lease %q: %w", name, err)
		}
		got = true
		return next, nil
	})
	return l, got, err
}

// ReleaseLease: see bolt.DB.ReleaseLease.
func (db *DB) ReleaseLease(name, holder string) error {
	return db.run(false, func(tx *pgTx) error {
		_, err := tx.exec(`UPDATE leases SET until = now() WHERE name = $1 AND holder = $2 AND until > now()`, name, holder)
		return err
	})
}
