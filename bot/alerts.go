package bot

// Incoming-funds alerts (docs/watcher.md): the watcher finds a confirmed
// deposit to one of our wallets and hands it to Notify, which the host
// plugs in as the watcher's watch.Notify. The message goes through the
// bot's one Sender (Telegram's limits), starts with "Received", and the
// owner's wallet card is refreshed.

import (
	"context"
	"errors"
	"fmt"
	"html"

	tgbot "github.com/go-telegram/bot"

	"github.com/autowallet/autowallet/parent/watch"
	"github.com/autowallet/autowallet/storage"
)

// Notify tells the owner of a deposit: "Received 25 USDC on Base from
// 0x…" with the explorer link, and the sender's @username when the sender
// is a user of this bot (nameOf: never a first name; the address is in full
// above it). A user who muted alerts is not told (nil: nothing to retry).
// An error that can never succeed (the user blocked the bot, the network is
// no longer served) wraps watch.ErrUndeliverable; no error carries the bot
// token.
func (b *Bot) Notify(ctx context.Context, d storage.Deposit) error {
	n, ok := b.nets().ByChainID(d.ChainID)
	if !ok {
		return fmt.Errorf("%w: chain %d is not served", watch.ErrUndeliverable, d.ChainID)
	}
	// Always the owner's private chat (its id is the user's id), never
	// the chat stored in the user's row: a writer of the database could
	// point it at another user's chat (review 14), and a group would
	// show everyone the user's deposits.
	chat := d.Owner
	u, err := b.svc.User(d.Owner)
	switch {
	case err == nil:
		if u.Settings.Muted {
			return nil
		}
	case !errors.Is(err, storage.ErrNotFound):
		return err
	}
	text := html.EscapeString(watch.AlertText(d, n))
	if name := b.nameOf(d.From); name != "" && d.From != d.To {
		text += "\nFrom " + name + ", who uses this bot."
	}
	_, err = b.reply(ctx, chat, text, nil)
	if errors.Is(err, tgbot.ErrorForbidden) {
		return fmt.Errorf("%w: %w", watch.ErrUndeliverable, b.redact(err))
	}
	if err != nil {
		return b.redact(err)
	}
	b.refreshWalletSoon(d.Owner)
	return nil
}
