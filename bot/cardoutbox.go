package bot

// Card edits across parents (docs/bot.md, "Several parents"): the store
// queues an edit of a transfer's card in the same transaction as each state
// change (storage/cards.go), whichever parent made it: the Mini App API on
// one, the tracker on another. The parent holding the "cards" lease makes
// the edits and then removes them from the queue. An edit shows the state
// as stored when it is made, so making one twice (the holder died between
// the edit and the removal) changes nothing the user sees: Telegram answers
// "message is not modified", which is success.

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autowallet/autowallet/internal/safego"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage"
)

// CardsLease names the lease of the card editor.
const CardsLease = "cards"

const (
	cardPage    = 256                    // edits read per pass
	cardPoll    = 250 * time.Millisecond // a change on another parent waits at most this
	cardWorkers = 4                      // transfers edited at once (each chat waits its 1/s)
)

// wakeCards makes the card editor read the queue now (a change on this
// parent).
func (b *Bot) wakeCards() {
	select {
	case b.cardWake <- struct{}{}:
	default:
	}
}

// runCards edits cards from the store's queue until ctx ends (the work of
// the "cards" lease).
func (b *Bot) runCards(ctx context.Context) error {
	for {
		// Each item is guarded in EditQueuedCards; this is the last line,
		// so that a panic elsewhere in a pass cannot end the lease's work.
		safego.Call(b.log, b.cfg.Metrics, "card_editor", func() {
			if _, err := b.EditQueuedCards(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("card edits", "err", err)
			}
		})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.cardWake:
		case <-time.After(cardPoll):
		}
	}
}

// EditQueuedCards makes one pass over the queued card edits: each queued
// transfer's card once (with the state as stored now), the cards of the
// wallet's later signed transfers whose "waiting for" line moved with it,
// and the wallet cards of the owner and of a recipient who uses the bot.
// It returns how many queued edits it removed.
func (b *Bot) EditQueuedCards(ctx context.Context) (int, error) {
	store := b.svc.Store()
	done := 0
	for {
		edits, err := store.PendingCardEdits(0, cardPage)
		if err != nil || len(edits) == 0 {
			return done, err
		}
		var transfers []string
		seen := map[string]bool{}
		wallets := map[int64]bool{}
		add := func(id string) {
			if !seen[id] {
				seen[id] = true
				transfers = append(transfers, id)
			}
		}
		for _, e := range edits {
			add(e.TransferID)
			// The read is inside the guard too: a panic anywhere in an
			// item drops that item, and the page is still removed below
			// (a panic that ended the pass would bring the same page
			// back every pass and hold up every later edit).
			safego.Call(b.log, b.cfg.Metrics, "card_editor", func() {
				t, err := b.svc.Transfer(e.TransferID)
				if err != nil {
					return
				}
				ids, users := b.related(t, e.State)
				for _, id := range ids {
					add(id)
				}
				for _, u := range users {
					wallets[u] = true
				}
			})
		}
		sem := make(chan struct{}, cardWorkers)
		var wg sync.WaitGroup
		for _, id := range transfers {
			// The fence: a holder that lost the lease stops; the edits stay
			// queued for the next holder.
			if err := lease.Check(ctx); err != nil {
				wg.Wait()
				return done, err
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				// A panic drops this card's edit (it is removed from the
				// queue with the others: a poison edit would otherwise
				// come back every pass); the pass goes on.
				safego.Call(b.log, b.cfg.Metrics, "card_editor", func() { b.editTransferCard(ctx, id) })
			})
		}
		wg.Wait()
		for u := range wallets {
			if err := lease.Check(ctx); err != nil {
				return done, err
			}
			safego.Call(b.log, b.cfg.Metrics, "wallet_refresh", func() { b.refreshWallet(ctx, u) })
		}
		// Edits cut short by the end of the lease stay queued; an edit
		// Telegram refused after the Sender's retries is given up, as a
		// card always shows the state of its latest edit anyway.
		if err := lease.Check(ctx); err != nil {
			return done, err
		}
		seqs := make([]uint64, len(edits))
		for i, e := range edits {
			seqs[i] = e.Seq
		}
		if err := store.CardEditsDone(seqs...); err != nil {
			return done, err
		}
		done += len(edits)
	}
}

// editTransferCard shows the transfer's stored state on its card.
func (b *Bot) editTransferCard(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cardEditHook(id)
	t, err := b.svc.Transfer(id)
	if err != nil || t.MessageID == 0 || !b.ownChat(t.Owner, t.ChatID, "transfer card") {
		return
	}
	text, markup := b.transferCard(ctx, t)
	b.editText(ctx, t.ChatID, t.MessageID, text, markup)
}

// related are the cards a change of t to state also changes: the wallet's
// later signed transfers (their "waiting for" line) and the wallet cards
// of the owner (balance, pending) and of a recipient who uses the bot.
func (b *Bot) related(t storage.Transfer, state storage.State) (transfers []string, wallets []int64) {
	switch state {
	case storage.StateApproved, storage.StateConfirmed, storage.StateFailed, storage.StateReplaced:
		wallets = append(wallets, t.Owner)
	}
	if state == storage.StateConfirmed {
		if u, ok := b.svc.OwnerOf(t.To); ok && u.ID != t.Owner {
			wallets = append(wallets, u.ID)
		}
	}
	q, err := b.svc.Queue(t.ChainID, t.From)
	if err == nil {
		for _, later := range q {
			if later.Nonce > t.Nonce {
				transfers = append(transfers, later.ID)
			}
		}
	}
	return transfers, wallets
}

// cardEditHookFn, when set (tests only: SetCardEditHook in export_test.go),
// runs at the start of every card edit, with the transfer id (or the
// wallet refresh's id): a test makes one edit panic through it. No user
// input reaches it.
var cardEditHookFn atomic.Pointer[func(id string)]

func cardEditHook(id string) {
	if f := cardEditHookFn.Load(); f != nil {
		(*f)(id)
	}
}
