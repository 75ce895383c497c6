package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/storage"
)

// Times of users, wallets and transfers are nanoseconds since the epoch, 0
// for the zero time: exactly what the bbolt encoding keeps.
func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// ---- users ----

const userCols = `id, chat_id, first_name, username, language, created, chain_id, muted`

func scanUser(row pgx.Row) (storage.User, error) {
	var u storage.User
	var created, chain int64
	err := row.Scan(&u.ID, &u.ChatID, &u.FirstName, &u.Username, &u.Language, &created, &chain, &u.Settings.Muted)
	u.Created, u.Settings.ChainID = fromNS(created), uint64(chain)
	return u, err
}

func (db *DB) User(id int64) (storage.User, error) {
	return read(db, func(tx *pgTx) (storage.User, error) { return tx.User(id) })
}

func (db *DB) UpsertUser(u storage.User) (storage.User, error) {
	return write(db, func(tx *pgTx) (storage.User, error) { return tx.UpsertUser(u) })
}

func (db *DB) UpdateUser(id int64, fn func(*storage.User) error) (storage.User, error) {
	return write(db, func(tx *pgTx) (storage.User, error) { return tx.UpdateUser(id, fn) })
}

func (tx *pgTx) user(id int64, lock bool) (storage.User, error) {
	q := `SELECT ` + userCols + ` FROM users WHERE id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	u, err := scanUser(tx.row(q, id))
	if isNoRows(err) {
		return storage.User{}, fmt.Errorf("storage: user %d: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("postgres: user %d: %w", id, err)
	}
	return u, nil
}

// User: see bolt.DB.User.
func (tx *pgTx) User(id int64) (storage.User, error) { return tx.user(id, false) }

// UpsertUser: see bolt.DB.UpsertUser.
func (tx *pgTx) UpsertUser(u storage.User) (storage.User, error) {
	if err := storage.ValidateUser(&u); err != nil {
		return storage.User{}, fmt.Errorf("storage: upsert user: %w", err)
	}
	old, err := tx.user(u.ID, true)
	switch {
	case err == nil:
		next := old
		next.ChatID, next.FirstName, next.Username, next.Language = u.ChatID, u.FirstName, u.Username, u.Language
		return next, tx.putUser(&old, &next, false)
	case isNotFound(err):
		if u.Created.IsZero() {
			u.Created = tx.now
		}
		return u, tx.putUser(&storage.User{}, &u, true)
	}
	return storage.User{}, err
}

// UpdateUser: see bolt.DB.UpdateUser.
func (tx *pgTx) UpdateUser(id int64, fn func(*storage.User) error) (storage.User, error) {
	old, err := tx.user(id, true)
	if err != nil {
		return storage.User{}, err
	}
	u := old
	if err := fn(&u); err != nil {
		return storage.User{}, err
	}
	if u.ID != old.ID || !u.Created.Equal(old.Created) {
		return storage.User{}, fmt.Errorf("storage: update user %d: %w: id and created may not change", id, storage.ErrInvalid)
	}
	if err := storage.ValidateUser(&u); err != nil {
		return storage.User{}, fmt.Errorf("storage: update user %d: %w", id, err)
	}
	return u, tx.putUser(&old, &u, false)
}

// putUser writes u (old is its locked previous row, zero for a new user)
// and keeps the username index as storage's indexUsername does.
func (tx *pgTx) putUser(old, u *storage.User, insert bool) error {
	var err error
	if insert {
		_, err = tx.exec(`INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			u.ID, u.ChatID, u.FirstName, u.Username, u.Language, ns(u.Created), int64(u.Settings.ChainID), u.Settings.Muted)
	} else {
		_, err = tx.exec(`UPDATE users SET chat_id = $2, first_name = $3, username = $4, language = $5, chain_id = $6, muted = $7 WHERE id = $1`,
			u.ID, u.ChatID, u.FirstName, u.Username, u.Language, int64(u.Settings.ChainID), u.Settings.Muted)
	}
	if err != nil {
		return fmt.Errorf("postgres: put user %d: %w", u.ID, err)
	}
	if old.Username != "" && !strings.EqualFold(old.Username, u.Username) {
		if _, err := tx.exec(`DELETE FROM usernames WHERE name = $1 AND user_id = $2`, storage.UsernameKey(old.Username), u.ID); err != nil {
			return fmt.Errorf("postgres: username index: %w", err)
		}
	}
	if u.Username == "" {
		return nil
	}
	if _, err := tx.exec(`INSERT INTO usernames (name, user_id) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET user_id = excluded.user_id`, storage.UsernameKey(u.Username), u.ID); err != nil {
		return fmt.Errorf("postgres: username index: %w", err)
	}
	return nil
}

