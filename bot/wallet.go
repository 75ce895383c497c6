package bot

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math/big"
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// /wallet: the wallet card.
func (b *Bot) cmdWallet(ctx context.Context, m *models.Message, _ string) {
	b.showWallet(ctx, m.Chat.ID, m.From.ID)
}

// Create wallet button. A second tap while the first is in flight is told to
// wait; a tap when the wallet exists shows it (the store keeps one wallet
// per user whatever happens). The greeting loses its button and says the
// wallet's address, so it cannot make a second card.
func (b *Bot) cbCreateWallet(ctx context.Context, q *models.CallbackQuery, _ string) {
	msg := q.Message.Message
	chatID := msg.Chat.ID
	if _, busy := b.busy.LoadOrStore(q.From.ID, struct{}{}); busy {
		return
	}
	defer b.busy.Delete(q.From.ID)
	w, created, err := b.svc.EnsureWallet(ctx, q.From.ID)
	if err != nil {
		b.fail(ctx, chatID, err)
		return
	}
	text := greeting(q.From.FirstName) + "\n\n🎉 Your wallet is ready: <code>" + w.Address.Hex() + "</code>\n/wallet shows it."
	if !created {
		text = greeting(q.From.FirstName) + "\n\nYou have a wallet: <code>" + w.Address.Hex() + "</code>\n/wallet shows it."
	}
	b.editText(ctx, chatID, msg.ID, text, noKeyboard)
	if created {
		b.showWallet(ctx, chatID, q.From.ID)
	}
}

// showWallet sends the wallet card: QR code, address, balances, buttons;
// it is the card refreshed after the faucet and after transfers.
func (b *Bot) showWallet(ctx context.Context, chatID, user int64) {
	w, err := b.svc.Wallet(user)
	if errors.Is(err, parent.ErrNoWallet) {
		b.reply(ctx, chatID, "You have no wallet yet.", keyboard([]models.InlineKeyboardButton{button("Create wallet", cbCreateWallet)}))
		return
	}
	if err != nil {
		b.fail(ctx, chatID, err)
		return
	}
	png, err := qrcode.Encode(w.Address.Hex(), qrcode.Medium, 384)
	if err != nil {
		b.fail(ctx, chatID, err)
		return
	}
	m, err := b.replyPhoto(ctx, chatID, png, b.walletCaption(ctx, w), b.walletKeyboard(ctx, user))
	if err == nil {
		b.setWalletCard(user, chatID, m.ID)
	}
}

// setWalletCard stores the user's last wallet card, so whichever parent
// sees a change (an alert, a transfer's state) can refresh it.
func (b *Bot) setWalletCard(user, chatID int64, msgID int) {
	if err := b.svc.Store().SetWalletCard(user, storage.Card{ChatID: chatID, MessageID: msgID}); err != nil {
		b.log.Warn("remembering a wallet card", "user", user, "err", err)
	}
}

// Refresh button: the card's caption with the current balances.
func (b *Bot) cbRefresh(ctx context.Context, q *models.CallbackQuery, _ string) {
	msg := q.Message.Message
	b.setWalletCard(q.From.ID, msg.Chat.ID, msg.ID)
	b.refreshWallet(ctx, q.From.ID)
}

// refreshWallet edits the user's last wallet card with the current
// balances and pending transfers.
func (b *Bot) refreshWallet(ctx context.Context, user int64) {
	c, err := b.svc.Store().WalletCard(user)
	if err != nil || !b.ownChat(user, c.ChatID, "wallet card") {
		return
	}
	w, err := b.svc.Wallet(user)
	if err != nil {
		return
	}
	b.editCaption(ctx, c.ChatID, c.MessageID, b.walletCaption(ctx, w), b.walletKeyboard(ctx, user))
}

// refreshWalletSoon queues a refresh of the user's wallet card.
func (b *Bot) refreshWalletSoon(user int64) {
	if _, err := b.svc.Store().WalletCard(user); err == nil {
		b.cards.push("wallet:" + strconv.FormatInt(user, 10))
	}
}

func walletRefreshID(id string) (int64, bool) {
	rest, ok := strings.CutPrefix(id, "wallet:")
	if !ok {
		return 0, false
	}
	user, err := strconv.ParseInt(rest, 10, 64)
	return user, err == nil
}

