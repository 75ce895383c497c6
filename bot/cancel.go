package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// /cancel: stop a guided send that waits for an answer, and the transfer
// that waits for approval (if there are several, ask which). A signed
// transfer cannot be cancelled here: the user is pointed to Replace.
//
// The store away (webhook mode) leaves the update to the redelivery, which
// must then do the rest: the transfers are read first (nothing changed
// yet), the transfer is cancelled before the guided send is ended (a
// redelivery after the cancel finds nothing waiting, and the transfer's
// card shows it cancelled), and nothing is said before both are done.
func (b *Bot) cmdCancel(ctx context.Context, m *models.Message, _ string) {
	chatID, user := m.Chat.ID, m.From.ID
	open, err := b.activeTransfers(user)
	if err != nil {
		if leaveToRetry(ctx, err) {
			return
		}
		b.log.Warn("listing a user's open transfers", "user", user, "err", err)
	}
	var waiting, signed []storage.Transfer
	for _, t := range open {
		switch {
		case t.State == storage.StateBuilt:
			waiting = append(waiting, t)
		case t.State.Signed():
			signed = append(signed, t)
		}
	}
	var cancelled string
	if len(waiting) == 1 {
		if _, err := b.svc.CancelByOwner(waiting[0].ID, user); err != nil {
			if leaveToRetry(ctx, err) {
				return
			}
			cancelled = b.explain(err)
		} else {
			cancelled = "Cancelled your transfer of " + b.what(waiting[0]) + ", which was waiting for your approval."
		}
	}
	ended, err := b.endAnyFlow(chatID)
	if err != nil && leaveToRetry(ctx, err) {
		return
	}
	var said []string
	if ended {
		said = append(said, "Stopped the send you were setting up.")
	}
	if cancelled != "" {
		said = append(said, cancelled)
	}
	if len(waiting) > 1 {
		var rows [][]models.InlineKeyboardButton
		for _, t := range waiting {
			a := b.assetOf(t.ChainID, t.Token)
			rows = append(rows, []models.InlineKeyboardButton{button(fmt.Sprintf("Cancel %s %s to %s", formatAmount(t.Amount, a.decimals(), exact), a.symbol(), short(t.To.Hex())), cbCancel+t.ID)})
		}
		b.reply(ctx, chatID, strings.Join(append(said, "Several transfers wait for your approval. Which one do you cancel?"), "\n\n"), keyboard(rows...))
		return
	}
	if len(said) > 0 {
		said = append(said, "Nothing was sent.")
	}
	if len(said) == 0 && len(signed) > 0 {
		said = append(said, fmt.Sprintf("Your transfer of %s is already approved and signed, so /cancel cannot stop it. "+
			"If the network has not included it yet, tap <b>Replace</b> on its card.", b.what(signed[0])))
	}
	if len(said) == 0 {
		said = append(said, "There is nothing to cancel: no send in progress and no transfer waiting for your approval.")
	}
	b.say(ctx, chatID, strings.Join(said, "\n"))
}

// Cancel button of a transfer card.
func (b *Bot) cbCancel(ctx context.Context, q *models.CallbackQuery, id string) {
	if _, err := b.svc.CancelByOwner(id, q.From.ID); err != nil {
		b.fail(ctx, q.Message.Message.Chat.ID, err)
	}
	// The card itself is edited by the change listener.
}

// Send again button of an expired, cancelled or failed card: a new
// transfer with the same recipient, amount, coin and network, with its own
// card (and the same notes and refusals as /send).
func (b *Bot) cbAgain(ctx context.Context, q *models.CallbackQuery, id string) {
	chatID, user := q.Message.Message.Chat.ID, q.From.ID
	t, err := b.svc.Transfer(id)
	if err != nil && leaveToRetry(ctx, err) {
		return
	}
	if err != nil || t.Owner != user || t.Kind != storage.KindTransfer {
		b.say(ctx, chatID, b.explain(parent.ErrUnknownTransfer))
		return
	}
	a := b.assetOf(t.ChainID, t.Token)
	to := t.To
	v, err := b.currentFlowVersion(chatID)
	if err != nil && leaveToRetry(ctx, err) {
		return
	}
	b.continueSend(ctx, chatID, user, &flow{version: v, to: &to, asset: &a, amount: formatAmount(t.Amount, a.decimals(), exact)})
}
