package bot

import (
	"context"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-telegram/bot/models"
)

// faucetEvery is how often one user may ask the dev faucet.
const faucetEvery = 10 * time.Second

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
	amount, tx, err := b.cfg.Faucet.Drip(ctx, w.Address)
	if err != nil {
		b.log.Warn("faucet", "err", err)
		b.say(ctx, chatID, "⚠️ The faucet could not send ETH right now.")
		return
	}
	chainID := b.svc.ChainID()
	b.say(ctx, chatID, "💧 The dev faucet sent you <b>"+eth(amount, nearest)+" ETH</b> on "+b.networkName(chainID)+
		".\nTransaction: "+b.txLink(chainID, tx)+"\nYour wallet card shows it once the network includes it.")
	go b.refreshAfter(context.WithoutCancel(ctx), user, chainID, tx)
}

// refreshAfter refreshes the user's wallet card once tx is mined (a minute
// at most).
func (b *Bot) refreshAfter(ctx context.Context, user int64, chainID uint64, tx common.Hash) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := b.svc.Chain().Receipt(ctx, tx); err == nil {
			b.refreshWalletSoon(user)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
