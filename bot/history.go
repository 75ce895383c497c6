package bot

import (
	"context"
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/storage"
)

const historyPage = 5

// /history: the user's last transfers, newest first, paged.
func (b *Bot) cmdHistory(ctx context.Context, m *models.Message, _ string) {
	text, markup, err := b.historyPage(m.From.ID, 0)
	if err != nil {
		b.fail(ctx, m.Chat.ID, err) // the store away: left to the redelivery
		return
	}
	b.reply(ctx, m.Chat.ID, text, markup)
}

// History button and the page buttons: "h:<offset>" edits the list in place.
func (b *Bot) cbHistory(ctx context.Context, q *models.CallbackQuery, arg string) {
	offset, err := strconv.Atoi(arg)
	msg := q.Message.Message
	if err != nil || offset < 0 {
		// The wallet card's History button: a new message.
		text, markup, err := b.historyPage(q.From.ID, 0)
		if err != nil {
			b.fail(ctx, msg.Chat.ID, err)
			return
		}
		b.reply(ctx, msg.Chat.ID, text, markup)
		return
	}
	text, markup, err := b.historyPage(q.From.ID, offset)
	if err != nil {
		b.fail(ctx, msg.Chat.ID, err)
		return
	}
	b.editText(ctx, msg.Chat.ID, msg.ID, text, markup)
}

// historyLine is one transfer: state, date, amount and coin, recipient
// in full (with their @username if they use this bot: a name never stands
// in for the address), network, and the transaction's explorer link once
// there is one.
func (b *Bot) historyLine(t storage.Transfer) string {
	a := b.assetOf(t.ChainID, t.Token)
	to := "<code>" + t.To.Hex() + "</code>"
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

// historyMaxOffset bounds how far back /history pages: each page merges
// the newest offset+page transfers and deposits, so the work per tap stays
// bounded.
const historyMaxOffset = 500

// entry is one line of /history: a transfer out or a deposit in.
type entry struct {
	at time.Time
	t  *storage.Transfer
	d  *storage.Deposit
}

// historyPage is one page of /history; an error (the store's) is for the
// caller to tell (Bot.fail: said in long polling, left to the redelivery in
// webhook mode). Reading it twice changes nothing.
func (b *Bot) historyPage(user int64, offset int) (string, models.ReplyMarkup, error) {
	offset = min(offset, historyMaxOffset)
	// One more than a page tells whether there is an older page.
	want := offset + historyPage + 1
	transfers, err := b.svc.History(user, want, 0)
	if err != nil {
		return "", nil, err
	}
	deposits, err := b.svc.Deposits(user, want, 0)
	if err != nil {
		return "", nil, err
	}
	var all []entry
	for i := range transfers {
		all = append(all, entry{at: transfers[i].Created, t: &transfers[i]})
	}
	for i := range deposits {
		all = append(all, entry{at: deposits[i].Time, d: &deposits[i]})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	if len(all) == 0 && offset == 0 {
		return "No transfers yet. Send one with /send; money you receive shows here too.", nil, nil
	}
	list := all[min(offset, len(all)):]
	more := len(list) > historyPage && offset+historyPage <= historyMaxOffset
	list = list[:min(len(list), historyPage)]
	var s strings.Builder
	fmt.Fprintf(&s, "<b>Your transfers</b> (%d–%d)\n\n", offset+1, offset+len(list))
	for _, e := range list {
		if e.t != nil {
			s.WriteString(b.historyLine(*e.t) + "\n")
		} else {
			s.WriteString(b.depositLine(*e.d) + "\n")
		}
	}
	var nav []models.InlineKeyboardButton
	if offset > 0 {
		nav = append(nav, button("« Newer", cbHistory+strconv.Itoa(max(offset-historyPage, 0))))
	}
	if more {
		nav = append(nav, button("Older »", cbHistory+strconv.Itoa(offset+historyPage)))
	}
	if len(nav) == 0 {
		return s.String(), nil, nil
	}
	return s.String(), keyboard(nav), nil
}

// depositLine is money received: date, amount and coin, sender (in full:
// look-alike addresses are a known trick; with their name if they use this
// bot), network and the transaction's link.
func (b *Bot) depositLine(d storage.Deposit) string {
	a := b.assetOf(d.ChainID, d.Token)
	from := "<code>" + d.From.Hex() + "</code>"
	if d.From == (common.Address{}) {
		from = "newly minted"
	} else if name := b.nameOf(d.From); name != "" {
		from = name + " " + from
	}
	return fmt.Sprintf("📥 %s · received <b>%s %s</b> from %s on %s · %s",
		d.Time.UTC().Format("2 Jan 15:04"), formatAmount(d.Amount, a.decimals(), nearest), html.EscapeString(a.symbol()),
		from, html.EscapeString(a.net.Name), b.txLink(d.ChainID, d.TxHash))
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
