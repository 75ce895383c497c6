package storage

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

	bolt "go.etcd.io/bbolt"
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

// MaxHolderLen bounds a holder name (a parent's id) and a lease name.
const MaxHolderLen = 128

// UpdateClaim is the answer of ClaimUpdate.
type UpdateClaim uint8

const (
	// UpdateClaimed: the caller holds the update now and must handle it,
	// then call FinishUpdate. Either it was never seen, or the last claim
	// ran out without being finished (its holder died): the caller takes
	// it over.
	UpdateClaimed UpdateClaim = iota + 1
	// UpdateInProgress: another holder's claim has not run out. The caller
	// must not handle it and must not acknowledge it to Telegram either
	// (answer with an error status so Telegram delivers it again later).
	UpdateInProgress
	// UpdateDone: the update was handled. Acknowledge it and do nothing.
	UpdateDone
)

func (c UpdateClaim) String() string {
	switch c {
	case UpdateClaimed:
		return "claimed"
	case UpdateInProgress:
		return "in progress"
	case UpdateDone:
		return "done"
	}
	return fmt.Sprintf("UpdateClaim(%d)", uint8(c))
}

// Lease is a named right to run one piece of background work until Until.
// Token grows by one each time the lease changes holder, so work can be
// fenced: a write that carries an old token is from a holder that lost it.
type Lease struct {
	Name   string
	Holder string
	Until  time.Time
	Token  uint64
}

func checkHolder(field, v string) error {
	if v == "" || len(v) > MaxHolderLen {
		return fmt.Errorf("storage: %w: %s must be 1..%d bytes", ErrInvalid, field, MaxHolderLen)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > time.Hour {
		return fmt.Errorf("storage: %w: ttl %v is outside (0, 1h]", ErrInvalid, ttl)
	}
	return nil
}

// updateRecord: version, done (bool), until (time), holder (string).
type updateRecord struct {
	done   bool
	until  time.Time
	holder string
}

func encodeUpdate(r *updateRecord) []byte {
	e := encoder{b: make([]byte, 0, 32)}
	e.byte(updateV1)
	e.bool(r.done)
	e.time(r.until)
	e.string(r.holder)
	return e.b
}

func decodeUpdate(b []byte) (updateRecord, error) {
	d := decoder{b: b, what: "update"}
	d.version(updateV1)
	r := updateRecord{done: d.bool("done"), until: d.time("until"), holder: d.string("holder")}
	return r, d.finish()
}

func encodeLease(l *Lease) []byte {
	e := encoder{b: make([]byte, 0, 48)}
	e.byte(leaseV1)
	e.string(l.Holder)
	e.time(l.Until)
	e.uvarint(l.Token)
	return e.b
}

func decodeLease(name string, b []byte) (Lease, error) {
	d := decoder{b: b, what: "lease"}
	d.version(leaseV1)
	l := Lease{Name: name, Holder: d.string("holder"), Until: d.time("until"), Token: d.uvarint("token")}
	return l, d.finish()
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
func updatesBucket(tx *boltTx) *bolt.Bucket {
	b := tx.tx.Bucket(bucketUpdates)
	b.FillPercent = updatesFillPercent
	return b
}

// ClaimUpdate claims Telegram update updateID for holder for ttl. See
// UpdateClaim for the three answers. A holder claiming its own unfinished
// update again gets UpdateClaimed (a retry that reached the same parent).
func (db *DB) ClaimUpdate(updateID int64, holder string, ttl time.Duration) (UpdateClaim, error) {
	if err := checkHolder("holder", holder); err != nil {
		return 0, err
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	if updateID < 0 {
		return 0, fmt.Errorf("storage: %w: update id %d is negative", ErrInvalid, updateID)
	}
	// Batched (batch.go): every update the bot takes is claimed, so
	// concurrent claims share one fsync. The function reads and writes only
	// through tx and may run more than once.
	return batchWrite(db, func(tx *boltTx) (UpdateClaim, error) {
		b := updatesBucket(tx)
		key := updateKey(updateID)
		if raw := b.Get(key); raw != nil {
			r, err := decodeUpdate(raw)
			if err != nil {
				return 0, fmt.Errorf("storage: update %d: %w", updateID, err)
			}
			if r.done {
				return UpdateDone, nil
			}
			if r.holder != holder && tx.now.Before(r.until) {
				return UpdateInProgress, nil
			}
		}
		r := updateRecord{until: tx.now.Add(ttl), holder: holder}
		if err := b.Put(key, encodeUpdate(&r)); err != nil {
			return 0, fmt.Errorf("storage: claim update %d: %w", updateID, err)
		}
		return UpdateClaimed, nil
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
			return fmt.Errorf("storage: update %d: %w", updateID, ErrNotFound)
		}
		r, err := decodeUpdate(raw)
		if err != nil {
			return fmt.Errorf("storage: update %d: %w", updateID, err)
		}
		if r.done {
			return nil
		}
		if r.holder != holder {
			return fmt.Errorf("storage: update %d: %w: claimed by another holder", updateID, ErrInvalid)
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
		return 0, fmt.Errorf("storage: %w: prune age %v is negative", ErrInvalid, olderThan)
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
func (db *DB) AcquireLease(name, holder string, ttl time.Duration) (Lease, bool, error) {
	if err := checkHolder("lease name", name); err != nil {
		return Lease{}, false, err
	}
	if err := checkHolder("holder", holder); err != nil {
		return Lease{}, false, err
	}
	if err := checkTTL(ttl); err != nil {
		return Lease{}, false, err
	}
	var got bool
	l, err := write(db, func(tx *boltTx) (Lease, error) {
		got = false
		b := tx.tx.Bucket(bucketLeases)
		cur := Lease{Name: name}
		if raw := b.Get([]byte(name)); raw != nil {
			var err error
			if cur, err = decodeLease(name, raw); err != nil {
				return Lease{}, fmt.Errorf("storage: lease %q: %w", name, err)
			}
			if cur.Holder != holder && tx.now.Before(cur.Until) {
				return cur, nil
			}
		}
		next := Lease{Name: name, Holder: holder, Until: tx.now.Add(ttl), Token: cur.Token}
		if cur.Holder != holder || !tx.now.Before(cur.Until) {
			next.Token++
		}
		if err := b.Put([]byte(name), encodeLease(&next)); err != nil {
			return Lease{}, fmt.Errorf("storage: lease %q: %w", name, err)
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
