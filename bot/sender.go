package bot

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"golang.org/x/time/rate"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/storage"
)

// Telegram's limits for one bot: about 30 messages a second overall and one a
// second in one chat (short bursts are tolerated).
const (
	globalPerSecond = 30
	chatPerSecond   = 1
	chatBurst       = 3
	maxRetries      = 3
	maxRetryAfter   = 60 * time.Second
	maxChatLimiters = 10000
)

// TelegramLimits are the limits above as a store reservation keeps them
// (storage.ReserveSend): the same token buckets as the in-process limiters.
var TelegramLimits = storage.SendLimits{
	Global: storage.RateLimit{Every: time.Second / globalPerSecond, Burst: globalPerSecond},
	Chat:   storage.RateLimit{Every: time.Second / chatPerSecond, Burst: chatBurst},
}

// SlotStore reserves send slots shared by every parent of the bot
// (storage.Store's ReserveSend; docs/bot.md, "Several parents").
type SlotStore interface {
	ReserveSend(chatID int64, l storage.SendLimits) (wait time.Duration, reserved bool, err error)
}

// Sender is the one path every call to the Bot API takes: it waits for the
// global and the per-chat budget, and on a 429 waits Telegram's retry_after
// and tries again (a few times at most). With Share, the budget is the
// store's, shared by every parent; without, this process's own.
type Sender struct {
	global  *rate.Limiter
	log     *slog.Logger
	slots   SlotStore
	metrics *metrics.Metrics

	corruptMu     sync.Mutex
	corruptLogged time.Time // the last error logged of a corrupt wait

	mu    sync.Mutex
	chats map[int64]*rate.Limiter
}

// NewSender makes a Sender with Telegram's limits.
func NewSender(log *slog.Logger) *Sender {
	return &Sender{
		global: rate.NewLimiter(globalPerSecond, globalPerSecond),
		log:    log,
		chats:  make(map[int64]*rate.Limiter),
	}
}

// Share makes the Sender reserve its slots in st, so several parents of
// one bot keep Telegram's limits together. Call it before the first Do.
func (s *Sender) Share(st SlotStore) { s.slots = st }

// SetMetrics makes the Sender count the waits it refuses as corrupt
// (autowallet_send_slot_corrupt_total). Call it before the first Do.
func (s *Sender) SetMetrics(m *metrics.Metrics) { s.metrics = m }

// MaxSlotWait is the longest wait for the bot's own send slot (chat 0) the
// store may ask for: it is only reserved within storage.SendHorizon.
// MaxChatSlotWait is the longest for a chat's slot, which is reserved
// however far ahead its queue reaches: a chat's queue is bounded by the
// contexts its messages wait in (an update's handling at most
// 5 x DefaultHandleTimeout, a card edit 2 minutes), so 10 minutes is a
// queue no user can make, however many messages they send at once (review
// 14: a one-minute ceiling let a user's burst of 64 messages pass for a
// corrupt row). A longer wait is a corrupt row (a send_slots tat written far
// into the future past the program, or a jump of the database's clock:
// review 12, finding 4): obeyed, it would stall every message until its
// context ends.
const (
	MaxSlotWait     = storage.SendHorizon + time.Minute
	MaxChatSlotWait = 10 * time.Minute
)

// corruptWait notes a refused wait: counted each time, logged as an error
// at most every 10 seconds (a planted row refuses every message).
func (s *Sender) corruptWait(chatID int64, d time.Duration) {
	s.metrics.SendSlotCorrupt()
	s.corruptMu.Lock()
	defer s.corruptMu.Unlock()
	if time.Since(s.corruptLogged) < 10*time.Second {
		return
	}
	s.corruptLogged = time.Now()
	s.log.Error("the store asked for a send-slot wait no Telegram limit can produce: its send_slots row is corrupt or the database's clock jumped; keeping this parent's own limits",
		"chat", chatID, "wait", d.Round(time.Second))
}

// wait waits for the budget of one message to chatID: a slot reserved in
// the shared store, or this process's limiters when there is no store or
// it cannot answer (the bot keeps talking through a database outage, each
// parent within the limits on its own; a 429 is still honoured).
func (s *Sender) wait(ctx context.Context, chatID int64) error {
	if s.slots != nil {
		// The chat's slot first (taken in order however far), then the
		// bot's when it is near (chat 0: the bot's slot alone).
		for ask := chatID; ; ask = 0 {
			d, reserved, err := s.slots.ReserveSend(ask, TelegramLimits)
			if err != nil {
				s.log.Warn("shared send slots unavailable; keeping this parent's own limits", "err", err)
				break
			}
			if (ask == 0 && d > MaxSlotWait) || d > MaxChatSlotWait {
				s.corruptWait(ask, d)
				break
			}
			if d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err() // a reserved slot is wasted: the limits err on the safe side
				case <-t.C:
				}
			}
			if reserved {
				return ctx.Err()
			}
		}
	}
	if err := s.global.Wait(ctx); err != nil {
		return err
	}
	return s.chat(chatID).Wait(ctx)
}

func (s *Sender) chat(id int64) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.chats[id]
	if !ok {
		if len(s.chats) >= maxChatLimiters {
			// Forget chats whose budget is full again: they are idle.
			for k, v := range s.chats {
				if v.Tokens() >= chatBurst {
					delete(s.chats, k)
				}
			}
		}
		l = rate.NewLimiter(chatPerSecond, chatBurst)
		s.chats[id] = l
	}
	return l
}

// Do runs call within the limits for chatID. chatID 0 is for calls that
// are not messages (answerCallbackQuery, setMyCommands): Telegram's message
// limits do not apply to them, so they do not wait behind a queue of
// messages (a button would otherwise spin during a burst); a 429 is still
// honoured.
func (s *Sender) Do(ctx context.Context, chatID int64, call func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		if chatID != 0 {
			if err := s.wait(ctx, chatID); err != nil {
				return err
			}
		}
		err := call(ctx)
		var tooMany *tgbot.TooManyRequestsError
		if !errors.As(err, &tooMany) || attempt >= maxRetries {
			return err
		}
		wait := min(time.Duration(max(tooMany.RetryAfter, 1))*time.Second, maxRetryAfter)
		s.log.Warn("telegram asked to slow down", "chat", chatID, "retry_after", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// notModified reports Telegram's refusal of an edit that changes nothing,
// which for us is success.
func notModified(err error) bool {
	return err != nil && strings.Contains(err.Error(), "message is not modified")
}
