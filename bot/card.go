package bot

import (
	"context"
	"fmt"
	"hash/fnv"
	"html"
	"math/big"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// transferCard is the one message that shows a transfer, edited as it moves.
func (b *Bot) transferCard(t storage.Transfer) (string, models.ReplyMarkup) {
	if t.Kind == storage.KindReplacement {
		return b.replacementCard(t)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "<b>Send %s ETH</b>\n\n", parent.FormatETH(t.Amount, 18))
	fmt.Fprintf(&s, "To: <code>%s</code>\n", t.To.Hex())
	fmt.Fprintf(&s, "Network: %s\n", html.EscapeString(NetworkName(t.ChainID)))
	if t.MaxFee != nil {
		total := new(big.Int).Add(t.Amount, t.MaxFee)
		fmt.Fprintf(&s, "Max network fee: %s ETH\n", parent.FormatETH(t.MaxFee, 18))
		fmt.Fprintf(&s, "Total at most: %s ETH\n", parent.FormatETH(total, 18))
	}
	s.WriteString("\n")
	switch t.State {
	case storage.StateBuilt:
		fmt.Fprintf(&s, "⏳ Waiting for your approval. Expires at %s UTC.\nTap <b>Review &amp; approve</b> to check it and approve it.",
			t.Expiry.UTC().Format("15:04"))
		return s.String(), keyboard([]models.InlineKeyboardButton{
			{Text: "Review & approve", URL: b.cfg.MiniAppLink + "?startapp=" + t.StartParam},
			button("Cancel", cbCancel+t.ID),
		})
	case storage.StateApproved, storage.StateSent:
		return b.signedStatus(&s, t)
	case storage.StateConfirmed:
		fmt.Fprintf(&s, "✅ Confirmed in block %d.\n%s", t.Block, txLine(t))
	case storage.StateFailed:
		s.WriteString("❌ Failed: " + html.EscapeString(t.Reason))
		if len(t.SignedTx) > 0 {
			s.WriteString("\n" + txLine(t))
		}
	case storage.StateCancelled:
		s.WriteString("⏹ Cancelled. Nothing was sent.")
	case storage.StateExpired:
		s.WriteString("⏹ Expired: it was not approved in time. Nothing was sent.")
	case storage.StateReplaced:
		s.WriteString("⏹ Not sent: " + html.EscapeString(t.Reason) + ". Nothing went to the recipient.\n" + txLine(t))
	case storage.StateSuperseded:
		s.WriteString("⏹ Replaced by your newer request; this link no longer works. Nothing was sent.")
	}
	return s.String(), noKeyboard
}

// txLine names the transaction, with an explorer link where there is one.
func txLine(t storage.Transfer) string {
	hash := t.TxHash.Hex()
	if url := explorerTx(t.ChainID, hash); url != "" {
		return fmt.Sprintf("Transaction: <a href=\"%s\">%s</a>", url, short(hash))
	}
	return "Transaction: <code>" + hash + "</code>"
}

// cardQueue edits transfer cards after state changes, off the service's
// goroutines. A transfer always goes to the same worker, so its edits keep
// their order; each edit shows the state as stored when it is made.
type cardQueue struct {
	b       *Bot
	workers []chan string
}

const cardWorkers = 4

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
					q.edit(ctx, id)
				}
			}
		}()
	}
}

func (q *cardQueue) edit(ctx context.Context, id string) {
	t, err := q.b.svc.Transfer(id)
	if err != nil || t.MessageID == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	text, markup := q.b.transferCard(t)
	q.b.editText(ctx, t.ChatID, t.MessageID, text, markup)
}
