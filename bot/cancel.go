package bot

import (
	"context"

	"github.com/go-telegram/bot/models"
)

// /cancel: stop a guided send that is waiting for an answer.
func (b *Bot) cmdCancel(ctx context.Context, m *models.Message, _ string) {
	if b.flows.end(m.From.ID) {
		b.say(ctx, m.Chat.ID, "Cancelled. Nothing was sent.")
		return
	}
	b.say(ctx, m.Chat.ID, "There is nothing to cancel. To cancel a transfer, tap <b>Cancel</b> on its card.")
}

// Cancel button of a transfer card.
func (b *Bot) cbCancel(ctx context.Context, q *models.CallbackQuery, id string) {
	if _, err := b.svc.CancelByOwner(id, q.From.ID); err != nil {
		b.say(ctx, q.Message.Message.Chat.ID, b.explain(err))
	}
	// The card itself is edited by the change listener.
}
