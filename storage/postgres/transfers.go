package postgres

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/storage"
)

// A transfer row is its canonical encoding (data) and the columns the
// queries and constraints need, written from the same value.

// transferCols: the data and the columns written from it. A read checks
// that they agree, so a row whose columns were changed behind the
// program's back (to put a transfer in another state's work list, or on
// another nonce) is refused as corrupt instead of being half believed.
const transferCols = `id, owner, created, state, kind, chain_id, from_addr, nonce, data`

func scanTransfer(row pgx.Row) (storage.Transfer, error) {
	var id string
	var owner, created, chain, nonce int64
	var state, kind int16
	var from, data []byte
	if err := row.Scan(&id, &owner, &created, &state, &kind, &chain, &from, &nonce, &data); err != nil {
		return storage.Transfer{}, err
	}
	t, err := storage.DecodeTransfer(data)
	if err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: transfer %q: %w", id, err)
	}
	if t.ID != id || t.Owner != owner || ns(t.Created) != created || int16(t.State) != state || int16(t.Kind) != kind ||
		uint64(chain) != t.ChainID || !bytes.Equal(from, t.From[:]) || uint64(nonce) != t.Nonce {
		return storage.Transfer{}, fmt.Errorf("storage: transfer %q: %w: the row's columns disagree with its data", id, storage.ErrCorrupt)
	}
	return t, nil
}

