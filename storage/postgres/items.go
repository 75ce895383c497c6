package postgres

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/storage"
)

// Items: see storage.Copier. One REPEATABLE READ snapshot; the order is the
// canonical keys' bytewise order (text keys are COLLATE "C", which compares
// bytes; bigint keys are positive; chain ids are sorted as uint64 here).
func (db *DB) Items(kind storage.ItemKind, fn func(storage.Item) error) error {
	return db.snapshot(func(tx *pgTx) error {
		each := func(q string, item func(pgx.Rows) (storage.Item, error)) error {
			return tx.rows(q, nil, func(r pgx.Rows) error {
				it, err := item(r)
				if err != nil {
					return fmt.Errorf("postgres: %s: %w", kind, err)
				}
				return fn(it)
			})
		}
		switch kind {
		case storage.ItemMeta:
			return each(`SELECT key, value FROM meta ORDER BY key`, func(r pgx.Rows) (storage.Item, error) {
				var k string
				var v []byte
				err := r.Scan(&k, &v)
				return storage.ItemOfMeta(k, v), err
			})
		case storage.ItemUser:
			return each(`SELECT `+userCols+` FROM users ORDER BY id`, func(r pgx.Rows) (storage.Item, error) {
				u, err := scanUser(r)
				return storage.ItemOfUser(&u), err
			})
		case storage.ItemUsername:
			return each(`SELECT name, user_id FROM usernames ORDER BY name`, func(r pgx.Rows) (storage.Item, error) {
				var name string
				var id int64
				err := r.Scan(&name, &id)
				return storage.ItemOfUsername(name, id), err
			})
		case storage.ItemWallet:
			return each(`SELECT `+walletCols+` FROM wallets ORDER BY owner`, func(r pgx.Rows) (storage.Item, error) {
				w, err := scanWallet(r)
				return storage.ItemOfWallet(&w), err
			})
		case storage.ItemTransfer:
			// data is the canonical encoding as stored (an old format
			// version copied from bbolt stays as it was).
			return each(`SELECT id, data FROM transfers ORDER BY id`, func(r pgx.Rows) (storage.Item, error) {
				var id string
				var data []byte
				err := r.Scan(&id, &data)
				return storage.Item{Kind: storage.ItemTransfer, Key: []byte(id), Value: data}, err
			})
		case storage.ItemDeposit:
			return each(`SELECT key, data FROM deposits ORDER BY key`, func(r pgx.Rows) (storage.Item, error) {
				var k, v []byte
				err := r.Scan(&k, &v)
				return storage.Item{Kind: storage.ItemDeposit, Key: k, Value: v}, err
			})
		case storage.ItemAlert:
			return each(`SELECT seq, key FROM deposit_outbox ORDER BY seq`, func(r pgx.Rows) (storage.Item, error) {
				var seq int64
				var k []byte
				err := r.Scan(&seq, &k)
				return storage.ItemOfAlert(uint64(seq), k), err
			})
		case storage.ItemCursor:
			var cs []storage.WatchCursor
			err := tx.rows(`SELECT chain_id, block, hashes FROM watch_cursors`, nil, func(r pgx.Rows) error {
				var chain, block int64
				var hashes []byte
				if err := r.Scan(&chain, &block, &hashes); err != nil {
					return err
				}
				c, err := cursorOf(uint64(chain), block, hashes)
				cs = append(cs, c)
				return err
			})
			if err != nil {
				return err
			}
			slices.SortFunc(cs, func(a, b storage.WatchCursor) int { return cmpU64(a.ChainID, b.ChainID) })
			for i := range cs {
				if err := fn(storage.ItemOfCursor(&cs[i])); err != nil {
					return err
				}
			}
			return nil
		case storage.ItemWalletCard:
			// user ids are positive (Telegram's), so bigint order is the
			// keys' bytewise order, as for users.
			return each(`SELECT user_id, chat_id, message_id FROM wallet_cards ORDER BY user_id`, func(r pgx.Rows) (storage.Item, error) {
				var user int64
				var c storage.Card
				err := r.Scan(&user, &c.ChatID, &c.MessageID)
				return storage.ItemOfWalletCard(user, c), err
			})
		case storage.ItemCardEdit:
			return each(`SELECT seq, transfer_id, state FROM card_edits ORDER BY seq`, func(r pgx.Rows) (storage.Item, error) {
				var seq int64
				var state int16
				var e storage.CardEdit
				err := r.Scan(&seq, &e.TransferID, &state)
				e.Seq, e.State = uint64(seq), storage.State(state)
				return storage.ItemOfCardEdit(e), err
			})
		}
		return fmt.Errorf("postgres: items: %w: kind %q", storage.ErrInvalid, kind)
	})
}

