package bot

import (
	"context"
	"errors"

	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
)

// /start: a greeting and one button, or the wallet card for a user who has one.
func (b *Bot) cmdStart(ctx context.Context, m *models.Message, _ string) {
	if _, err := b.svc.Wallet(m.From.ID); err == nil {
		b.showWallet(ctx, m.Chat.ID, m.From.ID)
		return
	} else if !errors.Is(err, parent.ErrNoWallet) {
		b.fail(ctx, m.Chat.ID, err)
		return
	}
	b.reply(ctx, m.Chat.ID, greeting(m.From.FirstName),
		keyboard([]models.InlineKeyboardButton{button("Create wallet", cbCreateWallet)}))
}
