package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/storage"
)

// Cards and Telegram's send slots across parents (storage/cards.go,
// storage/sendslots.go; migration 0002). The card edit of a transfer's
// state change is inserted by pgTx.UpdateTransfer in the change's own
// transaction (queueCardEdit).

func (tx *pgTx) queueCardEdit(t *storage.Transfer) error {
	if _, err := tx.exec(`INSERT INTO card_edits (transfer_id, state) VALUES ($1, $2)`, t.ID, int16(t.State)); err != nil {
		return fmt.Errorf("postgres: queue card edit of %q: %w", t.ID, err)
	}
	return nil
}

// PendingCardEdits: see bolt.DB.PendingCardEdits.
func (db *DB) PendingCardEdits(after uint64, limit int) ([]storage.CardEdit, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("storage: pending card edits: %w: limit %d", storage.ErrInvalid, limit)
	}
	return read(db, func(tx *pgTx) ([]storage.CardEdit, error) {
		var out []storage.CardEdit
		err := tx.rows(`SELECT seq, transfer_id, state FROM card_edits WHERE seq > $1 ORDER BY seq LIMIT $2`,
			[]any{int64(min(after, 1<<63-1)), limit}, func(r pgx.Rows) error {
				var seq int64
				var state int16
				var e storage.CardEdit
				if err := r.Scan(&seq, &e.TransferID, &state); err != nil {
					return err
				}
				e.Seq, e.State = uint64(seq), storage.State(state)
				out = append(out, e)
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("postgres: pending card edits: %w", err)
		}
		return out, nil
	})
}

// CardEditsDone: see bolt.DB.CardEditsDone.
func (db *DB) CardEditsDone(seqs ...uint64) error {
	ids := make([]int64, 0, len(seqs))
	for _, s := range seqs {
		if s <= 1<<63-1 {
			ids = append(ids, int64(s))
		}
	}
	return db.run(false, func(tx *pgTx) error {
		if _, err := tx.exec(`DELETE FROM card_edits WHERE seq = ANY($1)`, ids); err != nil {
			return fmt.Errorf("postgres: card edits done: %w", err)
		}
		return nil
	})
}

// SetWalletCard: see bolt.DB.SetWalletCard.
func (db *DB) SetWalletCard(user int64, c storage.Card) error {
	if c.ChatID == 0 || c.MessageID <= 0 {
		return fmt.Errorf("storage: wallet card of %d: %w: chat %d message %d", user, storage.ErrInvalid, c.ChatID, c.MessageID)
	}
	return db.run(false, func(tx *pgTx) error {
		_, err := tx.exec(`INSERT INTO wallet_cards (user_id, chat_id, message_id) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET chat_id = excluded.chat_id, message_id = excluded.message_id`,
			user, c.ChatID, c.MessageID)
		if err != nil {
			return fmt.Errorf("postgres: wallet card of %d: %w", user, err)
		}
		return nil
	})
}

// WalletCard: see bolt.DB.WalletCard.
func (db *DB) WalletCard(user int64) (storage.Card, error) {
	return read(db, func(tx *pgTx) (storage.Card, error) {
		var c storage.Card
		err := tx.row(`SELECT chat_id, message_id FROM wallet_cards WHERE user_id = $1`, user).Scan(&c.ChatID, &c.MessageID)
		if isNoRows(err) {
			return c, fmt.Errorf("storage: wallet card of %d: %w", user, storage.ErrNotFound)
		} else if err != nil {
			return c, fmt.Errorf("postgres: wallet card of %d: %w", user, err)
		}
		return c, nil
	})
}

