package storage

// Telegram's message limits across parents (issue 11, docs/bot.md "Several
// parents"): every message a parent sends first reserves a send slot in the
// store, so the limits hold for the bot as a whole, not per process. A
// reservation is the generic cell rate algorithm (GCRA): per limit one
// "theoretical arrival time" (TAT); a message may go at max(now, TAT -
// (burst-1)*every), and moves TAT to max(TAT, then) + every. The global
// limit and the chat's are reserved together, in one step, so a message
// waits for both and takes a slot of both.
//
// The store only does the arithmetic on its own clock and answers how long
// to wait, so the parents' clocks never matter. A parent that reserved and
// died wastes its slot (the limits err on the safe side); it holds nothing
// another parent waits for.

import (
	"fmt"
	"sync"
	"time"
)

// RateLimit is one token-bucket limit: one message per Every, bursts of at
// most Burst.
type RateLimit struct {
	Every time.Duration
	Burst int
}

// SendLimits are the limits one reservation keeps to: the bot's (Global)
// and the chat's (Chat).
type SendLimits struct {
	Global, Chat RateLimit
}

// CheckSendLimits refuses limits outside (0, 1 min] per message and bursts
// outside 1..1000 (ErrInvalid); both engines check with it.
func CheckSendLimits(l SendLimits) error {
	for _, r := range []RateLimit{l.Global, l.Chat} {
		if r.Every <= 0 || r.Every > time.Minute || r.Burst < 1 || r.Burst > 1000 {
			return fmt.Errorf("storage: %w: send limit of one per %v, burst %d", ErrInvalid, r.Every, r.Burst)
		}
	}
	return nil
}

// SendHorizon is how far ahead the bot's slot is reserved. A chat's slot is
// reserved however far ahead it is (each chat's messages keep their order,
// and a waiting chat holds up only itself); the bot's slot only when it is
// near: a bot slot taken seconds ahead in the bot's one sequence would hold
// up every other chat until then (one user's ten alerts would delay
// everyone by ten seconds).
const SendHorizon = 100 * time.Millisecond

// NextSendSlot is the reservation's arithmetic, shared by the engines:
// given the clock and the stored TATs (zero when none), it returns when the
// message may go and the TATs to store. With a chat (withChat), the chat's
// slot is always taken (nextChat). The bot's slot is taken only if the
// message may go within SendHorizon (reserved; nextGlobal); otherwise
// nextGlobal is global unchanged, and the caller asks for the bot's slot
// alone (chat 0) at the returned time.
func NextSendSlot(now, global, chat time.Time, withChat bool, l SendLimits) (at, nextGlobal, nextChat time.Time, reserved bool) {
	at, nextChat = now, chat
	if withChat {
		if t := chat.Add(-time.Duration(l.Chat.Burst-1) * l.Chat.Every); t.After(at) {
			at = t
		}
		nextChat = later(chat, at).Add(l.Chat.Every)
	}
	if t := global.Add(-time.Duration(l.Global.Burst-1) * l.Global.Every); t.After(at) {
		at = t
	}
	if at.Sub(now) > SendHorizon {
		return at, global, nextChat, false
	}
	return at, later(global, at).Add(l.Global.Every), nextChat, true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

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
func (db *DB) ReserveSend(chatID int64, l SendLimits) (time.Duration, bool, error) {
	if err := CheckSendLimits(l); err != nil {
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
	at, g, c, ok := NextSendSlot(now, s.global, s.chats[chatID], chatID != 0, l)
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
		return 0, fmt.Errorf("storage: prune send slots: %w: limit %d", ErrInvalid, limit)
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
