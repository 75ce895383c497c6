package bolt

import (
	"fmt"

	"github.com/autowallet/autowallet/storage"
)

// User returns the user with Telegram id id, or ErrNotFound.
func (db *DB) User(id int64) (storage.User, error) {
	return read(db, func(tx *boltTx) (storage.User, error) { return tx.User(id) })
}

// UpsertUser stores a user seen in a Telegram update. A new user is created
// (Created defaults to now); for a known user the profile fields (chat id,
// first name, username, language) are refreshed and Created and Settings are
// kept. It returns the stored user.
//
// Concurrent calls share one transaction and one fsync (batch.go).
func (db *DB) UpsertUser(u storage.User) (storage.User, error) {
	if err := storage.ValidateUser(&u); err != nil {
		return storage.User{}, fmt.Errorf("storage: upsert user: %w", err)
	}
	return batchWrite(db, func(tx *boltTx) (storage.User, error) { return tx.UpsertUser(u) })
}

// UpdateUser runs fn on the stored user inside one write transaction and
// stores the result (typically to change Settings). The id and Created may
// not change. An error from fn aborts the update and is returned as is.
func (db *DB) UpdateUser(id int64, fn func(*storage.User) error) (storage.User, error) {
	var out storage.User
	err := db.update(func(tx *boltTx) error {
		var err error
		out, err = tx.UpdateUser(id, fn)
		return err
	})
	return out, err
}

// User returns the user with Telegram id id, or ErrNotFound.
func (tx *boltTx) User(id int64) (storage.User, error) {
	raw := tx.tx.Bucket(bucketUsers).Get(ownerKey(id))
	if raw == nil {
		return storage.User{}, fmt.Errorf("storage: user %d: %w", id, storage.ErrNotFound)
	}
	u, err := storage.DecodeUser(raw)
	if err != nil {
		return storage.User{}, fmt.Errorf("storage: user %d: %w", id, err)
	}
	return u, nil
}

// UpsertUser: see DB.UpsertUser.
func (tx *boltTx) UpsertUser(u storage.User) (storage.User, error) {
	if err := storage.ValidateUser(&u); err != nil {
		return storage.User{}, fmt.Errorf("storage: upsert user: %w", err)
	}
	old, err := tx.User(u.ID)
	switch {
	case err == nil:
		old.ChatID, old.FirstName, old.Username, old.Language = u.ChatID, u.FirstName, u.Username, u.Language
		u = old
	case isNotFound(err):
		if u.Created.IsZero() {
			u.Created = tx.now
		}
	default:
		return storage.User{}, err
	}
	return u, tx.putUser(&u)
}

// UpdateUser: see DB.UpdateUser.
func (tx *boltTx) UpdateUser(id int64, fn func(*storage.User) error) (storage.User, error) {
	old, err := tx.User(id)
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
	return u, tx.putUser(&u)
}

func (tx *boltTx) putUser(u *storage.User) error {
	var old storage.User
	if raw := tx.tx.Bucket(bucketUsers).Get(ownerKey(u.ID)); raw != nil {
		old, _ = storage.DecodeUser(raw) // an unreadable old record only leaves a stale index key, which finds no one
	}
	if err := tx.indexUsername(&old, u); err != nil {
		return err
	}
	if err := tx.tx.Bucket(bucketUsers).Put(ownerKey(u.ID), storage.EncodeUser(u)); err != nil {
		return fmt.Errorf("storage: put user %d: %w", u.ID, err)
	}
	return nil
}
