package postgres

import (
	"fmt"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// Chat flows (storage/flows.go) on the server's clock: a flow expires at
// one moment for every parent. A write locks the chat's row (FOR UPDATE),
// compares the version read with the caller's, and writes a version from
// the chat_flow_versions sequence; two parents writing one chat's flow at
// once are serialised by the row lock, or, when there is no row yet, by
// the primary key (the loser's retry sees the winner's row).

// liveFlow is the chat's flow, locked, unless there is none or it expired.
func liveFlow(tx *pgTx, chatID int64) (f storage.Flow, exists, live bool, err error) {
	var version int64
	err = tx.row(`SELECT version, expires, data, expires > now() FROM chat_flows WHERE chat_id = $1 FOR UPDATE`, chatID).
		Scan(&version, &f.Expires, &f.Data, &live)
	if isNoRows(err) {
		return storage.Flow{}, false, false, nil
	}
	if err != nil {
		return storage.Flow{}, false, false, fmt.Errorf("postgres: flow of chat %d: %w", chatID, err)
	}
	if !live {
		return storage.Flow{}, true, false, nil
	}
	f.ChatID, f.Version, f.Expires = chatID, uint64(version), f.Expires.UTC()
	return f, true, true, nil
}

// Flow: see bolt.DB.Flow.
func (db *DB) Flow(chatID int64) (storage.Flow, error) {
	return read(db, func(tx *pgTx) (storage.Flow, error) {
		var version int64
		f := storage.Flow{ChatID: chatID}
		err := tx.row(`SELECT version, expires, data FROM chat_flows WHERE chat_id = $1 AND expires > now()`, chatID).
			Scan(&version, &f.Expires, &f.Data)
		if isNoRows(err) {
			return storage.Flow{}, fmt.Errorf("storage: flow of chat %d: %w", chatID, storage.ErrNotFound)
		}
		if err != nil {
			return storage.Flow{}, fmt.Errorf("postgres: flow of chat %d: %w", chatID, err)
		}
		f.Version, f.Expires = uint64(version), f.Expires.UTC()
		return f, nil
	})
}

// PutFlow: see bolt.DB.PutFlow.
func (db *DB) PutFlow(chatID int64, expect uint64, data []byte, ttl time.Duration) (storage.Flow, error) {
	if err := storage.CheckFlow(chatID, data, ttl); err != nil {
		return storage.Flow{}, err
	}
	return write(db, func(tx *pgTx) (storage.Flow, error) {
		cur, exists, _, err := liveFlow(tx, chatID)
		if err != nil {
			return storage.Flow{}, err
		}
		if cur.Version != expect {
			return storage.Flow{}, fmt.Errorf("storage: flow of chat %d: %w (version %d, expected %d)", chatID, storage.ErrFlowChanged, cur.Version, expect)
		}
		// A missing row is inserted (a concurrent insert of the same chat
		// collides on the primary key; the retry sees it); an existing one,
		// locked above, is updated.
		q := `UPDATE chat_flows SET version = nextval('chat_flow_versions'), expires = now() + $3 * interval '1 microsecond', data = $2
			WHERE chat_id = $1 RETURNING version, expires`
		if !exists {
			q = `INSERT INTO chat_flows (chat_id, version, expires, data)
				VALUES ($1, nextval('chat_flow_versions'), now() + $3 * interval '1 microsecond', $2) RETURNING version, expires`
		}
		f := storage.Flow{ChatID: chatID, Data: append([]byte(nil), data...)}
		var version int64
		if err := tx.row(q, chatID, data, ttl.Microseconds()).Scan(&version, &f.Expires); err != nil {
			return storage.Flow{}, fmt.Errorf("postgres: flow of chat %d: %w", chatID, err)
		}
		f.Version, f.Expires = uint64(version), f.Expires.UTC()
		return f, nil
	})
}

// DeleteFlow: see bolt.DB.DeleteFlow.
func (db *DB) DeleteFlow(chatID int64, expect uint64) (bool, error) {
	return write(db, func(tx *pgTx) (bool, error) {
		cur, exists, live, err := liveFlow(tx, chatID)
		if err != nil {
			return false, err
		}
		if expect != 0 && cur.Version != expect {
			return false, fmt.Errorf("storage: flow of chat %d: %w (version %d, expected %d)", chatID, storage.ErrFlowChanged, cur.Version, expect)
		}
		if !exists {
			return false, nil
		}
		if _, err := tx.exec(`DELETE FROM chat_flows WHERE chat_id = $1`, chatID); err != nil {
			return false, fmt.Errorf("postgres: flow of chat %d: %w", chatID, err)
		}
		return live, nil
	})
}

// PruneFlows: see bolt.DB.PruneFlows.
func (db *DB) PruneFlows() (int, error) {
	return write(db, func(tx *pgTx) (int, error) {
		tag, err := tx.exec(`DELETE FROM chat_flows WHERE expires <= now()`)
		if err != nil {
			return 0, fmt.Errorf("postgres: prune flows: %w", err)
		}
		return int(tag.RowsAffected()), nil
	})
}