// PutItems: see storage.Copier. Each value is decoded first (a corrupt one
// is refused) and written to the columns it belongs in.
func (db *DB) PutItems(items []storage.Item) error {
	return db.run(false, func(tx *pgTx) error {
		alerts, edits := false, false
		for _, it := range items {
			if err := tx.putItem(it); err != nil {
				return fmt.Errorf("postgres: put %s: %w", it.Describe(), err)
			}
			alerts = alerts || it.Kind == storage.ItemAlert
			edits = edits || it.Kind == storage.ItemCardEdit
		}
		if alerts {
			// New outbox entries continue after the copied ones.
			if _, err := tx.exec(`SELECT setval(pg_get_serial_sequence('deposit_outbox', 'seq'), max(seq)) FROM deposit_outbox`); err != nil {
				return err
			}
		}
		if edits {
			// So do new card edits (an identity column: its sequence).
			if _, err := tx.exec(`SELECT setval(pg_get_serial_sequence('card_edits', 'seq'), max(seq)) FROM card_edits`); err != nil {
				return err
			}
		}
		return nil
	})
}

var errConflict = storage.ErrConflict

// same compares what the target holds under the item's key with its value.
func same(held, value []byte) error {
	if !bytes.Equal(held, value) {
		return errConflict
	}
	return nil
}

// insertOrSame runs an INSERT … ON CONFLICT DO NOTHING; when it inserted
// nothing, held must return the stored value, which must equal value.
func (tx *pgTx) insertOrSame(insert string, args []any, value []byte, held func() ([]byte, error)) error {
	tag, err := tx.exec(insert, args...)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	v, err := held()
	if err != nil {
		return err
	}
	return same(v, value)
}

