package bot

import (
	"context"
	"fmt"
	"hash/fnv"
	"html"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/internal/safego"
	"github.com/autowallet/autowallet/storage"
)

// transferCard is the one message that shows a transfer, edited as it moves.
func (b *Bot) transferCard(ctx context.Context, t storage.Transfer) (string, models.ReplyMarkup) {
	if t.Kind == storage.KindReplacement {
		return b.replacementCard(t)
	}
	a := b.assetOf(t.ChainID, t.Token)
	native := a.net.NativeSymbol
	var s strings.Builder
	fmt.Fprintf(&s, "<b>Send %s %s</b>\n\n", formatAmount(t.Amount, a.decimals(), exact), html.EscapeString(a.symbol()))
	if name := b.nameOf(t.To); name != "" {
		// The name is this host's record of a Telegram username (never
		// the free-text first name), above the full address; the Mini App
		// shows only the address the enclave signs for.
		fmt.Fprintf(&s, "To: %s\n<code>%s</code>\n", name, t.To.Hex())
	} else {
		fmt.Fprintf(&s, "To: <code>%s</code>\n", t.To.Hex())
	}
	fmt.Fprintf(&s, "Network: %s\n", html.EscapeString(a.net.Name))
	if !a.native() {
		fmt.Fprintf(&s, "Token contract: <code>%s</code>\n", t.Token.Hex())
	}
	final := t.State == storage.StateConfirmed || t.State == storage.StateFailed
	var paid *big.Int
	if final && t.TxHash != (common.Hash{}) {
		paid = b.feePaid(ctx, t)
	}
	switch {
	case paid != nil:
		fmt.Fprintf(&s, "Network fee paid: %s %s\n", eth(paid, nearest), native)
	case t.MaxFee != nil && !final:
		fmt.Fprintf(&s, "Max network fee: %s %s\n", eth(t.MaxFee, up), native)
		amount := formatAmount(t.Amount, a.decimals(), exact) + " " + html.EscapeString(a.symbol())
		if t.L1Fee != nil && t.L1Fee.Sign() > 0 {
			// OP-stack networks add a fee for posting the transaction to
			// Ethereum, read from their GasPriceOracle: never left out. It
			// is an estimate that nothing caps (the L1 price may move
			// before inclusion), so it is not added into "at most".
			l1 := fmt.Sprintf("L1 data fee (about %s %s)", eth(t.L1Fee, up), native)
			fmt.Fprintf(&s, "L1 data fee: about %s %s\n", eth(t.L1Fee, up), native)
			if a.native() {
				fmt.Fprintf(&s, "Total at most: %s %s + %s\n", eth(new(big.Int).Add(t.Amount, t.MaxFee), up), native, l1)
			} else {
				fmt.Fprintf(&s, "Total: %s + at most %s %s network fee + %s\n", amount, eth(t.MaxFee, up), native, l1)
			}
		} else if a.native() {
			fmt.Fprintf(&s, "Total at most: %s %s\n", eth(new(big.Int).Add(t.Amount, t.MaxFee), up), native)
		} else {
			fmt.Fprintf(&s, "Total at most: %s + %s %s\n", amount, eth(t.MaxFee, up), native)
		}
	}
	s.WriteString("\n")
	switch t.State {
	case storage.StateBuilt:
		s.WriteString(b.cardNotes(ctx, t))
		fmt.Fprintf(&s, "⏳ Waiting for your approval. Expires %s.\nTap <b>Review &amp; approve</b> to check it and approve it.", expiresIn(t.Expiry))
		return s.String(), keyboard([]models.InlineKeyboardButton{
			{Text: "Review & approve", URL: b.cfg.MiniAppLink + "?startapp=" + t.StartParam},
			button("Cancel", cbCancel+t.ID),
		})
	case storage.StateApproved, storage.StateSent:
		return b.signedStatus(&s, t)
	case storage.StateConfirmed:
		fmt.Fprintf(&s, "✅ Confirmed in block %d.\n%s", t.Block, b.txLine(t))
	case storage.StateFailed:
		s.WriteString("❌ Failed: " + failedWords(t, a) + "\n" + b.txLine(t))
		return s.String(), sendAgain(t)
	case storage.StateCancelled:
		s.WriteString("⏹ Cancelled. Nothing was sent.")
		return s.String(), sendAgain(t)
	case storage.StateExpired:
		s.WriteString("⏹ Expired: it was not approved in time. Nothing was sent.")
		return s.String(), sendAgain(t)
	case storage.StateReplaced:
		s.WriteString("⏹ Not sent: " + html.EscapeString(t.Reason) + ". Nothing went to the recipient.\n" + b.txLine(t))
	case storage.StateSuperseded:
		s.WriteString("⏹ Replaced by your newer request; this link no longer works. Nothing was sent.")
	}
	return s.String(), noKeyboard
}

