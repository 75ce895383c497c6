package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"strings"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

var noPreview = &models.LinkPreviewOptions{IsDisabled: tgbot.True()}

// reply sends an HTML message to a chat.
func (b *Bot) reply(ctx context.Context, chatID int64, text string, markup models.ReplyMarkup) (*models.Message, error) {
	var m *models.Message
	err := b.send.Do(ctx, chatID, b.metered("sendMessage", func(ctx context.Context) (err error) {
		m, err = b.api.SendMessage(ctx, &tgbot.SendMessageParams{
			ChatID: chatID, Text: text, ParseMode: models.ParseModeHTML, ReplyMarkup: markup, LinkPreviewOptions: noPreview,
		})
		return err
	}))
	if err != nil {
		b.log.Warn("sendMessage", "chat", chatID, "err", b.redact(err))
	}
	return m, err
}

// say is reply without a keyboard, for plain answers.
func (b *Bot) say(ctx context.Context, chatID int64, text string) {
	b.reply(ctx, chatID, text, nil)
}

// replyPhoto sends a PNG with an HTML caption.
func (b *Bot) replyPhoto(ctx context.Context, chatID int64, png []byte, caption string, markup models.ReplyMarkup) (*models.Message, error) {
	var m *models.Message
	err := b.send.Do(ctx, chatID, b.metered("sendPhoto", func(ctx context.Context) (err error) {
		m, err = b.api.SendPhoto(ctx, &tgbot.SendPhotoParams{
			ChatID: chatID, Photo: &models.InputFileUpload{Filename: "wallet.png", Data: bytes.NewReader(png)},
			Caption: caption, ParseMode: models.ParseModeHTML, ReplyMarkup: markup,
		})
		return err
	}))
	if err != nil {
		b.log.Warn("sendPhoto", "chat", chatID, "err", b.redact(err))
	}
	return m, err
}

// editText replaces a message's text and keyboard; an unchanged message is
// not an error.
func (b *Bot) editText(ctx context.Context, chatID int64, msgID int, text string, markup models.ReplyMarkup) error {
	err := b.send.Do(ctx, chatID, b.metered("editMessageText", func(ctx context.Context) error {
		_, err := b.api.EditMessageText(ctx, &tgbot.EditMessageTextParams{
			ChatID: chatID, MessageID: msgID, Text: text, ParseMode: models.ParseModeHTML, ReplyMarkup: markup, LinkPreviewOptions: noPreview,
		})
		return err
	}))
	if notModified(err) {
		return nil
	}
	if err != nil {
		b.log.Warn("editMessageText", "chat", chatID, "err", b.redact(err))
	}
	return err
}

// editCaption replaces a photo's caption and keyboard.
func (b *Bot) editCaption(ctx context.Context, chatID int64, msgID int, caption string, markup models.ReplyMarkup) error {
	err := b.send.Do(ctx, chatID, b.metered("editMessageCaption", func(ctx context.Context) error {
		_, err := b.api.EditMessageCaption(ctx, &tgbot.EditMessageCaptionParams{
			ChatID: chatID, MessageID: msgID, Caption: caption, ParseMode: models.ParseModeHTML, ReplyMarkup: markup,
		})
		return err
	}))
	if notModified(err) {
		return nil
	}
	if err != nil {
		b.log.Warn("editMessageCaption", "chat", chatID, "err", b.redact(err))
	}
	return err
}

// answer answers a callback query (text may be empty).
func (b *Bot) answer(ctx context.Context, queryID, text string) {
	err := b.send.Do(ctx, 0, b.metered("answerCallbackQuery", func(ctx context.Context) error {
		_, err := b.api.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: queryID, Text: text})
		return err
	}))
	if err != nil {
		b.log.Warn("answerCallbackQuery", "err", b.redact(err))
	}
}

// keyboard builds an inline keyboard from rows of buttons.
func keyboard(rows ...[]models.InlineKeyboardButton) *models.InlineKeyboardMarkup {
	return &models.InlineKeyboardMarkup{InlineKeyboard: rows}
}

func button(text, data string) models.InlineKeyboardButton {
	return models.InlineKeyboardButton{Text: text, CallbackData: data}
}

// noKeyboard removes a message's buttons when passed to an edit.
// walletWithheld is what a user whose wallet row fails its check is told
// (storage.ErrWalletTampered): the stored address cannot be trusted, so no
// address is shown at all.
const walletWithheld = "⚠️ Your wallet cannot be shown right now: its stored details failed a safety check, so I show no address. Do not send money to an address from this chat until this is fixed. Please contact the operator of this bot."

var noKeyboard = &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{}}

