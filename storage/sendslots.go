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
