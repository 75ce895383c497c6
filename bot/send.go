package bot

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// flowTTL is how long a guided send waits for the user's next answer.
const flowTTL = 15 * time.Minute

// flow is a guided send in progress: the bot asked for the recipient or the
// amount and the user's next plain message answers it.
type flow struct {
	to      *common.Address
	amount  string
	expires time.Time
}

// flows holds the guided sends in memory: losing them on a restart only
// means the user starts the send again.
type flows struct {
	mu sync.Mutex
	m  map[int64]*flow
}

func (f *flows) get(user int64) *flow {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, ok := f.m[user]
	if ok && time.Now().After(fl.expires) {
		delete(f.m, user)
		return nil
	}
	return fl
}

func (f *flows) put(user int64, fl *flow) {
	fl.expires = time.Now().Add(flowTTL)
	f.mu.Lock()
	f.m[user] = fl
	f.mu.Unlock()
}

func (f *flows) end(user int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.m[user]
	delete(f.m, user)
	return ok
}

// /send, in one message ("/send 0.05 ETH to 0xAbC…", "/send 0xAbC… 0.05")
// or guided ("/send" alone asks for what is missing).
func (b *Bot) cmdSend(ctx context.Context, m *models.Message, args string) {
	to, amount, err := parseSend(args)
	if err != nil {
		b.say(ctx, m.Chat.ID, "⚠️ "+html.EscapeString(err.Error()))
		return
	}
	b.flows.end(m.From.ID)
	b.continueSend(ctx, m.Chat.ID, m.From.ID, &flow{amount: amount}, to)
}

// Send button of the wallet card: the guided flow.
func (b *Bot) cbSend(ctx context.Context, q *models.CallbackQuery, _ string) {
	b.flows.end(q.From.ID)
	b.continueSend(ctx, q.Message.Message.Chat.ID, q.From.ID, &flow{}, "")
}

// onOther handles every update no other handler took: answers to a guided
// send, or a hint.
func (b *Bot) onOther(ctx context.Context, _ *tgbot.Bot, u *models.Update) {
	m := u.Message
	if m == nil || m.From == nil || m.Text == "" {
		return
	}
	if strings.HasPrefix(m.Text, "/") {
		b.say(ctx, m.Chat.ID, "I don't know that command. /help lists what I can do.")
		return
	}
	fl := b.flows.get(m.From.ID)
	if fl == nil {
		b.say(ctx, m.Chat.ID, "Send /help to see what I can do, or /send to send ETH.")
		return
	}
	text := strings.TrimSpace(m.Text)
	if fl.to == nil {
		b.continueSend(ctx, m.Chat.ID, m.From.ID, fl, text)
		return
	}
	fl.amount = strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(text), "eth"), " ")
	b.continueSend(ctx, m.Chat.ID, m.From.ID, fl, "")
}

// continueSend takes the next step of a send: check what is known, ask for
// what is missing, or build the transfer and show its card.
func (b *Bot) continueSend(ctx context.Context, chatID, user int64, fl *flow, toText string) {
	w, err := b.svc.Wallet(user)
	if err != nil {
		b.say(ctx, chatID, b.explain(err))
		return
	}
	if fl.to == nil && toText != "" {
		to, err := parent.ParseAddress(toText)
		if err != nil {
			b.flows.put(user, fl)
			b.say(ctx, chatID, b.explain(err)+"\nPaste the recipient's address again, or /cancel.")
			return
		}
		fl.to = &to
	}
	if fl.to == nil {
		b.flows.put(user, fl)
		b.say(ctx, chatID, "Who do you want to send ETH to? Paste their Ethereum address (0x…).\n/cancel to stop.")
		return
	}
	if fl.amount == "" {
		b.flows.put(user, fl)
		balance := "unknown"
		if wei, err := b.svc.Balance(ctx, w.Address); err == nil {
			balance = formatBalance(wei)
		}
		b.say(ctx, chatID, fmt.Sprintf("How much ETH do you want to send to <code>%s</code>? You have %s ETH.\n/cancel to stop.", fl.to.Hex(), balance))
		return
	}
	amount, err := parent.ParseETH(fl.amount)
	if err != nil {
		fl.amount = ""
		b.flows.put(user, fl)
		b.say(ctx, chatID, b.explain(err)+"\nHow much ETH? Or /cancel.")
		return
	}
	b.flows.end(user)
	b.build(ctx, chatID, user, w.Address, *fl.to, amount)
}

// build makes the transfer and sends its card.
func (b *Bot) build(ctx context.Context, chatID, user int64, from, to common.Address, amount *big.Int) {
	t, err := b.svc.Build(ctx, parent.BuildRequest{Owner: user, To: to, Amount: amount, ChatID: chatID})
	if err != nil {
		b.say(ctx, chatID, b.explain(err))
		return
	}
	if to == from {
		b.say(ctx, chatID, "Note: that is your own wallet's address. The ETH comes back to you; you only pay the network fee.")
	}
	b.showBuilt(ctx, chatID, t)
}

// showBuilt sends a new transfer's card and remembers it.
func (b *Bot) showBuilt(ctx context.Context, chatID int64, t storage.Transfer) {
	text, markup := b.transferCard(t)
	msg, err := b.reply(ctx, chatID, text, markup)
	if err != nil {
		return
	}
	stored, err := b.svc.SetMessage(t.ID, chatID, msg.ID)
	if err != nil {
		b.log.Warn("remembering a transfer's card", "transfer", t.ID, "err", err)
		return
	}
	// A change made before the card's id was stored (a very quick Cancel)
	// found no card to edit: show it now.
	if stored.State != storage.StateBuilt {
		b.cards.push(t.ID)
	}
}

// parseSend reads "/send" arguments: an amount (optionally followed by ETH)
// and an address (optionally preceded by "to"), in either order. Either may
// be missing; the guided flow asks for it.
func parseSend(args string) (to, amount string, err error) {
	for _, tok := range strings.Fields(args) {
		low := strings.ToLower(tok)
		switch {
		case low == "eth" || low == "to":
			continue
		case strings.HasPrefix(low, "0x") || looksLikeHexAddress(low):
			if to != "" {
				return "", "", errors.New("that has two addresses. Write it like: /send 0.05 ETH to 0xAbC…")
			}
			to = tok
		default:
			if amount != "" {
				return "", "", errors.New("I could not read that. Write it like: /send 0.05 ETH to 0xAbC…")
			}
			amount = strings.TrimSuffix(low, "eth")
		}
	}
	return to, amount, nil
}

// looksLikeHexAddress is a long run of hex digits: an address missing its 0x,
// which ParseAddress then explains.
func looksLikeHexAddress(s string) bool {
	if len(s) < 20 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