// failedWords says why a transfer failed, for people.
func failedWords(t storage.Transfer, a asset) string {
	if len(t.SignedTx) > 0 {
		if a.native() {
			return "the network included the transaction but reverted it, so nothing reached the recipient. Only the network fee was paid."
		}
		return "the network included the transaction but the token contract refused it (for example, the balance was too low by the time it ran, or the token is paused), so no " +
			html.EscapeString(a.symbol()) + " moved. Only the network fee was paid."
	}
	return html.EscapeString(sentence(t.Reason))
}

// sendAgain is the button of a card that ended without sending: a new
// transfer with the same recipient, amount, coin and network.
func sendAgain(t storage.Transfer) *models.InlineKeyboardMarkup {
	return keyboard([]models.InlineKeyboardButton{button("Send again", cbAgain+t.ID)})
}

// expiresIn is "in 10 min", said as the card is written.
func expiresIn(expiry time.Time) string {
	d := time.Until(expiry)
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return "in less than a minute"
	}
	return fmt.Sprintf("in %d min", int((d+time.Minute-1)/time.Minute))
}

// txLine names the transaction, with an explorer link where there is one.
func (b *Bot) txLine(t storage.Transfer) string {
	return "Transaction: " + b.txLink(t.ChainID, t.TxHash)
}

// cardQueue makes this parent's own card edits off the handlers'
// goroutines (a card after Replace, a wallet card after an alert or the
// faucet); edits that follow a transfer's stored state changes come from
// the store's queue instead (cardoutbox.go). A transfer always goes to the
// same worker, so its edits keep their order; each edit shows the state as
// stored when it is made. An id "wallet:<user>" refreshes that user's last
// wallet card instead.
type cardQueue struct {
	b       *Bot
	workers []chan string
}

func newCardQueue(b *Bot) *cardQueue {
	q := &cardQueue{b: b}
	for range cardWorkers {
		q.workers = append(q.workers, make(chan string, 1024))
	}
	return q
}

func (q *cardQueue) push(id string) {
	h := fnv.New32a()
	h.Write([]byte(id))
	select {
	case q.workers[h.Sum32()%cardWorkers] <- id:
	default:
		q.b.log.Warn("card queue full; an edit is dropped (the next change shows the state)", "transfer", id)
	}
}

func (q *cardQueue) run(ctx context.Context) {
	for _, ch := range q.workers {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-ch:
					// A panic ends this edit only (logged, counted):
					// the worker goes on with the next.
					safego.Call(q.b.log, q.b.cfg.Metrics, "card_queue", func() { q.edit(ctx, id) })
				}
			}
		}()
	}
}

func (q *cardQueue) edit(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cardEditHook(id)
	if user, ok := walletRefreshID(id); ok {
		q.b.refreshWallet(ctx, user)
		return
	}
	t, err := q.b.svc.Transfer(id)
	if err != nil || t.MessageID == 0 || !q.b.ownChat(t.Owner, t.ChatID, "transfer card") {
		return
	}
	text, markup := q.b.transferCard(ctx, t)
	q.b.editText(ctx, t.ChatID, t.MessageID, text, markup)
}
