package bolt

// Telegram's message limits (storage/sendslots.go has the reservation's
// arithmetic, shared with storage/postgres). The bbolt engine keeps the
// reservations in memory: the file lock makes its process the only parent.

import (
	"fmt"
	"sync"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// maxSendChats bounds the per-chat TATs kept in memory; beyond it, chats
// whose TAT has passed (idle: a fresh one would behave the same) are dropped.
const maxSendChats = 10000

// sendSlots is the bbolt engine's state: in memory, because the file lock
// makes the process holding it the only parent (a restart forgets at most
// one second of history, which Telegram forgives as a burst).
type sendSlots struct {
	mu     sync.Mutex
	global time.Time
	chats  map[int64]time.Time
}

// ReserveSend reserves a send slot under l and answers how long to wait
// and whether the message may then go (reserved). For a chat (chatID ≠ 0)
// the chat's slot is always taken, in order; when the bot's slot is not
// near, reserved is false and the caller asks for the bot's slot alone
// (chatID 0) after the wait. A slot is taken whether or not the caller
// sends.
func (db *DB) ReserveSend(chatID int64, l storage.SendLimits) (time.Duration, bool, error) {
	if err := storage.CheckSendLimits(l); err != nil {
		return 0, false, err
	}
	s := &db.slots
	now := db.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chats == nil {
		s.chats = map[int64]time.Time{}
	}
	if len(s.chats) >= maxSendChats {
		for k, t := range s.chats {
			if !t.After(now) {
				delete(s.chats, k)
			}
		}
	}
	at, g, c, ok := storage.NextSendSlot(now, s.global, s.chats[chatID], chatID != 0, l)
	s.global = g
	if chatID != 0 {
		s.chats[chatID] = c
	}
	return at.Sub(now), ok, nil
}

// PruneSendSlots forgets up to limit chats' send slots that lie in the past
// (a chat without one behaves exactly the same: its next message may go at
// once) and returns how many it forgot; the bot's own slot is kept. The
// bot calls it now and then (bot/prune.go), so the slots kept are about the
// chats of the last seconds. limit < 1 is ErrInvalid.
func (db *DB) PruneSendSlots(limit int) (int, error) {
	if limit < 1 {
		return 0, fmt.Errorf("storage: prune send slots: %w: limit %d", storage.ErrInvalid, limit)
	}
	s := &db.slots
	now := db.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, t := range s.chats {
		if n == limit {
			break
		}
		if t.Before(now) {
			delete(s.chats, k)
			n++
		}
	}
	return n, nil
}
