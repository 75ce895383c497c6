package bolt

// Coordination of several parents on one store (issue 11): a Telegram
// update is handled once however often Telegram delivers it, and a piece of
// background work (a network's watcher, the transfer tracker, the alert
// deliverer) runs on one parent at a time, taken over by another when its
// holder stops renewing. The bbolt engine has one parent by construction
// (the file lock), but it keeps the same records and rules, so a single
// host and dev behave as a deployment of several does, and the conformance
// suite checks both engines alike.

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/internal/codec"
	"go.etcd.io/bbolt"
)

// Buckets of this file (docs/storage.md).
var (
	bucketUpdates = []byte("telegram_updates") // update id (8 BE) -> updateRecord
	bucketLeases  = []byte("leases")           // name -> leaseRecord
)

const (
	updateV1 byte = 1
	leaseV1  byte = 1
)

// updateRecord: version, done (bool), until (time), holder (string).
type updateRecord struct {
	done   bool
	until  time.Time
	holder string
}

func encodeUpdate(r *updateRecord) []byte {
	e := codec.Encoder{B: make([]byte, 0, 32)}
	e.Byte(updateV1)
	e.Bool(r.done)
	e.Time(r.until)
	e.String(r.holder)
	return e.B
}

func decodeUpdate(b []byte) (updateRecord, error) {
	d := codec.Decoder{B: b, What: "update"}
	d.Version(updateV1)
	r := updateRecord{done: d.Bool("done"), until: d.Time("until"), holder: d.String("holder")}
	return r, d.Finish()
}

func encodeLease(l *storage.Lease) []byte {
	e := codec.Encoder{B: make([]byte, 0, 48)}
	e.Byte(leaseV1)
	e.String(l.Holder)
	e.Time(l.Until)
	e.Uvarint(l.Token)
	return e.B
}

func decodeLease(name string, b []byte) (storage.Lease, error) {
	d := codec.Decoder{B: b, What: "lease"}
	d.Version(leaseV1)
	l := storage.Lease{Name: name, Holder: d.String("holder"), Until: d.Time("until"), Token: d.Uvarint("token")}
	return l, d.Finish()
}

func updateKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

// updatesFillPercent: Telegram's update ids grow, so claims append to the
// end of the bucket, where bbolt's default split (half full) would leave
// every page half empty for the day the records are kept. Pages are split
// 90% full instead (a record rewritten by FinishUpdate or a takeover may
// grow by a few bytes: the 10% keeps that from splitting a full page).
// BenchmarkClaimUpdates: 89 bytes of leaf page per update at the default,
// 49 at 0.9 (docs/storage.md).
const updatesFillPercent = 0.9

// updatesBucket is the updates bucket of tx, split at updatesFillPercent
// (bbolt keeps FillPercent per bucket handle, i.e. per transaction).
func updatesBucket(tx *boltTx) *bbolt.Bucket {
	b := tx.tx.Bucket(bucketUpdates)
	b.FillPercent = updatesFillPercent
	return b
}

// ClaimUpdate claims Telegram update updateID for holder for ttl. See
// UpdateClaim for the three answers. A holder claiming its own unfinished
// update again gets UpdateClaimed (a retry that reached the same parent).
func (db *DB) ClaimUpdate(updateID int64, holder string, ttl time.Duration) (storage.UpdateClaim, error) {
	if err := storage.CheckClaim(updateID, holder, ttl); err != nil {
		return 0, err
	}
	// Batched (batch.go): every update the bot takes is claimed, so
	// concurrent claims share one fsync. The function reads and writes only
	// through tx and may run more than once.
	return batchWrite(db, func(tx *boltTx) (storage.UpdateClaim, error) {
		b := updatesBucket(tx)
		key := updateKey(updateID)
		if raw := b.Get(key); raw != nil {
			r, err := decodeUpdate(raw)
			if err != nil {
				return 0, fmt.Errorf("storage: update %d: %w", updateID, err)
			}
			if r.done {
				return storage.UpdateDone, nil
			}
			if r.holder != holder && tx.now.Before(r.until) {
				return storage.UpdateInProgress, nil
			}
		}
		r := updateRecord{until: tx.now.Add(ttl), holder: holder}
		if err := b.Put(key, encodeUpdate(&r)); err != nil {
			return 0, fmt.Errorf("storage: claim update %d: %w", updateID, err)
		}
		return storage.UpdateClaimed, nil
	})
}

