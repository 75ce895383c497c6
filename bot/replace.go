package bot

// Cards of signed transfers the network has not included yet, and of
// replacements (docs/storage.md, "Nonce rules"). A signed transfer is never
// called failed before the chain says so: the card says it was not accepted
// yet, that it may still go through, and offers Replace.

import (
	"context"
	"fmt"
	"html"
	"strings"

	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// replaceHelp says what the Replace button does, in one sentence.
const replaceHelp = "<b>Replace</b> cancels the transfer by replacing it with a zero transfer to yourself, " +
	"if the network has not included it yet: you approve it like any transfer and pay only its network fee."

// what names a transfer in a sentence: "0.05 ETH to 0xAbCd…1234".
func (b *Bot) what(t storage.Transfer) string {
	a := b.assetOf(t.ChainID, t.Token)
	return fmt.Sprintf("%s %s to <code>%s</code>", formatAmount(t.Amount, a.decimals(), exact), html.EscapeString(a.symbol()), short(t.To.Hex()))
}

// signedStatus ends the card of a signed, open transfer.
func (b *Bot) signedStatus(s *strings.Builder, t storage.Transfer) (string, models.ReplyMarkup) {
	w, waits := b.svc.WaitingFor(t)
	refused := t.State == storage.StateApproved && t.Reason != ""
	// The earlier transfer's refusal is the cause to show; this one's own
	// refusal comes next; a plain wait in line last.
	if waits && (w.State == storage.StateApproved && w.Reason != "" || !refused) {
		if w.State == storage.StateApproved && w.Reason != "" {
			fmt.Fprintf(s, "⏳ Signed, waiting for your earlier transfer of %s, which the network has not accepted yet: %s. "+
				"Replace it to go on: this one follows as soon as the earlier one is included or replaced.\n%s",
				b.what(w), html.EscapeString(w.Reason), b.txLine(t))
			return s.String(), keyboard([]models.InlineKeyboardButton{button("Replace the earlier transfer", cbReplace+w.ID)})
		}
		fmt.Fprintf(s, "⏳ Signed, waiting for your earlier transfer of %s to be included first.\n%s", b.what(w), b.txLine(t))
		return s.String(), noKeyboard
	}
	replace := keyboard([]models.InlineKeyboardButton{button("Replace", cbReplace+t.ID)})
	switch {
	case refused:
		fmt.Fprintf(s, "⏳ Signed, not accepted by the network yet: %s. It may still go through: I keep sending it.\n%s\n\n%s",
			html.EscapeString(t.Reason), b.txLine(t), replaceHelp)
		return s.String(), replace
	case t.State == storage.StateApproved:
		s.WriteString("✍️ Approved and signed. Sending…")
	case b.svc.Stuck(t):
		s.WriteString("📤 Sent, but the network has not included it for a while. It may still go through.\n" + b.txLine(t) + "\n\n" + replaceHelp)
		return s.String(), replace
	default:
		s.WriteString("📤 Sent. Waiting for confirmation.\n" + b.txLine(t))
	}
	return s.String(), noKeyboard
}

// replacementCard shows a replacement: what it cancels, and how it ended.
func (b *Bot) replacementCard(t storage.Transfer) (string, models.ReplyMarkup) {
	orig, err := b.svc.Transfer(t.Replaces)
	origWhat := "your earlier transfer"
	if err == nil {
		origWhat = "your transfer of " + b.what(orig)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "<b>Replace %s</b>\n\n", origWhat)
	fmt.Fprintf(&s, "Sends 0 %s to your own wallet in its place (nonce %d), with a higher network fee.\n", html.EscapeString(b.network(t.ChainID).NativeSymbol), t.Nonce)
	fmt.Fprintf(&s, "Network: %s\n", html.EscapeString(b.networkName(t.ChainID)))
	if t.MaxFee != nil {
		fmt.Fprintf(&s, "Max network fee: %s %s\n", eth(t.MaxFee, up), html.EscapeString(b.network(t.ChainID).NativeSymbol))
	}
	s.WriteString("\n")
	switch t.State {
	case storage.StateBuilt:
		fmt.Fprintf(&s, "⏳ Waiting for your approval. Expires %s.\n"+
			"If the network includes this first, %s is cancelled and you pay only this fee; "+
			"if your transfer is included first, this one is dropped.",
			expiresIn(t.Expiry), origWhat)
		return s.String(), keyboard([]models.InlineKeyboardButton{
			{Text: "Review & approve", URL: b.cfg.MiniAppLink + "?startapp=" + t.StartParam},
			button("Cancel", cbCancel+t.ID),
		})
	case storage.StateApproved, storage.StateSent:
		if t.State == storage.StateApproved && t.Reason != "" {
			fmt.Fprintf(&s, "⏳ Signed, not accepted by the network yet: %s. It may still go through: I keep sending it.\n", html.EscapeString(t.Reason))
		} else {
			s.WriteString("📤 Sent. Whichever of the two the network includes first counts; the other is dropped.\n")
		}
		s.WriteString(b.txLine(t))
	case storage.StateConfirmed:
		fmt.Fprintf(&s, "✅ Done: %s is cancelled. Only the network fee was paid.\n%s", origWhat, b.txLine(t))
	case storage.StateReplaced:
		s.WriteString("⏹ Not needed: " + html.EscapeString(t.Reason) + ".")
	case storage.StateFailed:
		s.WriteString("❌ Failed: " + html.EscapeString(t.Reason) + "\n" + b.txLine(t))
	case storage.StateCancelled:
		s.WriteString("⏹ Cancelled. Nothing was sent.")
	case storage.StateExpired:
		s.WriteString("⏹ Expired: it was not approved in time. Nothing was sent.")
	case storage.StateSuperseded:
		s.WriteString("⏹ Replaced by your newer request; this link no longer works. Nothing was sent.")
	}
	return s.String(), noKeyboard
}

// Replace button of a card: build the replacement and show its card.
func (b *Bot) cbReplace(ctx context.Context, q *models.CallbackQuery, id string) {
	chatID := q.Message.Message.Chat.ID
	t, err := b.svc.Build(ctx, parent.BuildRequest{Owner: q.From.ID, Replace: id, ChatID: chatID})
	if err != nil {
		b.say(ctx, chatID, b.explain(err))
		return
	}
	b.showBuilt(ctx, chatID, t)
}