// fail tells the user why their request failed (explain), except when the
// store was unavailable while handling a webhook update: then nothing is
// said and the update is left to Telegram's redelivery (leaveToRetry), so
// the user's action is done once the store is back instead of being lost
// to an error reply.
func (b *Bot) fail(ctx context.Context, chatID int64, err error) {
	if leaveToRetry(ctx, err) {
		return
	}
	b.say(ctx, chatID, b.explain(err))
}

// explain turns an error into a sentence for the user, and logs what the
// user is not told.
func (b *Bot) explain(err error) string {
	switch {
	case errors.As(err, new(*parent.NoFeeCoinError)):
		var e *parent.NoFeeCoinError
		errors.As(err, &e)
		return noFeeCoinWords(e)
	case errors.As(err, new(*parent.InsufficientBalanceError)):
		var e *parent.InsufficientBalanceError
		errors.As(err, &e)
		return fmt.Sprintf("⚠️ That is more than your balance: you have %s %s on %s.",
			formatAmount(e.Have, e.Decimals, down), html.EscapeString(e.Symbol), html.EscapeString(e.Network))
	case errors.Is(err, parent.ErrTokenNotListed):
		return "⚠️ This wallet does not know that token on that network, so it cannot send it (the signer would refuse it too)."
	case errors.Is(err, parent.ErrUnknownNetwork):
		return "⚠️ This wallet does not work on that network."
	case errors.Is(err, parent.ErrTransferWouldFail):
		return "⚠️ The token contract would refuse this transfer (the network's test run of it failed: the token may be paused, or the address blocked). Nothing was sent."
	case errors.Is(err, parent.ErrL1FeeUnknown):
		return "⚠️ The network's L1 data fee could not be read right now, so the full fee is unknown. Nothing was sent; please try again in a minute."
	case errors.Is(err, parent.ErrUnknownUser), errors.Is(err, parent.ErrRecipientIsToken):
		_, why, _ := strings.Cut(err.Error(), ": ")
		return "⚠️ " + html.EscapeString(sentence(why))
	case errors.Is(err, parent.ErrBadAddress), errors.Is(err, parent.ErrBadAmount), errors.Is(err, parent.ErrBalanceTooLow):
		return "⚠️ " + html.EscapeString(sentence(err.Error()))
	case errors.Is(err, parent.ErrNoWallet):
		return "You have no wallet yet. Send /start and tap <b>Create wallet</b>."
	case errors.Is(err, storage.ErrWalletTampered):
		// The stored row disagrees with the wallet's sealed record
		// (parent/walletrows.go): no address, no QR code, no button that
		// leads to one; the service has logged and counted it.
		return walletWithheld
	case errors.Is(err, parent.ErrNodeUnavailable):
		return "⚠️ The network is not reachable right now. Nothing was sent; please try again in a minute."
	case errors.Is(err, parent.ErrEnclaveUnavailable), errors.Is(err, protocol.ErrVaultLocked):
		return "⚠️ The wallet signer is not available right now. Nothing was done; please try again in a minute."
	case errors.Is(err, storage.ErrNonceInUse):
		return "⚠️ Your wallet changed while this transfer was prepared (another approval came in). Nothing was sent; please send it again."
	case errors.Is(err, parent.ErrUnknownTransfer):
		return "That transfer does not exist (any more)."
	case errors.Is(err, parent.ErrAlreadyApproved), errors.Is(err, parent.ErrTransferClosed), errors.Is(err, protocol.ErrWrongOwner),
		errors.Is(err, parent.ErrNotReplaceable):
		return "⚠️ " + html.EscapeString(sentence(err.Error()))
	}
	b.log.Error("unexpected error", "err", err)
	return "⚠️ Something went wrong on our side. Nothing was sent; please try again."
}

// sentence capitalises an error text and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// noFeeCoinWords: "you have 25 USDC on Base but no ETH there to pay the
// network fee (about 0.00002 ETH)".
func noFeeCoinWords(e *parent.NoFeeCoinError) string {
	have := "no " + e.NativeSymbol
	if e.NativeBalance != nil && e.NativeBalance.Sign() > 0 {
		have = "only " + eth(e.NativeBalance, down) + " " + e.NativeSymbol
	}
	about := e.Likely
	if about == nil {
		about = e.Fee
	}
	return fmt.Sprintf("⚠️ You have %s %s on %s but %s there to pay the network fee (about %s %s). Get some %s on %s first.",
		formatAmount(e.TokenBalance, e.TokenDecimals, down), html.EscapeString(e.TokenSymbol), html.EscapeString(e.Network),
		html.EscapeString(have), eth(about, up), html.EscapeString(e.NativeSymbol), html.EscapeString(e.NativeSymbol), html.EscapeString(e.Network))
}
