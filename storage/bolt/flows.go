package bolt

// Chat flows (issue 11): the conversation state the bot keeps between two
// updates of one chat (a guided /send waiting for its recipient or amount).
// With several parents the next answer of a chat may reach any of them, so
// the state lives in the store, not in one parent's memory. Each flow has
// an expiry on the engine's clock and a version; a write names the version
// it read, so two parents handling two answers of one chat at once cannot
// both take the same step (compare-and-set). The data is opaque here: the
// bot encodes and strictly decodes it (bot/flowstate.go).

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/internal/codec"
)

// bucketFlows: chat id (8 BE) -> flowRecord. Its bucket sequence is the
// version counter of every chat's flow.
var bucketFlows = []byte("chat_flows")

const flowV1 byte = 1

// flowRecord: version, flowV1; version (uvarint); expires (time); data (bytes).
func encodeFlow(f *storage.Flow) []byte {
	e := codec.Encoder{B: make([]byte, 0, 16+len(f.Data))}
	e.Byte(flowV1)
	e.Uvarint(f.Version)
	e.Time(f.Expires)
	e.Bytes(f.Data)
	return e.B
}

func decodeFlow(chatID int64, b []byte) (storage.Flow, error) {
	d := codec.Decoder{B: b, What: "flow"}
	d.Version(flowV1)
	f := storage.Flow{ChatID: chatID, Version: d.Uvarint("version"), Expires: d.Time("expires"), Data: d.Bytes("data")}
	if d.Err == nil && (f.Version == 0 || len(f.Data) == 0 || len(f.Data) > storage.MaxFlowBytes) {
		d.Fail("version %d, %d bytes of data", f.Version, len(f.Data))
	}
	if err := d.Finish(); err != nil {
		return storage.Flow{}, err
	}
	f.Data = append([]byte(nil), f.Data...) // the page's bytes live only as long as the transaction
	return f, nil
}

func flowKey(chatID int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(chatID)) }

// liveFlow is the chat's flow unless there is none or it expired at now.
// An undecodable record is an error (ErrCorrupt).
func liveFlow(tx *boltTx, chatID int64) (storage.Flow, bool, error) {
	raw := tx.tx.Bucket(bucketFlows).Get(flowKey(chatID))
	if raw == nil {
		return storage.Flow{}, false, nil
	}
	f, err := decodeFlow(chatID, raw)
	if err != nil {
		return storage.Flow{}, false, fmt.Errorf("storage: flow of chat %d: %w", chatID, err)
	}
	if !tx.now.Before(f.Expires) {
		return storage.Flow{}, false, nil
	}
	return f, true, nil
}

// Flow returns the chat's flow; ErrNotFound when there is none or it
// expired; ErrCorrupt when the stored record does not decode (the caller
// drops it with DeleteFlow(chatID, 0)).
func (db *DB) Flow(chatID int64) (storage.Flow, error) {
	return read(db, func(tx *boltTx) (storage.Flow, error) {
		f, ok, err := liveFlow(tx, chatID)
		if err == nil && !ok {
			err = fmt.Errorf("storage: flow of chat %d: %w", chatID, storage.ErrNotFound)
		}
		return f, err
	})
}

// PutFlow stores data as the chat's flow for ttl from now (on the engine's
// clock) if the chat's live flow is at version expect (0: the caller read
// none, or it expired), and returns the stored flow with its new version.
// Otherwise it writes nothing and fails with ErrFlowChanged.
func (db *DB) PutFlow(chatID int64, expect uint64, data []byte, ttl time.Duration) (storage.Flow, error) {
	if err := storage.CheckFlow(chatID, data, ttl); err != nil {
		return storage.Flow{}, err
	}
	// Batched (batch.go): one fsync for the flows of many chats; fn only
	// touches tx and may run more than once.
	return batchWrite(db, func(tx *boltTx) (storage.Flow, error) {
		cur, _, err := liveFlow(tx, chatID)
		if err != nil {
			return storage.Flow{}, err
		}
		if cur.Version != expect {
			return storage.Flow{}, fmt.Errorf("storage: flow of chat %d: %w (version %d, expected %d)", chatID, storage.ErrFlowChanged, cur.Version, expect)
		}
		b := tx.tx.Bucket(bucketFlows)
		v, err := b.NextSequence()
		if err != nil {
			return storage.Flow{}, err
		}
		f := storage.Flow{ChatID: chatID, Version: v, Data: append([]byte(nil), data...), Expires: tx.now.Add(ttl)}
		if err := b.Put(flowKey(chatID), encodeFlow(&f)); err != nil {
			return storage.Flow{}, fmt.Errorf("storage: flow of chat %d: %w", chatID, err)
		}
		return f, nil
	})
}

// DeleteFlow ends the chat's flow. With expect 0 it deletes whatever is
// stored (an undecodable record too); otherwise only the flow at version
// expect (ErrFlowChanged when the live flow is another one, or none). It
// reports whether a live flow was deleted.
func (db *DB) DeleteFlow(chatID int64, expect uint64) (bool, error) {
	var live bool
	err := db.batch(func(tx *boltTx) error {
		live = false
		b := tx.tx.Bucket(bucketFlows)
		key := flowKey(chatID)
		if b.Get(key) == nil {
			if expect != 0 {
				return fmt.Errorf("storage: flow of chat %d: %w (none, expected %d)", chatID, storage.ErrFlowChanged, expect)
			}
			return nil
		}
		cur, ok, err := liveFlow(tx, chatID)
		if err != nil && expect != 0 {
			return err
		}
		if expect != 0 && cur.Version != expect {
			return fmt.Errorf("storage: flow of chat %d: %w (version %d, expected %d)", chatID, storage.ErrFlowChanged, cur.Version, expect)
		}
		live = ok
		return b.Delete(key)
	})
	return live, err
}

// PruneFlows deletes the flows that expired (on the engine's clock) and
// returns how many; an undecodable record is deleted too.
func (db *DB) PruneFlows() (int, error) {
	return write(db, func(tx *boltTx) (int, error) {
		b := tx.tx.Bucket(bucketFlows)
		var stale [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			f, err := decodeFlow(0, v)
			if err != nil || !tx.now.Before(f.Expires) {
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
