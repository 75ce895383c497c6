package bot

import (
	"context"
	"errors"
	"strings"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// metered wraps one Bot API call of method for Sender.Do: each attempt is
// counted (a reply when it succeeded, an error and maybe a 429 when not), so
// a call retried after a 429 counts the 429 and then the reply. An edit
// Telegram refuses as "not modified" changed nothing and is neither.
func (b *Bot) metered(method string, call func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		err := call(ctx)
		if notModified(err) {
			return err
		}
		var tooMany *tgbot.TooManyRequestsError
		b.cfg.Metrics.BotCall(method, err, errors.As(err, &tooMany))
		return err
	}
}

// countUpdates counts every update the bot receives, by kind (never by
// user or chat: the label has four values, docs/metrics.md).
func (b *Bot) countUpdates(next tgbot.HandlerFunc) tgbot.HandlerFunc {
	return func(ctx context.Context, api *tgbot.Bot, u *models.Update) {
		b.cfg.Metrics.UpdateReceived(updateKind(u))
		next(ctx, api, u)
	}
}

func updateKind(u *models.Update) string {
	switch {
	case u.CallbackQuery != nil:
		return "callback_query"
	case u.Message != nil && strings.HasPrefix(u.Message.Text, "/"):
		return "command"
	case u.Message != nil:
		return "message"
	}
	return "other"
}