func (tx *pgTx) transfersWhere(where string, args ...any) ([]storage.Transfer, error) {
	var out []storage.Transfer
	err := tx.rows(`SELECT `+transferCols+` FROM transfers WHERE `+where, args, func(r pgx.Rows) error {
		t, err := scanTransfer(r)
		out = append(out, t)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: transfers: %w", err)
	}
	return out, nil
}

func (db *DB) CreateTransfer(t storage.Transfer) (storage.Transfer, error) {
	return write(db, func(tx *pgTx) (storage.Transfer, error) { return tx.CreateTransfer(t) })
}

func (db *DB) Transfer(id string) (storage.Transfer, error) {
	return read(db, func(tx *pgTx) (storage.Transfer, error) { return tx.Transfer(id) })
}

func (db *DB) UpdateTransfer(id string, fn func(*storage.Transfer) error) (storage.Transfer, error) {
	return write(db, func(tx *pgTx) (storage.Transfer, error) { return tx.UpdateTransfer(id, fn) })
}

func (db *DB) TransfersByOwner(owner int64, limit, offset int) ([]storage.Transfer, error) {
	if limit <= 0 || offset < 0 {
		return nil, fmt.Errorf("storage: transfers of user %d: %w: limit %d, offset %d", owner, storage.ErrInvalid, limit, offset)
	}
	return read(db, func(tx *pgTx) ([]storage.Transfer, error) {
		return tx.transfersWhere(`owner = $1 ORDER BY created DESC, id DESC LIMIT $2 OFFSET $3`, owner, limit, offset)
	})
}

func (db *DB) TransfersInState(states ...storage.State) ([]storage.Transfer, error) {
	return read(db, func(tx *pgTx) ([]storage.Transfer, error) { return tx.TransfersInState(states...) })
}

func (db *DB) ActiveNonces(chainID uint64, from common.Address) ([]uint64, error) {
	return read(db, func(tx *pgTx) ([]uint64, error) { return tx.ActiveNonces(chainID, from) })
}

func (db *DB) NonceHolders(chainID uint64, from common.Address) ([]storage.Transfer, error) {
	return read(db, func(tx *pgTx) ([]storage.Transfer, error) { return tx.NonceHolders(chainID, from) })
}

// Transfer: see bolt.DB.Transfer.
func (tx *pgTx) Transfer(id string) (storage.Transfer, error) { return tx.transfer(id, false) }

func (tx *pgTx) transfer(id string, lock bool) (storage.Transfer, error) {
	q := `SELECT ` + transferCols + ` FROM transfers WHERE id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	t, err := scanTransfer(tx.row(q, id))
	if isNoRows(err) {
		return storage.Transfer{}, fmt.Errorf("storage: transfer %q: %w", id, storage.ErrNotFound)
	} else if err != nil {
		return storage.Transfer{}, fmt.Errorf("postgres: transfer %q: %w", id, err)
	}
	return t, nil
}

// CreateTransfer: see bolt.DB.CreateTransfer. The nonce's holder is read
// first (bbolt's answers); the partial unique index transfers_nonce is what
// makes two concurrent creates at one nonce impossible, and the retry of
// the loser then finds the winner and answers ErrNonceInUse.
func (tx *pgTx) CreateTransfer(in storage.Transfer) (storage.Transfer, error) {
	t, err := storage.PrepareTransfer(in, tx.now)
	if err != nil {
		return storage.Transfer{}, err
	}
	w, err := tx.WalletByOwner(t.Owner)
	if err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if w.Address != t.From {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w: sender %s is not the wallet %s of user %d", t.ID, storage.ErrInvalid, t.From, w.Address, t.Owner)
	}
	var exists bool
	if err := tx.row(`SELECT EXISTS (SELECT 1 FROM transfers WHERE id = $1)`, t.ID).Scan(&exists); err != nil {
		return storage.Transfer{}, fmt.Errorf("postgres: create transfer %q: %w", t.ID, err)
	}
	if exists {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, storage.ErrTransferExists)
	}
	holders, err := tx.transfersWhere(`chain_id = $1 AND from_addr = $2 AND nonce = $3 AND state IN (1, 2, 3) AND kind = 0`,
		int64(t.ChainID), t.From[:], int64(t.Nonce))
	if err != nil {
		return storage.Transfer{}, err
	}
	if t.Kind == storage.KindReplacement {
		// The replaced transfer is locked: it cannot leave the signed
		// states while its replacement is being stored.
		orig, err := tx.transfer(t.Replaces, true)
		if err != nil {
			return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: the replaced transfer: %w", t.ID, err)
		}
		if len(holders) != 1 || holders[0].ID != orig.ID {
			return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w: %q is not a signed open transfer holding nonce %d of %s",
				t.ID, storage.ErrInvalid, t.Replaces, t.Nonce, t.From)
		}
		if err := storage.CheckReplacement(&t, &orig); err != nil {
			return storage.Transfer{}, err
		}
	} else if len(holders) > 0 {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w: nonce %d of %s is held by transfer %q", t.ID, storage.ErrNonceInUse, t.Nonce, t.From, holders[0].ID)
	}
	if err := tx.insertTransfer(&t); err != nil {
		return storage.Transfer{}, fmt.Errorf("postgres: create transfer %q: %w", t.ID, err)
	}
	return t, nil
}

func (tx *pgTx) insertTransfer(t *storage.Transfer) error {
	_, err := tx.exec(`INSERT INTO transfers (id, owner, created, state, kind, chain_id, from_addr, nonce, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.Owner, ns(t.Created), int16(t.State), int16(t.Kind), int64(t.ChainID), t.From[:], int64(t.Nonce), storage.EncodeTransfer(t))
	return err
}

// UpdateTransfer: see bolt.DB.UpdateTransfer. The row is locked (FOR
// UPDATE) from the read to the write: two parents moving one transfer
// take turns, and the second sees the first's state.
func (tx *pgTx) UpdateTransfer(id string, fn func(*storage.Transfer) error) (storage.Transfer, error) {
	old, err := tx.transfer(id, true)
	if err != nil {
		return storage.Transfer{}, err
	}
	t := storage.CloneTransfer(old)
	if err := fn(&t); err != nil {
		return storage.Transfer{}, err
	}
	if err := storage.CheckTransferUpdate(&old, &t, tx.now); err != nil {
		return storage.Transfer{}, err
	}
	if _, err := tx.exec(`UPDATE transfers SET state = $2, data = $3 WHERE id = $1`, id, int16(t.State), storage.EncodeTransfer(&t)); err != nil {
		return storage.Transfer{}, fmt.Errorf("postgres: update transfer %q: %w", id, err)
	}
	// The card edit goes with the change (storage/cards.go, issue 11).
	if storage.CardEditDue(&old, &t) {
		if err := tx.queueCardEdit(&t); err != nil {
			return storage.Transfer{}, err
		}
	}
	return t, nil
}

// TransfersInState: see bolt.DB.TransfersInState.
func (tx *pgTx) TransfersInState(states ...storage.State) ([]storage.Transfer, error) {
	var ss []int16
	for _, s := range states {
		if !s.Valid() {
			return nil, fmt.Errorf("storage: transfers in state: %w: %s", storage.ErrInvalid, s)
		}
		ss = append(ss, int16(s))
	}
	if len(ss) == 0 {
		return nil, nil
	}
	out, err := tx.transfersWhere(`state = ANY($1)`, ss)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b storage.Transfer) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// NonceHolders: see bolt.DB.NonceHolders.
func (tx *pgTx) NonceHolders(chainID uint64, from common.Address) ([]storage.Transfer, error) {
	out, err := tx.transfersWhere(`chain_id = $1 AND from_addr = $2 AND state IN (1, 2, 3) AND kind = 0`, int64(chainID), from[:])
	if err != nil {
		return nil, err
	}
	// uint64 order (the column holds the same 64 bits as bigint).
	slices.SortFunc(out, func(a, b storage.Transfer) int { return cmpU64(a.Nonce, b.Nonce) })
	return out, nil
}

// ActiveNonces: see bolt.DB.ActiveNonces.
func (tx *pgTx) ActiveNonces(chainID uint64, from common.Address) ([]uint64, error) {
	var out []uint64
	err := tx.rows(`SELECT nonce FROM transfers WHERE chain_id = $1 AND from_addr = $2 AND state IN (1, 2, 3) AND kind = 0`,
		[]any{int64(chainID), from[:]}, func(r pgx.Rows) error {
			var n int64
			err := r.Scan(&n)
			out = append(out, uint64(n))
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("postgres: active nonces of %s on chain %d: %w", from, chainID, err)
	}
	slices.Sort(out)
	return out, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