// FinishUpdate marks the update handled. Only its holder may finish it
// (ErrInvalid otherwise: the claim ran out and another parent took it
// over); finishing a finished update is a no-op.
func (db *DB) FinishUpdate(updateID int64, holder string) error {
	return db.batch(func(tx *boltTx) error { // batched, as ClaimUpdate
		b := updatesBucket(tx)
		key := updateKey(updateID)
		raw := b.Get(key)
		if raw == nil {
			return fmt.Errorf("storage: update %d: %w", updateID, storage.ErrNotFound)
		}
		r, err := decodeUpdate(raw)
		if err != nil {
			return fmt.Errorf("storage: update %d: %w", updateID, err)
		}
		if r.done {
			return nil
		}
		if r.holder != holder {
			return fmt.Errorf("storage: update %d: %w: claimed by another holder", updateID, storage.ErrInvalid)
		}
		r.done = true
		r.until = tx.now
		return b.Put(key, encodeUpdate(&r))
	})
}

// PruneUpdates deletes the records of updates finished, or claimed for the
// last time, more than olderThan ago by the store's own clock (the clock
// that wrote them; a caller's clock may differ), and returns how many it
// deleted. Telegram gives up redelivering an update after 24 hours, so a
// day-old record is never needed again. A negative olderThan would delete
// live claims: ErrInvalid.
func (db *DB) PruneUpdates(olderThan time.Duration) (int, error) {
	if olderThan < 0 {
		return 0, fmt.Errorf("storage: %w: prune age %v is negative", storage.ErrInvalid, olderThan)
	}
	return write(db, func(tx *boltTx) (int, error) {
		before := tx.now.Add(-olderThan)
		b := updatesBucket(tx)
		var stale [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r, err := decodeUpdate(v)
			if err != nil {
				return 0, fmt.Errorf("storage: update %x: %w", k, err)
			}
			if r.until.Before(before) {
				stale = append(stale, k)
			}
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return 0, err
			}
		}
		return len(stale), nil
	})
}

// AcquireLease gives holder the named lease for ttl from now when it is
// free, ran out, or is already holder's (a renewal). It returns the lease
// as stored after the call and whether holder has it.
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
	l, err := write(db, func(tx *boltTx) (storage.Lease, error) {
		got = false
		b := tx.tx.Bucket(bucketLeases)
		cur := storage.Lease{Name: name}
		if raw := b.Get([]byte(name)); raw != nil {
			var err error
			if cur, err = decodeLease(name, raw); err != nil {
				return storage.Lease{}, fmt.Errorf("storage: lease %q: %w", name, err)
			}
			if cur.Holder != holder && tx.now.Before(cur.Until) {
				return cur, nil
			}
		}
		next := storage.Lease{Name: name, Holder: holder, Until: tx.now.Add(ttl), Token: cur.Token}
		if cur.Holder != holder || !tx.now.Before(cur.Until) {
			next.Token++
		}
		if err := b.Put([]byte(name), encodeLease(&next)); err != nil {
			return storage.Lease{}, fmt.Errorf("storage: lease %q: %w", name, err)
		}
		got = true
		return next, nil
	})
	return l, got, err
}

// ReleaseLease ends holder's lease now, so another parent can take the work
// over without waiting for it to run out. Releasing a lease held by someone
// else (or by no one) changes nothing.
func (db *DB) ReleaseLease(name, holder string) error {
	return db.update(func(tx *boltTx) error {
		b := tx.tx.Bucket(bucketLeases)
		raw := b.Get([]byte(name))
		if raw == nil {
			return nil
		}
		cur, err := decodeLease(name, raw)
		if err != nil {
			return fmt.Errorf("storage: lease %q: %w", name, err)
		}
		if cur.Holder != holder || !tx.now.Before(cur.Until) {
			return nil
		}
		cur.Until = tx.now
		return b.Put([]byte(name), encodeLease(&cur))
	})
}