func (b *Bot) walletKeyboard(ctx context.Context, user int64) *models.InlineKeyboardMarkup {
	rows := [][]models.InlineKeyboardButton{
		{button("Send", cbSend), button("Refresh", cbRefresh), button("History", cbHistory)},
	}
	// Receive opens the Mini App with the enclave's signed statement of the
	// address (start_param kind 0x02): the page checks it with its pinned
	// identity key and the user id Telegram gave it, so the user can trust
	// the address without trusting this chat. Without a statement (enclave
	// unreachable) there is no button rather than an unverifiable one.
	if link, err := b.svc.ReceiveLink(ctx, user); err == nil {
		rows = append(rows, []models.InlineKeyboardButton{{Text: "📥 Receive (verified by the enclave)", URL: b.cfg.MiniAppLink + "?startapp=" + link}})
	} else {
		b.log.Warn("wallet card without Receive button", "user", user, "err", err)
	}
	if b.cfg.Faucet != nil {
		rows = append(rows, []models.InlineKeyboardButton{button("💧 Get test ETH", cbFaucet)})
	}
	return keyboard(rows...)
}

// walletCaption: the address, the balance of each coin and token per
// network (zero balances hidden; the networks where the user holds nothing
// named in one line; a network whose node does not answer said so, never
// shown as zero), and what is pending out.
func (b *Bot) walletCaption(ctx context.Context, w storage.Wallet) string {
	var s strings.Builder
	fmt.Fprintf(&s, "<b>Your wallet</b>\n<code>%s</code>\n\n", w.Address.Hex())
	all, err := b.svc.Balances(ctx, w.Address)
	if err != nil {
		s.WriteString("Balances unavailable right now.\n")
	}
	var empty []string
	set := b.nets()
	for i := range set {
		n := &set[i]
		var lines []string
		failed := false
		for _, bal := range all {
			if bal.ChainID != n.ChainID {
				continue
			}
			if !bal.Known() {
				failed = true
				continue
			}
			if bal.Amount.Sign() == 0 {
				continue
			}
			a := b.assetOf(bal.ChainID, bal.Token)
			line := "<b>" + formatAmount(bal.Amount, bal.Decimals, down) + " " + html.EscapeString(bal.Symbol) + "</b>"
			if p := b.pendingLine(ctx, w.Owner, a); p != "" {
				line += " (" + p + ")"
			}
			lines = append(lines, line)
		}
		switch {
		case failed:
			fmt.Fprintf(&s, "%s: balance unavailable right now%s\n", html.EscapeString(n.Name), prefixed(": ", strings.Join(lines, ", ")))
		case len(lines) > 0:
			fmt.Fprintf(&s, "%s: %s\n", html.EscapeString(n.Name), strings.Join(lines, ", "))
		case err == nil:
			empty = append(empty, n.Name)
		}
	}
	if len(empty) > 0 {
		fmt.Fprintf(&s, "Nothing yet on %s.\n", html.EscapeString(strings.Join(empty, ", ")))
	}
	s.WriteString("\nTap the address to copy it. It is the same on every network.")
	return s.String()
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// pendingLine is "0.05 pending out" for the user's signed transfers of a
// that the chain has not included yet.
func (b *Bot) pendingLine(ctx context.Context, user int64, a asset) string {
	sum, n := b.pendingOut(ctx, user, a, "")
	if n == 0 {
		return ""
	}
	if a.native() {
		// pendingOut adds the max fees for the native coin; the line shows
		// what goes out to recipients.
		sum = new(big.Int)
		mined := b.minedBelow(ctx)
		for _, t := range b.openTransfers(user) {
			if t.State.Signed() && t.ChainID == a.net.ChainID && t.Token == a.token.Address && t.Amount != nil && !mined(t) {
				sum.Add(sum, t.Amount)
			}
		}
	}
	return formatAmount(sum, a.decimals(), up) + " pending out"
}

// greeting is the first line of /start.
func greeting(firstName string) string {
	return "Hi " + html.EscapeString(firstName) + "! 👋\n\n" +
		"I keep a wallet for you, right here in Telegram. Its key is made and used only inside " +
		"a secure enclave: nobody, not even whoever runs this bot, can move your funds without your " +
		"approval in Telegram."
}

// ownChat: a chat taken from a stored row (a wallet card, a transfer's
// card) is the owner's private chat, whose id is the user's id. A row
// naming another chat was written by someone else (review 14: a writer of
// the database pointed one user's card at another's message, so that a
// refresh put the first user's address on the second's card) or comes
// from a group; either way the bot edits nothing there.
func (b *Bot) ownChat(owner, chat int64, what string) bool {
	if chat == owner {
		return true
	}
	b.log.Error("a stored "+what+" names a chat other than its owner's private chat: not edited", "owner", owner, "chat", chat)
	return false
}
