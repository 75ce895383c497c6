package watch

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
)

// AlertText is the message an owner gets for a deposit, for example
//
//	Received 25 USDC on Base from 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed
//	https://basescan.org/tx/0x…
//
// It always starts with "Received". The sender is written in full (EIP-55),
// never shortened: address-poisoning spam uses look-alike addresses that
// match a shortened form. Plain text (no markup): the bot may escape it as
// its parse mode needs.
func AlertText(d storage.Deposit, n *networks.Network) string {
	symbol, decimals := n.NativeSymbol, n.NativeDecimals
	if !d.Native() {
		if t, ok := n.Token(d.Token); ok {
			symbol, decimals = t.Symbol, t.Decimals
		} else {
			// Not listed (any more): name the contract, never a symbol the
			// contract chose for itself.
			symbol, decimals = "tokens of contract "+d.Token.Hex(), 0
		}
	}
	var b strings.Builder
	b.WriteString("Received ")
	b.WriteString(AmountText(d.Amount, decimals))
	b.WriteString(" " + symbol + " on " + n.Name)
	if d.From == ([20]byte{}) {
		b.WriteString(" (newly minted)")
	} else {
		b.WriteString(" from " + d.From.Hex())
	}
	if u := n.TxURL(d.TxHash); u != "" {
		b.WriteString("\n" + u)
	} else {
		b.WriteString("\nTransaction " + d.TxHash.Hex())
	}
	return b.String()
}

// AmountText writes a deposit's amount by the one rule the bot and the
// Mini App page share (docs/miniapp.md, "Amounts: one rounding rule";
// networks.FormatAmount), mode Nearest: an actual amount: six decimal
// places, or more for a small value so that four significant digits remain,
// rounded half up, never "0" for a non-zero amount; trailing zeros trimmed.
// 25000000 with 6 decimals is "25"; 21000294000 wei is "0.000000021" ETH.
func AmountText(v *big.Int, decimals uint8) string {
	if v == nil {
		return "0"
	}
	return networks.FormatAmount(v, decimals, networks.Nearest)
}

// SendText sends text to a Telegram chat (the bot's sender, with its pacing;
// its errors must carry no bot token).
type SendText func(ctx context.Context, chatID int64, text string) error

// NotifyByText is a Notify for the bot: it writes AlertText with the
// deposit's network from nets and sends it to the owner's private chat
// (storage.User.ChatID; the user id when no chat is stored: in Telegram a
// private chat's id is the user's). A deposit of a network no longer served
// is dropped (ErrUndeliverable). The bot wraps errors that can never
// succeed (the user blocked the bot) in ErrUndeliverable inside send.
func NotifyByText(store storage.Store, nets networks.Set, send SendText) Notify {
	return func(ctx context.Context, d storage.Deposit) error {
		n, ok := nets.ByChainID(d.ChainID)
		if !ok {
			return fmt.Errorf("%w: chain %d is not served", ErrUndeliverable, d.ChainID)
		}
		chat := d.Owner
		if u, err := store.User(d.Owner); err == nil && u.ChatID != 0 {
			chat = u.ChatID
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return send(ctx, chat, AlertText(d, n))
	}
}
