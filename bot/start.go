package bot

import (
	"context"
	"errors"
	"html"

	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
)

// /start: a greeting and one button, or the wallet card for a user who has one.
func (b *Bot) cmdStart(ctx context.Context, m *models.Message, _ string) {
	if _, err := b.svc.Wallet(m.From.ID); err == nil {
		b.showWallet(ctx, m.Chat.ID, m.From.ID)
		return
	} else if !errors.Is(err, parent.ErrNoWallet) {
		b.say(ctx, m.Chat.ID, b.explain(err))
		return
	}
	b.reply(ctx, m.Chat.ID,
		"Hi "+html.EscapeString(m.From.FirstName)+"! 👋\n\n"+
			"I keep an Ethereum wallet for you, right here in Telegram. Its key is made and used only inside "+
			"a secure enclave: nobody, not even whoever runs this bot, can move your funds without your "+
			"approval in Telegram.",
		keyboard([]models.InlineKeyboardButton{button("Create wallet", cbCreateWallet)}))
}
