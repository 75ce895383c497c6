package emulator

import (
	"strconv"
	"strings"
	"time"
)

// Call is one Bot API call the emulator answered, as Telegram would count
// it against the bot's limits: the method, the chat it addressed (0 when
// none) and when it arrived. Tests of the limits across several parents
// measure these timestamps (docs/bot.md, "Several parents").
type Call struct {
	Method string // lower case, as served
	ChatID int64
	At     time.Time
}

// maxCalls bounds the call log; older calls are dropped.
const maxCalls = 100_000

// recordCall logs a call that reached a method (refused ones count too:
// Telegram counts them).
func (e *Emulator) recordCall(method string, p params) {
	chat, _ := strconv.ParseInt(strings.TrimSpace(p.v["chat_id"]), 10, 64)
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.calls) >= maxCalls {
		e.calls = append(e.calls[:0], e.calls[len(e.calls)/2:]...)
	}
	e.calls = append(e.calls, Call{Method: method, ChatID: chat, At: e.now()})
}

// Calls returns the Bot API calls answered so far, in arrival order.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}
