package bolt

import (
	"fmt"
	"strings"

	"github.com/autowallet/autowallet/storage"
)

// bucketUsernames indexes users by their Telegram @username, lower case:
// username -> `01` + user id (8 bytes). It lets a user send to "@bob". It is
// created by the first write of a user that has a username (so it needs no
// schema change) and kept by putUser: a user whose username changed loses
// the old key, and a username another user now holds points to that user
// (Telegram usernames are unique at any one time; the latest profile seen
// wins).
var bucketUsernames = []byte("users_by_username")

// UserByUsername returns the user who last showed that @username (with or
// without the "@", any case), or ErrNotFound. The user's stored profile
// must still carry the name: an index entry left by a user who changed it
// finds no one.
func (db *DB) UserByUsername(name string) (storage.User, error) {
	return read(db, func(tx *boltTx) (storage.User, error) { return tx.UserByUsername(name) })
}

// UserByUsername: see DB.UserByUsername.
func (tx *boltTx) UserByUsername(name string) (storage.User, error) {
	key := []byte(storage.UsernameKey(name))
	notFound := fmt.Errorf("storage: user @%s: %w", key, storage.ErrNotFound)
	b := tx.tx.Bucket(bucketUsernames)
	if b == nil || len(key) == 0 {
		return storage.User{}, notFound
	}
	ref := b.Get(key)
	if ref == nil {
		return storage.User{}, notFound
	}
	id, err := decodeOwnerRef(ref)
	if err != nil {
		return storage.User{}, fmt.Errorf("storage: user @%s: %w", key, err)
	}
	u, err := tx.User(id)
	if err != nil {
		return storage.User{}, err
	}
	if !strings.EqualFold(u.Username, string(key)) {
		return storage.User{}, notFound
	}
	return u, nil
}

// UsernameIndexed reports whether u's username (if any) points to u in the
// index; a profile stored before the index existed does not.
func (db *DB) UsernameIndexed(u storage.User) bool {
	if u.Username == "" {
		return true
	}
	found, err := db.UserByUsername(u.Username)
	return err == nil && found.ID == u.ID
}

// indexUsername keeps the username index for u, whose previous stored
// profile is old (zero for a new user).
func (tx *boltTx) indexUsername(old, u *storage.User) error {
	if old.Username == u.Username && u.Username == "" {
		return nil
	}
	b, err := tx.tx.CreateBucketIfNotExists(bucketUsernames)
	if err != nil {
		return fmt.Errorf("storage: username index: %w", err)
	}
	if old.Username != "" && !strings.EqualFold(old.Username, u.Username) {
		k := []byte(storage.UsernameKey(old.Username))
		if ref := b.Get(k); ref != nil {
			if id, err := decodeOwnerRef(ref); err == nil && id == u.ID {
				if err := b.Delete(k); err != nil {
					return fmt.Errorf("storage: username index: %w", err)
				}
			}
		}
	}
	if u.Username == "" {
		return nil
	}
	if err := b.Put([]byte(storage.UsernameKey(u.Username)), encodeOwnerRef(u.ID)); err != nil {
		return fmt.Errorf("storage: username index: %w", err)
	}
	return nil
}
