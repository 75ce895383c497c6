package storage

import (
	"fmt"
	"time"
)

// User is a Telegram user who talked to the bot.
type User struct {
	ID        int64 // Telegram user id
	ChatID    int64 // private chat with the bot
	FirstName string
	Username  string // without @, may be empty
	Language  string // IETF tag from Telegram, may be empty
	Created   time.Time
	Settings  Settings
}

// Settings are the user's choices. The zero value is the default.
type Settings struct {
	ChainID uint64 // preferred network; 0 means the deployment's default
	Muted   bool   // no notifications about incoming funds
}

func (u *User) validate() error {
	switch {
	case u.ID <= 0:
		return fmt.Errorf("%w: user id %d", ErrInvalid, u.ID)
	case len(u.FirstName) > 1024 || len(u.Username) > 1024 || len(u.Language) > 64:
		return fmt.Errorf("%w: user %d: a name is too long", ErrInvalid, u.ID)
	}
	return checkTime("created", u.Created)
}

// encodeUser: version 1, id uvarint, chat id varint, first name, username,
// language (uvarint length + bytes each), created (varint ns), chain id
// uvarint, muted (0|1).
func encodeUser(u *User) []byte {
	e := encoder{b: make([]byte, 0, 32+len(u.FirstName)+len(u.Username)+len(u.Language))}
	e.byte(userV1)
	e.uvarint(uint64(u.ID))
	e.varint(u.ChatID)
	e.string(u.FirstName)
	e.string(u.Username)
	e.string(u.Language)
	e.time(u.Created)
	e.uvarint(u.Settings.ChainID)
	e.bool(u.Settings.Muted)
	return e.b
}

func decodeUser(b []byte) (User, error) {
	d := decoder{b: b, what: "user"}
	var u User
	d.version(userV1)
	u.ID = d.owner("id")
	u.ChatID = d.varint("chat id")
	u.FirstName = d.string("first name")
	u.Username = d.string("username")
	u.Language = d.string("language")
	u.Created = d.time("created")
	u.Settings.ChainID = d.uvarint("chain id")
	u.Settings.Muted = d.bool("muted")
	if err := d.finish(); err != nil {
		return User{}, err
	}
	return u, nil
}

// User returns the user with Telegram id id, or ErrNotFound.
func (db *DB) User(id int64) (User, error) {
	return read(db, func(tx *boltTx) (User, error) { return tx.User(id) })
}

// UpsertUser stores a user seen in a Telegram update. A new user is created
// (Created defaults to now); for a known user the profile fields (chat id,
// first name, username, language) are refreshed and Created and Settings are
// kept. It returns the stored user.
//
// Concurrent calls share one transaction and one fsync (batch.go).
func (db *DB) UpsertUser(u User) (User, error) {
	if err := u.validate(); err != nil {
		return User{}, fmt.Errorf("storage: upsert user: %w", err)
	}
	return batchWrite(db, func(tx *boltTx) (User, error) { return tx.UpsertUser(u) })
}

// UpdateUser runs fn on the stored user inside one write transaction and
// stores the result (typically to change Settings). The id and Created may
// not change. An error from fn aborts the update and is returned as is.
func (db *DB) UpdateUser(id int64, fn func(*User) error) (User, error) {
	var out User
	err := db.update(func(tx *boltTx) error {
		var err error
		out, err = tx.UpdateUser(id, fn)
		return err
	})
	return out, err
}

// User returns the user with Telegram id id, or ErrNotFound.
func (tx *boltTx) User(id int64) (User, error) {
	raw := tx.tx.Bucket(bucketUsers).Get(ownerKey(id))
	if raw == nil {
		return User{}, fmt.Errorf("storage: user %d: %w", id, ErrNotFound)
	}
	u, err := decodeUser(raw)
	if err != nil {
		return User{}, fmt.Errorf("storage: user %d: %w", id, err)
	}
	return u, nil
}

// UpsertUser: see DB.UpsertUser.
func (tx *boltTx) UpsertUser(u User) (User, error) {
	if err := u.validate(); err != nil {
		return User{}, fmt.Errorf("storage: upsert user: %w", err)
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
		return User{}, err
	}
	return u, tx.putUser(&u)
}

// UpdateUser: see DB.UpdateUser.
func (tx *boltTx) UpdateUser(id int64, fn func(*User) error) (User, error) {
	old, err := tx.User(id)
	if err != nil {
		return User{}, err
	}
	u := old
	if err := fn(&u); err != nil {
		return User{}, err
	}
	if u.ID != old.ID || !u.Created.Equal(old.Created) {
		return User{}, fmt.Errorf("storage: update user %d: %w: id and created may not change", id, ErrInvalid)
	}
	if err := u.validate(); err != nil {
		return User{}, fmt.Errorf("storage: update user %d: %w", id, err)
	}
	return u, tx.putUser(&u)
}

func (tx *boltTx) putUser(u *User) error {
	var old User
	if raw := tx.tx.Bucket(bucketUsers).Get(ownerKey(u.ID)); raw != nil {
		old, _ = decodeUser(raw) // an unreadable old record only leaves a stale index key, which finds no one
	}
	if err := tx.indexUsername(&old, u); err != nil {
		return err
	}
	if err := tx.tx.Bucket(bucketUsers).Put(ownerKey(u.ID), encodeUser(u)); err != nil {
		return fmt.Errorf("storage: put user %d: %w", u.ID, err)
	}
	return nil
}
