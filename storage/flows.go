package storage

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
	"errors"
	"fmt"
	"time"
)

// bucketFlows: chat id (8 BE) -> flowRecord. Its bucket sequence is the
// version counter of every chat's flow.
var bucketFlows = []byte("chat_flows")

const flowV1 byte = 1

// MaxFlowBytes bounds a flow's data (the bot's encoding is far smaller).
const MaxFlowBytes = 4096

// ErrFlowChanged: the chat's flow is not at the version the caller read
// (another parent wrote it, deleted it, or it expired). Nothing was written.
var ErrFlowChanged = errors.New("the chat's flow changed since it was read")

// Flow is one chat's conversation state.
type Flow struct {
	ChatID int64
	// Version is unique among every flow ever written to the store (it
	// grows with each write), so a version read once never comes back:
	// a flow deleted and started again has a new one.
	Version uint64
	Data    []byte
	// Expires is when the flow stops being answered, on the engine's clock.
	Expires time.Time
}

// CheckFlow checks the arguments of PutFlow.
func CheckFlow(chatID int64, data []byte, ttl time.Duration) error {
	if chatID == 0 {
		return fmt.Errorf("storage: %w: flow of chat 0", ErrInvalid)
	}
	if len(data) == 0 || len(data) > MaxFlowBytes {
		return fmt.Errorf("storage: %w: flow data must be 1..%d bytes, got %d", ErrInvalid, MaxFlowBytes, len(data))
	}
	return checkTTL(ttl)
}

// flowRecord: version, flowV1; version (uvarint); expires (time); data (bytes).
func encodeFlow(f *Flow) []byte {
	e := encoder{b: make([]byte, 0, 16+len(f.Data))}
	e.byte(flowV1)
	e.uvarint(f.Version)
	e.time(f.Expires)
	e.bytes(f.Data)
	return e.b
}

func decodeFlow(chatID int64, b []byte) (Flow, error) {
	d := decoder{b: b, what: "flow"}
	d.version(flowV1)
	f := Flow{ChatID: chatID, Version: d.uvarint("version"), Expires: d.time("expires"), Data: d.bytes("data")}
	if d.err == nil && (f.Version == 0 || len(f.Data) == 0 || len(f.Data) > MaxFlowBytes) {
		d.fail("version %d, %d bytes of data", f.Version, len(f.Data))
	}
	if err := d.finish(); err != nil {
		return Flow{}, err
	}
	f.Data = append([]byte(nil), f.Data...) // the page's bytes live only as long as the transaction
	return f, nil
}

func flowKey(chatID int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(chatID)) }

// liveFlow is the chat's flow unless there is none or it expired at now.
// An undecodable record is an error (ErrCorrupt).
func liveFlow(tx *boltTx, chatID int64) (Flow, bool, error) {
	raw := tx.tx.Bucket(bucketFlows).Get(flowKey(chatID))
	if raw == nil {
		return Flow{}, false, nil
	}
	f, err := decodeFlow(chatID, raw)
	if err != nil {
		return Flow{}, false, fmt.Errorf("storage: flow of chat %d: %w", chatID, err)
	}
	if !tx.now.Before(f.Expires) {
		return Flow{}, false, nil
	}
	return f, true, nil
}

// Flow returns the chat's flow; ErrNotFound when there is none or it
// expired; ErrCorrupt when the stored record does not decode (the caller
// drops it with DeleteFlow(chatID, 0)).
func (db *DB) Flow(chatID int64) (Flow, error) {
	return read(db, func(tx *boltTx) (Flow, error) {
		f, ok, err := liveFlow(tx, chatID)
		if err == nil && !ok {
			err = fmt.Errorf("storage: flow of chat %d: %w", chatID, ErrNotFound)
		}
		return f, err
	})
}

// PutFlow stores data as the chat's flow for ttl from now (on the engine's
// clock) if the chat's live flow is at version expect (0: the caller read
// none, or it expired), and returns the stored flow with its new version.
// Otherwise it writes nothing and fails with ErrFlowChanged.
func (db *DB) PutFlow(chatID int64, expect uint64, data []byte, ttl time.Duration) (Flow, error) {
	if err := CheckFlow(chatID, data, ttl); err != nil {
		return Flow{}, err
	}
	// Batched (batch.go): one fsync for the flows of many chats; fn only
	// touches tx and may run more than once.
	return batchWrite(db, func(tx *boltTx) (Flow, error) {
		cur, _, err := liveFlow(tx, chatID)
		if err != nil {
			return Flow{}, err
		}
		if cur.Version != expect {
			return Flow{}, fmt.Errorf("storage: flow of chat %d: %w (version %d, expected %d)", chatID, ErrFlowChanged, cur.Version, expect)
		}
		b := tx.tx.Bucket(bucketFlows)
		v, err := b.NextSequence()
		if err != nil {
			return Flow{}, err
		}
		f := Flow{ChatID: chatID, Version: v, Data: append([]byte(nil), data...), Expires: tx.now.Add(ttl)}
		if err := b.Put(flowKey(chatID), encodeFlow(&f)); err != nil {
			return Flow{}, fmt.Errorf("storage: flow of chat %d: %w", chatID, err)
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
				return fmt.Errorf("storage: flow of chat %d: %w (none, expected %d)", chatID, ErrFlowChanged, expect)
			}
			return nil
		}
		cur, ok, err := liveFlow(tx, chatID)
		if err != nil && expect != 0 {
			return err
		}
		if expect != 0 && cur.Version != expect {
			return fmt.Errorf("storage: flow of chat %d: %w (version %d, expected %d)", chatID, ErrFlowChanged, cur.Version, expect)
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