// UserByUsername: see bolt.DB.UserByUsername.
func (db *DB) UserByUsername(name string) (storage.User, error) {
	return read(db, func(tx *pgTx) (storage.User, error) {
		key := storage.UsernameKey(name)
		notFound := fmt.Errorf("storage: user @%s: %w", key, storage.ErrNotFound)
		if key == "" {
			return storage.User{}, notFound
		}
		var id int64
		err := tx.row(`SELECT user_id FROM usernames WHERE name = $1`, key).Scan(&id)
		if isNoRows(err) {
			return storage.User{}, notFound
		} else if err != nil {
			return storage.User{}, fmt.Errorf("postgres: user @%s: %w", key, err)
		}
		u, err := tx.User(id)
		if err != nil {
			return storage.User{}, err
		}
		if !strings.EqualFold(u.Username, key) {
			return storage.User{}, notFound
		}
		return u, nil
	})
}

// UsernameIndexed: see bolt.DB.UsernameIndexed.
func (db *DB) UsernameIndexed(u storage.User) bool {
	if u.Username == "" {
		return true
	}
	found, err := db.UserByUsername(u.Username)
	return err == nil && found.ID == u.ID
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// ---- wallets ----

const walletCols = `owner, address, record, created`

func scanWallet(row pgx.Row) (storage.Wallet, error) {
	var w storage.Wallet
	var addr []byte
	var created int64
	if err := row.Scan(&w.Owner, &addr, &w.Record, &created); err != nil {
		return storage.Wallet{}, err
	}
	if len(addr) != common.AddressLength {
		return storage.Wallet{}, fmt.Errorf("%w: wallet address of %d bytes", storage.ErrCorrupt, len(addr))
	}
	w.Address, w.Created = common.Address(addr), fromNS(created)
	return w, nil
}

// CreateWallet: see bolt.DB.CreateWallet. Outside Update it is one
// statement (one round trip, its own durable commit): the insert happens
// only when neither the owner nor the address has a wallet, and the same
// statement returns the rows that stopped it. A concurrent create that
// commits between the statement's snapshot and its insert makes ON CONFLICT
// skip the insert while the snapshot shows no row; the statement is then
// run again and sees the winner (bounded by MaxAttempts).
func (db *DB) CreateWallet(w storage.Wallet) (storage.Wallet, bool, error) {
	if err := storage.ValidateWallet(&w); err != nil {
		return storage.Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	if w.Created.IsZero() {
		w.Created = db.now().UTC()
	}
	ctx, cancel := context.WithTimeout(context.Background(), db.timeout)
	defer cancel()
	var wait waiter
	for attempt := 1; ; attempt++ {
		rows, err := db.pool.Query(ctx, `WITH ins AS (
				INSERT INTO wallets (`+walletCols+`) SELECT $1, $2, $3, $4
				WHERE NOT EXISTS (SELECT 1 FROM wallets WHERE owner = $1 OR address = $2)
				ON CONFLICT DO NOTHING
				RETURNING `+walletCols+`)
			SELECT `+walletCols+`, true FROM ins
			UNION ALL
			SELECT `+walletCols+`, false FROM wallets WHERE owner = $1 OR address = $2`,
			w.Owner, w.Address[:], w.Record, ns(w.Created))
		var found []storage.Wallet
		inserted := false
		if err == nil {
			for rows.Next() {
				var f storage.Wallet
				var addr []byte
				var created int64
				var ins bool
				if err = rows.Scan(&f.Owner, &addr, &f.Record, &created, &ins); err != nil {
					break
				}
				if len(addr) != common.AddressLength {
					err = fmt.Errorf("%w: wallet address of %d bytes", storage.ErrCorrupt, len(addr))
					break
				}
				f.Address, f.Created = common.Address(addr), fromNS(created)
				inserted = inserted || ins
				found = append(found, f)
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err != nil {
			// The statement is idempotent (it inserts only when the owner
			// has no wallet), so it is run again once the server is back
			// whatever the lost connection left behind.
			if down(err) && ctx.Err() == nil && wait.again(ctx, db.wait) {
				attempt--
				continue
			}
			if retryable(err) && attempt < MaxAttempts && ctx.Err() == nil {
				time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
				continue
			}
			return storage.Wallet{}, false, fmt.Errorf("postgres: create wallet: %w", mapErr(err))
		}
		if inserted {
			return w, true, nil
		}
		for _, f := range found {
			if f.Owner == w.Owner {
				return f, false, nil
			}
		}
		for _, f := range found {
			return storage.Wallet{}, false, fmt.Errorf("storage: create wallet for user %d: %w: address %s belongs to user %d", w.Owner, storage.ErrWalletExists, w.Address, f.Owner)
		}
		if attempt == MaxAttempts {
			return storage.Wallet{}, false, fmt.Errorf("postgres: create wallet for user %d: lost the race %d times", w.Owner, attempt)
		}
	}
}

func (db *DB) WalletByOwner(owner int64) (storage.Wallet, error) {
	return read(db, func(tx *pgTx) (storage.Wallet, error) { return tx.WalletByOwner(owner) })
}

func (db *DB) WalletByAddress(addr common.Address) (storage.Wallet, error) {
	return read(db, func(tx *pgTx) (storage.Wallet, error) {
		w, err := scanWallet(tx.row(`SELECT `+walletCols+` FROM wallets WHERE address = $1`, addr[:]))
		if isNoRows(err) {
			return storage.Wallet{}, fmt.Errorf("storage: wallet %s: %w", addr, storage.ErrNotFound)
		} else if err != nil {
			return storage.Wallet{}, fmt.Errorf("postgres: wallet %s: %w", addr, err)
		}
		return w, nil
	})
}

// CreateWallet: see bolt.DB.CreateWallet. The owner's wallet and the
// address's owner are read first, so the answers are bbolt's; a concurrent
// create that slips between the read and the insert makes the insert
// violate the primary key or the address's UNIQUE, and the retry reads the
// winner.
func (tx *pgTx) CreateWallet(w storage.Wallet) (storage.Wallet, bool, error) {
	if err := storage.ValidateWallet(&w); err != nil {
		return storage.Wallet{}, false, fmt.Errorf("storage: create wallet: %w", err)
	}
	var found []storage.Wallet
	err := tx.rows(`SELECT `+walletCols+` FROM wallets WHERE owner = $1 OR address = $2`, []any{w.Owner, w.Address[:]},
		func(r pgx.Rows) error {
			got, err := scanWallet(r)
			found = append(found, got)
			return err
		})
	if err != nil {
		return storage.Wallet{}, false, fmt.Errorf("postgres: create wallet: %w", err)
	}
	for _, f := range found {
		if f.Owner == w.Owner {
			return f, false, nil
		}
	}
	for _, f := range found {
		return storage.Wallet{}, false, fmt.Errorf("storage: create wallet for user %d: %w: address %s belongs to user %d", w.Owner, storage.ErrWalletExists, w.Address, f.Owner)
	}
	if w.Created.IsZero() {
		w.Created = tx.now
	}
	if _, err := tx.exec(`INSERT INTO wallets (`+walletCols+`) VALUES ($1, $2, $3, $4)`, w.Owner, w.Address[:], w.Record, ns(w.Created)); err != nil {
		return storage.Wallet{}, false, fmt.Errorf("postgres: create wallet: %w", err)
	}
	return w, true, nil
}

// WalletByOwner: see bolt.DB.WalletByOwner.
func (tx *pgTx) WalletByOwner(owner int64) (storage.Wallet, error) {
	w, err := scanWallet(tx.row(`SELECT `+walletCols+` FROM wallets WHERE owner = $1`, owner))
	if isNoRows(err) {
		return storage.Wallet{}, fmt.Errorf("storage: wallet of user %d: %w", owner, storage.ErrNotFound)
	} else if err != nil {
		return storage.Wallet{}, fmt.Errorf("postgres: wallet of user %d: %w", owner, err)
	}
	return w, nil
}

// ForEachWallet calls fn for every wallet in owner order, in one
// consistent read (REPEATABLE READ: one snapshot however long the walk).
func (db *DB) ForEachWallet(fn func(storage.Wallet) error) error {
	return db.snapshot(func(tx *pgTx) error {
		return tx.rows(`SELECT `+walletCols+` FROM wallets ORDER BY owner`, nil, func(r pgx.Rows) error {
			w, err := scanWallet(r)
			if err != nil {
				return fmt.Errorf("postgres: wallet: %w", err)
			}
			return fn(w)
		})
	})
}

// FirstWallet: see bolt.DB.FirstWallet. One row by the primary key.
func (db *DB) FirstWallet() (storage.Wallet, error) {
	return read(db, func(tx *pgTx) (storage.Wallet, error) {
		w, err := scanWallet(tx.row(`SELECT ` + walletCols + ` FROM wallets ORDER BY owner LIMIT 1`))
		if isNoRows(err) {
			return storage.Wallet{}, fmt.Errorf("storage: first wallet: %w", storage.ErrNotFound)
		} else if err != nil {
			return storage.Wallet{}, fmt.Errorf("postgres: first wallet: %w", err)
		}
		return w, nil
	})
}

// ForEachWalletAddress calls fn for every address and owner, by address.
func (db *DB) ForEachWalletAddress(fn func(addr common.Address, owner int64) error) error {
	return db.snapshot(func(tx *pgTx) error {
		return tx.rows(`SELECT address, owner FROM wallets ORDER BY address`, nil, func(r pgx.Rows) error {
			var addr []byte
			var owner int64
			if err := r.Scan(&addr, &owner); err != nil {
				return err
			}
			if len(addr) != common.AddressLength {
				return fmt.Errorf("postgres: wallet address %x: %w", addr, storage.ErrCorrupt)
			}
			return fn(common.Address(addr), owner)
		})
	})
}

// ---- meta ----

func (db *DB) Meta(key string) ([]byte, error) {
	return read(db, func(tx *pgTx) ([]byte, error) { return tx.Meta(key) })
}

func (db *DB) PutMeta(key string, value []byte) error {
	return db.run(false, func(tx *pgTx) error { return tx.PutMeta(key, value) })
}

// Meta: see bolt.DB.Meta.
func (tx *pgTx) Meta(key string) ([]byte, error) {
	if err := storage.CheckMetaKey(key); err != nil {
		return nil, err
	}
	var v []byte
	err := tx.row(`SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if isNoRows(err) {
		return nil, fmt.Errorf("storage: meta %q: %w", key, storage.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: meta %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// PutMeta: see bolt.DB.PutMeta.
func (tx *pgTx) PutMeta(key string, value []byte) error {
	if err := storage.CheckMetaKey(key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // NOT NULL: nil is stored as empty, as bbolt does
	}
	if _, err := tx.exec(`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("postgres: put meta %q: %w", key, err)
	}
	return nil
}

// CreateMeta: see storage.Tx.CreateMeta. ON CONFLICT DO NOTHING waits for a
// concurrent insert of the key to commit or roll back, so under READ
// COMMITTED the loser inserts nothing, and its next statement (a new
// snapshot) reads the winner's value: never an overwrite.
func (tx *pgTx) CreateMeta(key string, value []byte) ([]byte, bool, error) {
	if err := storage.CheckMetaKey(key); err != nil {
		return nil, false, err
	}
	if value == nil {
		value = []byte{}
	}
	tag, err := tx.exec(`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: create meta %q: %w", key, err)
	}
	if tag.RowsAffected() == 1 {
		return bytes.Clone(value), true, nil
	}
	old, err := tx.Meta(key)
	if err != nil {
		return nil, false, err
	}
	return old, false, nil
}
