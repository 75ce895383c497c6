package bot

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/storage"
)

const historyPage = 5

// /history: the user's last transfers, newest first, paged.
func (b *Bot) cmdHistory(ctx context.Context, m *models.Message, _ string) {
	text, markup := b.historyPage(m.From.ID, 0)
	b.reply(ctx, m.Chat.ID, text, markup)
}

// History button and the page buttons: "h:<offset>" edits the list in place.
func (b *Bot) cbHistory(ctx context.Context, q *models.CallbackQuery, arg string) {
	offset, err := strconv.Atoi(arg)
	msg := q.Message.Message
	if err != nil || offset < 0 {
		// The wallet card's History button: a new message.
		text, markup := b.historyPage(q.From.ID, 0)
		b.reply(ctx, msg.Chat.ID, text, markup)
		return
	}
	text, markup := b.historyPage(q.From.ID, offset)
	b.editText(ctx, msg.Chat.ID, msg.ID, text, markup)
}

// historyLine is one transfer: state, date, amount and coin, recipient
// (with their name if they use this bot), network, and the transaction's
// explorer link once there is one.
func (b *Bot) historyLine(t storage.Transfer) string {
	a := b.assetOf(t.ChainID, t.Token)
	to := "<code>" + short(t.To.Hex()) + "</code>"
	if name := b.nameOf(t.To); name != "" {
		to = name + " " + to
	}
	line := fmt.Sprintf("%s %s · <b>%s %s</b> to %s on %s · %s",
		stateIcon(t.State), t.Created.UTC().Format("2 Jan 15:04"), formatAmount(t.Amount, a.decimals(), exact),
		html.EscapeString(a.symbol()), to, html.EscapeString(a.net.Name), stateWord(t))
	if t.TxHash != (common.Hash{}) {
		line += " · " + b.txLink(t.ChainID, t.TxHash)
	}
	return line
}

func (b *Bot) historyPage(user int64, offset int) (string, models.ReplyMarkup) {
	// One more than a page tells whether there is an older page.
	list, err := b.svc.History(user, historyPage+1, offset)
	if err != nil {
		return b.explain(err), nil
	}
	if len(list) == 0 && offset == 0 {
		return "No transfers yet. Send one with /send.", nil
	}
	more := len(list) > historyPage
	list = list[:min(len(list), historyPage)]
	var s strings.Builder
	fmt.Fprintf(&s, "<b>Your transfers</b> (%d–%d)\n\n", offset+1, offset+len(list))
	for _, t := range list {
		s.WriteString(b.historyLine(t) + "\n")
	}
	var nav []models.InlineKeyboardButton
	if offset > 0 {
		nav = append(nav, button("« Newer", cbHistory+strconv.Itoa(max(offset-historyPage, 0))))
	}
	if more {
		nav = append(nav, button("Older »", cbHistory+strconv.Itoa(offset+historyPage)))
	}
	if len(nav) == 0 {
		return s.String(), nil
	}
	return s.String(), keyboard(nav)
}

// short abbreviates an address as 0xAbCd…1234.
func short(addr string) string {
	if len(addr) < 12 {
		return addr
	}
	return addr[:6] + "…" + addr[len(addr)-4:]
}

func stateIcon(s storage.State) string {
	switch s {
	case storage.StateConfirmed:
		return "✅"
	case storage.StateFailed:
		return "❌"
	case storage.StateCancelled, storage.StateExpired, storage.StateReplaced, storage.StateSuperseded:
		return "⏹"
	default:
		return "⏳"
	}
}

func stateWord(t storage.Transfer) string {
	if t.Kind == storage.KindReplacement {
		return "replacement: " + replacementWord(t)
	}
	switch t.State {
	case storage.StateBuilt:
		return "waiting for approval"
	case storage.StateApproved:
		if t.Reason != "" {
			return "signed, not accepted by the network yet; may still go through"
		}
		return "approved, sending"
	case storage.StateSent:
		return "sent"
	case storage.StateConfirmed:
		return "confirmed"
	case storage.StateFailed:
		return "failed"
	case storage.StateCancelled:
		return "cancelled"
	case storage.StateExpired:
		return "expired"
	case storage.StateReplaced:
		return "replaced, not paid"
	case storage.StateSuperseded:
		return "replaced by a newer request"
	}
	return t.State.String()
}

// replacementWord is the history's word for a replacement.
func replacementWord(t storage.Transfer) string {
	switch t.State {
	case storage.StateConfirmed:
		return "your transfer was cancelled"
	case storage.StateReplaced:
		return "not needed"
	case storage.StateApproved, storage.StateSent:
		return "sent"
	case storage.StateBuilt:
		return "waiting for approval"
	}
	return t.State.String()
}