// ReserveSend: see bolt.DB.ReserveSend. The bot's row and the chat's
// are locked in chat id order (every parent locks in the same order: no
// deadlock), the arithmetic is storage.NextSendSlot on the server's clock
// read after the locks (clock_timestamp, not the transaction's start).
func (db *DB) ReserveSend(chatID int64, l storage.SendLimits) (time.Duration, bool, error) {
	if err := storage.CheckSendLimits(l); err != nil {
		return 0, false, err
	}
	type answer struct {
		wait     time.Duration
		reserved bool
	}
	a, err := write(db, func(tx *pgTx) (answer, error) {
		if chatID != 0 {
			// The chat's row is made if missing and, if present, locked by
			// this statement already (DO UPDATE locks the row; DO NOTHING
			// would not): a PruneSendSlots between this statement and the
			// SELECT below could otherwise delete it, and the chat's new
			// time would be written nowhere (the UPDATE finds no row), so
			// the chat's next message would not wait.
			if _, err := tx.exec(`INSERT INTO send_slots (chat_id, tat) VALUES ($1, to_timestamp(0))
				ON CONFLICT (chat_id) DO UPDATE SET tat = send_slots.tat`, chatID); err != nil {
				return answer{}, err
			}
		}
		var global, chat time.Time
		err := tx.rows(`SELECT chat_id, tat FROM send_slots WHERE chat_id IN (0, $1) ORDER BY chat_id FOR UPDATE`, []any{chatID},
			func(r pgx.Rows) error {
				var id int64
				var tat time.Time
				if err := r.Scan(&id, &tat); err != nil {
					return err
				}
				if id == 0 {
					global = tat
				} else {
					chat = tat
				}
				return nil
			})
		if err != nil {
			return answer{}, err
		}
		var now time.Time
		if err := tx.row(`SELECT clock_timestamp()`).Scan(&now); err != nil {
			return answer{}, err
		}
		at, g, c, ok := storage.NextSendSlot(now, global, chat, chatID != 0, l)
		if _, err := tx.exec(`UPDATE send_slots SET tat = CASE chat_id WHEN 0 THEN $2::timestamptz ELSE $3::timestamptz END
			WHERE chat_id IN (0, $1)`, chatID, g, c); err != nil {
			return answer{}, err
		}
		return answer{wait: at.Sub(now), reserved: ok}, nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("postgres: send slot for chat %d: %w", chatID, err)
	}
	return a.wait, a.reserved, nil
}

// PruneSendSlots deletes up to limit chats' slots that lie in the past (a
// fresh row behaves the same: bolt.DB.PruneSendSlots), keeping the table
// at about the chats of the last seconds; the bot's row (chat 0) stays. The
// rows are locked FOR UPDATE SKIP LOCKED: a row a ReserveSend holds (it is
// being moved ahead) is skipped, not waited for, and a ReserveSend that
// comes after the lock waits for the delete and then makes a fresh row.
// Several parents pruning at once each take other rows. The bot calls it
// (bot/prune.go).
//
// The table holds the chats messaged in the last minute or so (Telegram's
// 30 messages a second reach at most 1,800 a minute), so a batch reads it
// whole: an index on tat was measured and left out, because every
// reservation, i.e. every message, would pay for it (docs/postgres.md,
// "The send-slot prune"). "Past" is statement_timestamp(), the start of
// this statement, at most its age earlier than the clock: a slot that ran
// out in that instant waits for the next prune, never a row too many.
func (db *DB) PruneSendSlots(limit int) (int, error) {
	if limit < 1 {
		return 0, fmt.Errorf("storage: prune send slots: %w: limit %d", storage.ErrInvalid, limit)
	}
	return write(db, func(tx *pgTx) (int, error) {
		tag, err := tx.exec(pruneSendSlotsSQL, limit)
		if err != nil {
			return 0, fmt.Errorf("postgres: prune send slots: %w", err)
		}
		return int(tag.RowsAffected()), nil
	})
}

// pruneSendSlotsSQL is PruneSendSlots' statement ($1: the batch's limit);
// TestPruneSendSlotsBatches checks the bound. The rows are picked in a
// MATERIALIZED CTE, run once: as `chat_id IN (SELECT … LIMIT $1 …)` the
// planner may make the pick the inner side of a nested-loop semi-join,
// rescanned for each outer row, and each rescan skips the rows this
// statement already deleted and picks up to $1 more, so one batch deleted
// past its limit (conformance PruneSendSlots: 3 deleted with limit 2).
const pruneSendSlotsSQL = `WITH picked AS MATERIALIZED (
	SELECT chat_id FROM send_slots WHERE chat_id <> 0 AND tat < statement_timestamp()
	LIMIT $1 FOR UPDATE SKIP LOCKED)
DELETE FROM send_slots USING picked WHERE send_slots.chat_id = picked.chat_id`
