package storage

import (
	"fmt"
	"strings"
	"time"

	"github.com/autowallet/autowallet/storage/internal/codec"
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
	e := codec.Encoder{B: make([]byte, 0, 32+len(u.FirstName)+len(u.Username)+len(u.Language))}
	e.Byte(userV1)
	e.Uvarint(uint64(u.ID))
	e.Varint(u.ChatID)
	e.String(u.FirstName)
	e.String(u.Username)
	e.String(u.Language)
	e.Time(u.Created)
	e.Uvarint(u.Settings.ChainID)
	e.Bool(u.Settings.Muted)
	return e.B
}

func decodeUser(b []byte) (User, error) {
	d := codec.Decoder{B: b, What: "user"}
	var u User
	d.Version(userV1)
	u.ID = d.Owner("id")
	u.ChatID = d.Varint("chat id")
	u.FirstName = d.String("first name")
	u.Username = d.String("username")
	u.Language = d.String("language")
	u.Created = d.Time("created")
	u.Settings.ChainID = d.Uvarint("chain id")
	u.Settings.Muted = d.Bool("muted")
	if err := d.Finish(); err != nil {
		return User{}, err
	}
	return u, nil
}

// usernameKey is the index key of a username: lower case, without "@".
func usernameKey(name string) []byte {
	return []byte(strings.ToLower(strings.TrimPrefix(name, "@")))
}
