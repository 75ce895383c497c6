package bot

import (
	"context"
	"strings"

	"github.com/go-telegram/bot/models"
)

// /help: what the bot does and its commands.
func (b *Bot) cmdHelp(ctx context.Context, m *models.Message, _ string) {
	var s strings.Builder
	s.WriteString("<b>autowallet</b> keeps an Ethereum wallet for you. Every transfer is shown to you in full " +
		"and sent only after you approve it in the wallet's Mini App.\n\n")
	for _, c := range b.commands() {
		s.WriteString("/" + c.name + " — " + c.help + "\n")
	}
	s.WriteString("\nTo send: <code>/send 0.05 ETH to 0x…</code>, or tap <b>Send</b> on your wallet.")
	b.say(ctx, m.Chat.ID, s.String())
}
