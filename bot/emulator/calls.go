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
	Method    string // lower case, as served
	ChatID    int64
	MessageID int64  // message_id of an edit (0 otherwise)
	Error     string // the refusal's description; "" when answered ok
	At        time.Time
}

// maxCalls bounds the call log; older calls are dropped.
const maxCalls = 100_000

// recordCall logs a call that reached a method, with when it arrived and
// its answer (refused ones count too: Telegram counts them).
func (e *Emulator) recordCall(method string, p params, at time.Time, perr *apiError) {
	chat, _ := strconv.ParseInt(strings.TrimSpace(p.v["chat_id"]), 10, 64)
	msg, _ := strconv.ParseInt(strings.TrimSpace(p.v["message_id"]), 10, 64)
	c := Call{Method: method, ChatID: chat, MessageID: msg, At: at}
	if perr != nil {
		c.Error = perr.desc
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.calls) >= maxCalls {
		e.calls = append(e.calls[:0], e.calls[len(e.calls)/2:]...)
	}
	e.calls = append(e.calls, c)
}

// Calls returns the Bot API calls answered so far, in arrival order.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}
