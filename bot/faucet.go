package bot

import (
	"context"
	"html"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/parent"
)

// faucetEvery is how often one user may ask the dev faucet.
const faucetEvery = 10 * time.Second

// FaucetDrop is one asset a MultiFaucet sent.
type FaucetDrop struct {
	Network  string
	Symbol   string
	Decimals uint8
	Amount   *big.Int
	Tx       common.Hash
	TxURL    string // explorer link, "" without an explorer
}

// MultiFaucet is a Faucet that drips several assets on several networks
// (dev mode's two chains: ETH and test USDC on each).
type MultiFaucet interface {
	Faucet
	DripAll(ctx context.Context, to common.Address) ([]FaucetDrop, error)
}

// /faucet (dev mode only): test ETH into the user's wallet.
func (b *Bot) cmdFaucet(ctx context.Context, m *models.Message, _ string) {
	b.drip(ctx, m.Chat.ID, m.From.ID)
}

func (b *Bot) cbFaucet(ctx context.Context, q *models.CallbackQuery, _ string) {
	b.drip(ctx, q.Message.Message.Chat.ID, q.From.ID)
}

func (b *Bot) drip(ctx context.Context, chatID, user int64) {
	if b.cfg.Faucet == nil {
		b.say(ctx, chatID, "There is no faucet on this network.")
		return
	}
	w, err := b.svc.Wallet(user)
	if err != nil {
		b.say(ctx, chatID, b.explain(err))
		return
	}
	if last, ok := b.faucetLast.Load(user); ok && time.Since(last.(time.Time)) < faucetEvery {
		b.say(ctx, chatID, "The faucet just sent you some ETH; try again in a few seconds.")
		return
	}
	b.faucetLast.Store(user, time.Now())
	if mf, ok := b.cfg.Faucet.(MultiFaucet); ok {
		drops, err := mf.DripAll(ctx, w.Address)
		if err != nil {
			b.log.Warn("faucet", "err", err)
		}
		if len(drops) == 0 {
			b.say(ctx, chatID, "⚠️ The faucet could not send anything right now.")
			return
		}
		var sb strings.Builder
		sb.WriteString("💧 The dev faucet sent you:\n")
		for _, d := range drops {
			sb.WriteString("• <b>" + parent.FormatUnits(d.Amount, d.Decimals, 6) + " " + html.EscapeString(d.Symbol) + "</b> on " + html.EscapeString(d.Network) + "\n")
		}
		if err != nil {
			sb.WriteString("⚠️ Some of it could not be sent right now.\n")
		}
		sb.WriteString("It shows in your balance within a few seconds: tap <b>Refresh</b>.")
		b.say(ctx, chatID, sb.String())
		return
	}
	amount, tx, err := b.cfg.Faucet.Drip(ctx, w.Address)
	if err != nil {
		b.log.Warn("faucet", "err", err)
		b.say(ctx, chatID, "⚠️ The faucet could not send ETH right now.")
		return
	}
	b.say(ctx, chatID, "💧 The dev faucet sent you <b>"+parent.FormatETH(amount, 6)+" ETH</b>.\nTransaction: <code>"+tx.Hex()+"</code>\nIt shows in your balance within a few seconds: tap <b>Refresh</b>.")
}
