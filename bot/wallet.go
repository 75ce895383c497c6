package bot

import (
	"context"
	"errors"
	"fmt"
	"math/big"

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
// per user whatever happens).
func (b *Bot) cbCreateWallet(ctx context.Context, q *models.CallbackQuery, _ string) {
	chatID := q.Message.Message.Chat.ID
	if _, busy := b.busy.LoadOrStore(q.From.ID, struct{}{}); busy {
		return
	}
	defer b.busy.Delete(q.From.ID)
	_, created, err := b.svc.EnsureWallet(ctx, q.From.ID)
	if err != nil {
		b.say(ctx, chatID, b.explain(err))
		return
	}
	if created {
		b.say(ctx, chatID, "🎉 Your wallet is ready.")
	}
	b.showWallet(ctx, chatID, q.From.ID)
}

// showWallet sends the wallet card: QR code, address, balance, buttons.
func (b *Bot) showWallet(ctx context.Context, chatID, user int64) {
	w, err := b.svc.Wallet(user)
	if errors.Is(err, parent.ErrNoWallet) {
		b.reply(ctx, chatID, "You have no wallet yet.", keyboard([]models.InlineKeyboardButton{button("Create wallet", cbCreateWallet)}))
		return
	}
	if err != nil {
		b.say(ctx, chatID, b.explain(err))
		return
	}
	png, err := qrcode.Encode(w.Address.Hex(), qrcode.Medium, 384)
	if err != nil {
		b.say(ctx, chatID, b.explain(err))
		return
	}
	b.replyPhoto(ctx, chatID, png, b.walletCaption(ctx, w), b.walletKeyboard(ctx, user))
}

// Refresh button: the card's caption with the current balance.
func (b *Bot) cbRefresh(ctx context.Context, q *models.CallbackQuery, _ string) {
	msg := q.Message.Message
	w, err := b.svc.Wallet(q.From.ID)
	if err != nil {
		b.say(ctx, msg.Chat.ID, b.explain(err))
		return
	}
	b.editCaption(ctx, msg.Chat.ID, msg.ID, b.walletCaption(ctx, w), b.walletKeyboard(ctx, q.From.ID))
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

func (b *Bot) walletCaption(ctx context.Context, w storage.Wallet) string {
	balance := "unavailable right now"
	if wei, err := b.svc.Balance(ctx, w.Address); err == nil {
		balance = "<b>" + formatBalance(wei) + " ETH</b>"
	}
	return fmt.Sprintf("<b>Your wallet</b>\n<code>%s</code>\n\nBalance: %s\nNetwork: %s\n\nTap the address to copy it.",
		w.Address.Hex(), balance, NetworkName(b.svc.ChainID()))
}

// formatBalance shows 6 decimals, rounded down, and says when a non-zero
// balance is smaller than that.
func formatBalance(wei *big.Int) string {
	s := parent.FormatETH(wei, 6)
	if s == "0" && wei.Sign() > 0 {
		return "less than 0.000001"
	}
	return s
}
