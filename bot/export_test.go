package bot

import (
	"context"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// HandleText adds a handler for messages of exactly text (tests: a handler
// that panics or hangs, which the bot's own handlers never should).
func (b *Bot) HandleText(text string, h func(ctx context.Context)) {
	b.api.RegisterHandler(tgbot.HandlerTypeMessageText, text, tgbot.MatchTypeExact,
		func(ctx context.Context, _ *tgbot.Bot, _ *models.Update) { h(ctx) })
}

// SetAfterHandled runs f after a webhook handler returned and before the
// outcome is decided, until the returned func is called.
func SetAfterHandled(f func()) (restore func()) {
	afterHandled.Store(&f)
	return func() { afterHandled.Store(nil) }
}

// SetCardEditHook runs f at the start of every card edit (a test makes one
// panic), until the returned func is called.
func SetCardEditHook(f func(id string)) (restore func()) {
	cardEditHookFn.Store(&f)
	return func() { cardEditHookFn.Store(nil) }
}

// RefreshWallet edits user's stored wallet card with the current balances
// now (as the card queue does after a deposit or a transfer).
func (b *Bot) RefreshWallet(ctx context.Context, user int64) { b.refreshWallet(ctx, user) }
