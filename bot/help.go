package bot

import (
	"context"
	"html"
	"strings"

	"github.com/go-telegram/bot/models"
)

// /help: what the bot does and its commands.
func (b *Bot) cmdHelp(ctx context.Context, m *models.Message, _ string) {
	var s strings.Builder
	s.WriteString("<b>autowallet</b> keeps a wallet for you: one address on every network it serves (" +
		html.EscapeString(b.networkList()) + "). Every transfer is shown to you in full " +
		"and sent only after you approve it in the wallet's Mini App. When money arrives, I tell you.\n\n")
	for _, c := range b.commands() {
		s.WriteString("/" + c.name + " — " + c.help + "\n")
	}
	s.WriteString("\nTo send: <code>/send 0.05 ETH to 0x…</code>, <code>/send 25 USDC to @username</code> (someone who uses this bot), " +
		"<code>/send 25 USDC to 0x… on Base</code>, or tap <b>Send</b> on your wallet.")
	b.say(ctx, m.Chat.ID, s.String())
}

// networkList is "Base (ETH, USDC, USDT), Optimism (…)".
func (b *Bot) networkList() string {
	var parts []string
	for _, n := range b.nets() {
		syms := []string{n.NativeSymbol}
		for _, t := range n.Tokens {
			syms = append(syms, t.Symbol)
		}
		parts = append(parts, n.Name+" ("+strings.Join(syms, ", ")+")")
	}
	return strings.Join(parts, ", ")
}
