package bot

import (
	"context"
	"html"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/internal/safego"
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
		b.fail(ctx, chatID, err)
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
		var txs []chainTx
		for _, d := range drops {
			sb.WriteString("• <b>" + formatAmount(d.Amount, d.Decimals, nearest) + " " + html.EscapeString(d.Symbol) + "</b> on " + html.EscapeString(d.Network))
			if n, ok := b.nets().ByName(d.Network); ok {
				sb.WriteString(" · " + b.txLink(n.ChainID, d.Tx))
				txs = append(txs, chainTx{n.ChainID, d.Tx})
			}
			sb.WriteString("\n")
		}
		if err != nil {
			sb.WriteString("⚠️ Some of it could not be sent right now.\n")
		}
		sb.WriteString("Your wallet card shows it once the networks include it.")
		b.say(ctx, chatID, sb.String())
		go b.refreshAfterSafe(context.WithoutCancel(ctx), user, txs...)
		return
	}
	amount, tx, err := b.cfg.Faucet.Drip(ctx, w.Address)
	if err != nil {
		b.log.Warn("faucet", "err", err)
		b.say(ctx, chatID, "⚠️ The faucet could not send ETH right now.")
		return
	}
	chainID := b.nets()[0].ChainID
	b.say(ctx, chatID, "💧 The dev faucet sent you <b>"+eth(amount, nearest)+" ETH</b> on "+b.networkName(chainID)+
		".\nTransaction: "+b.txLink(chainID, tx)+"\nYour wallet card shows it once the network includes it.")
	go b.refreshAfterSafe(context.WithoutCancel(ctx), user, chainTx{chainID, tx})
}

// chainTx is a transaction on one network.
type chainTx struct {
	chainID uint64
	hash    common.Hash
}

// refreshAfter refreshes the user's wallet card once every tx is mined (a
// minute at most), and once more as each is.
// refreshAfterSafe is refreshAfter in a goroutine of its own: a panic ends
// the refresh only.
func (b *Bot) refreshAfterSafe(ctx context.Context, user int64, txs ...chainTx) {
	safego.Call(b.log, b.cfg.Metrics, "wallet_refresh", func() { b.refreshAfter(ctx, user, txs...) })
}

func (b *Bot) refreshAfter(ctx context.Context, user int64, txs ...chainTx) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for len(txs) > 0 {
		left := txs[:0]
		for _, tx := range txs {
			c, err := b.svc.ChainFor(tx.chainID)
			if err != nil {
				continue
			}
			if _, err := c.Receipt(ctx, tx.hash); err != nil {
				left = append(left, tx)
			}
		}
		if len(left) < len(txs) {
			b.refreshWalletSoon(user)
		}
		txs = left
		if len(txs) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