func (tx *pgTx) putItem(it storage.Item) error {
	switch it.Kind {
	case storage.ItemMeta:
		if err := storage.CheckMetaKey(string(it.Key)); err != nil {
			return err
		}
		v := it.Value
		if v == nil {
			v = []byte{}
		}
		return tx.insertOrSame(`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING`, []any{string(it.Key), v}, v,
			func() ([]byte, error) { return tx.Meta(string(it.Key)) })
	case storage.ItemUser:
		u, err := storage.DecodeUser(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(storage.ItemOfUser(&u).Key, it.Key) {
			return fmt.Errorf("%w: stored under another key", storage.ErrCorrupt)
		}
		return tx.insertOrSame(`INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			[]any{u.ID, u.ChatID, u.FirstName, u.Username, u.Language, ns(u.Created), int64(u.Settings.ChainID), u.Settings.Muted}, it.Value,
			func() ([]byte, error) {
				held, err := tx.User(u.ID)
				return storage.ItemOfUser(&held).Value, err
			})
	case storage.ItemUsername:
		if len(it.Value) != 8 || len(it.Key) == 0 {
			return fmt.Errorf("%w: username entry", storage.ErrCorrupt)
		}
		id := int64(binary.BigEndian.Uint64(it.Value))
		return tx.insertOrSame(`INSERT INTO usernames (name, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, []any{string(it.Key), id}, it.Value,
			func() ([]byte, error) {
				var held int64
				err := tx.row(`SELECT user_id FROM usernames WHERE name = $1`, string(it.Key)).Scan(&held)
				return binary.BigEndian.AppendUint64(nil, uint64(held)), err
			})
	case storage.ItemWallet:
		w, err := storage.DecodeWallet(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(storage.ItemOfWallet(&w).Key, it.Key) {
			return fmt.Errorf("%w: stored under another key", storage.ErrCorrupt)
		}
		var found []storage.Wallet
		if err := tx.rows(`SELECT `+walletCols+` FROM wallets WHERE owner = $1 OR address = $2`, []any{w.Owner, w.Address[:]}, func(r pgx.Rows) error {
			f, err := scanWallet(r)
			found = append(found, f)
			return err
		}); err != nil {
			return err
		}
		for _, f := range found {
			if f.Owner != w.Owner {
				return fmt.Errorf("address %s belongs to user %d: %w", w.Address, f.Owner, errConflict)
			}
			return same(storage.ItemOfWallet(&f).Value, it.Value)
		}
		_, err = tx.exec(`INSERT INTO wallets (`+walletCols+`) VALUES ($1, $2, $3, $4)`, w.Owner, w.Address[:], w.Record, ns(w.Created))
		return err
	case storage.ItemTransfer:
		t, err := storage.DecodeTransfer(it.Value)
		if err != nil {
			return err
		}
		if t.ID != string(it.Key) {
			return fmt.Errorf("%w: stored under another key", storage.ErrCorrupt)
		}
		var held []byte
		err = tx.row(`SELECT data FROM transfers WHERE id = $1`, t.ID).Scan(&held)
		if err == nil {
			return same(held, it.Value)
		} else if !isNoRows(err) {
			return err
		}
		if t.State.Active() && t.Kind == storage.KindTransfer {
			holders, err := tx.NonceHolders(t.ChainID, t.From)
			if err != nil {
				return err
			}
			for _, h := range holders {
				if h.Nonce == t.Nonce {
					return fmt.Errorf("nonce %d of %s on chain %d is held by transfer %q: %w", t.Nonce, t.From, t.ChainID, h.ID, errConflict)
				}
			}
		}
		_, err = tx.exec(`INSERT INTO transfers (id, owner, created, state, kind, chain_id, from_addr, nonce, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.ID, t.Owner, ns(t.Created), int16(t.State), int16(t.Kind), int64(t.ChainID), t.From[:], int64(t.Nonce), it.Value)
		return err
	case storage.ItemDeposit:
		d, err := storage.DecodeDeposit(it.Value)
		if err != nil {
			return err
		}
		if !bytes.Equal(d.Key(), it.Key) {
			return fmt.Errorf("%w: stored under another key", storage.ErrCorrupt)
		}
		return tx.insertOrSame(`INSERT INTO deposits (key, owner, time, data) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			[]any{it.Key, d.Owner, ns(d.Time), it.Value}, it.Value, func() ([]byte, error) {
				var held []byte
				err := tx.row(`SELECT data FROM deposits WHERE key = $1`, it.Key).Scan(&held)
				return held, err
			})
	case storage.ItemAlert:
		seq, err := storage.ItemKey8(it)
		if err != nil {
			return err
		}
		return tx.insertOrSame(`INSERT INTO deposit_outbox (seq, key) VALUES ($1, $2) ON CONFLICT DO NOTHING`, []any{int64(seq), it.Value}, it.Value,
			func() ([]byte, error) {
				var held []byte
				err := tx.row(`SELECT key FROM deposit_outbox WHERE seq = $1`, int64(seq)).Scan(&held)
				return held, err
			})
	case storage.ItemCursor:
		chain, err := storage.ItemKey8(it)
		if err != nil {
			return err
		}
		c, err := storage.DecodeCursor(chain, it.Value)
		if err != nil {
			return err
		}
		return tx.insertOrSame(`INSERT INTO watch_cursors (chain_id, block, hashes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			[]any{int64(chain), int64(c.Block), joinHashes(c.Hashes)}, it.Value, func() ([]byte, error) {
				var block int64
				var hashes []byte
				if err := tx.row(`SELECT block, hashes FROM watch_cursors WHERE chain_id = $1`, int64(chain)).Scan(&block, &hashes); err != nil {
					return nil, err
				}
				held, err := cursorOf(chain, block, hashes)
				return storage.ItemOfCursor(&held).Value, err
			})
	case storage.ItemWalletCard:
		user, c, err := storage.DecodeWalletCard(it)
		if err != nil {
			return err
		}
		return tx.insertOrSame(`INSERT INTO wallet_cards (user_id, chat_id, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			[]any{user, c.ChatID, c.MessageID}, it.Value, func() ([]byte, error) {
				var held storage.Card
				err := tx.row(`SELECT chat_id, message_id FROM wallet_cards WHERE user_id = $1`, user).Scan(&held.ChatID, &held.MessageID)
				return storage.ItemOfWalletCard(user, held).Value, err
			})
	case storage.ItemCardEdit:
		e, err := storage.DecodeCardEdit(it)
		if err != nil {
			return err
		}
		// The transfer must be stored (the foreign key would refuse it
		// too, less clearly).
		var n int
		if err := tx.row(`SELECT count(*) FROM transfers WHERE id = $1`, e.TransferID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: card edit of a transfer that is not stored", storage.ErrCorrupt)
		}
		return tx.insertOrSame(`INSERT INTO card_edits (seq, transfer_id, state) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			[]any{int64(e.Seq), e.TransferID, int16(e.State)}, it.Value, func() ([]byte, error) {
				held := storage.CardEdit{Seq: e.Seq}
				var state int16
				err := tx.row(`SELECT transfer_id, state FROM card_edits WHERE seq = $1`, int64(e.Seq)).Scan(&held.TransferID, &state)
				held.State = storage.State(state)
				return storage.ItemOfCardEdit(held).Value, err
			})
	}
	return fmt.Errorf("%w: kind %q", storage.ErrInvalid, it.Kind)
}
