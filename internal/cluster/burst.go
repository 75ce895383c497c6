package cluster

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/postgres"
)

// The wallet burst is the traffic of the fault tests: users who already
// have the bot's greeting tap Create wallet, while newcomers send /start,
// all at once. Every update has one visible outcome, so a lost update and an
// update handled twice both show in the chats:
//   - a newcomer's /start: exactly one greeting (a second is /start handled
//     twice; none is /start lost);
//   - a tap: the greeting edited to show the user's wallet address (as
//     "Your wallet is ready" or, when a redelivered tap finds the wallet a
//     first try made, "You have a wallet"), at most one wallet card, and no
//     other message; the database holds exactly one wallet for the user,
//     with that address.

// CreateButton is the greeting's button.
const CreateButton = "w:create"

var addressRE = regexp.MustCompile(`0x[0-9a-fA-F]{40}`)

// Greet sends /start for every user and waits for each greeting; it
// returns the greeting's message id per user.
func Greet(ctx context.Context, users []*emulator.User) (map[int64]int, error) {
	var (
		mu   sync.Mutex
		out  = map[int64]int{}
		errs []string
		wg   sync.WaitGroup
	)
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.Send("/start")
			m, err := u.WaitMessage(ctx, IsGreeting)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Sprintf("user %d: no greeting: %v", u.ID(), err))
				return
			}
			out[u.ID()] = m.ID
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return out, fmt.Errorf("%d of %d users got no greeting, e.g. %s", len(errs), len(users), errs[0])
	}
	return out, nil
}

// IsGreeting: the bot's greeting with its Create wallet button.
func IsGreeting(m emulator.Message) bool {
	if !m.FromBot || !strings.HasPrefix(m.Text, "Hi ") {
		return false
	}
	for _, row := range m.Buttons {
		for _, b := range row {
			if b.CallbackData == CreateButton {
				return true
			}
		}
	}
	return false
}

// Tap presses Create wallet on every user's greeting, all at once, without
// waiting for the answers (the parent that took a tap may die before it
// answers; Telegram's retry goes to another).
func Tap(ctx context.Context, users []*emulator.User, greetings map[int64]int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.PressContext(ctx, greetings[u.ID()], CreateButton)
		}()
	}
	return &wg
}

// ErrorReply is the bot's answer when a handler failed on its side: nothing
// was done, and the user is asked to try again. The fault tests allow none:
// a store that went away makes the webhook leave the update to Telegram's
// redelivery instead (docs/bot.md).
const ErrorReply = "Something went wrong on our side"

// chat sums up one user's chat with the bot.
type chat struct {
	addr      string // the address the greeting shows after a tap, or ""
	greetings int    // the bot's greetings (with or without the button)
	cards     int
	cardAddrs []string
	errors    int // ErrorReply answers
	other     []string
}

func chatOf(u *emulator.User) chat {
	var c chat
	for _, m := range u.Messages() {
		if !m.FromBot {
			continue
		}
		switch {
		case strings.HasPrefix(m.Text, "Hi "):
			c.greetings++
			if c.greetings == 1 && (strings.Contains(m.Text, "wallet is ready") || strings.Contains(m.Text, "You have a wallet")) {
				c.addr = addressRE.FindString(m.Text)
			}
		case m.PhotoFileID != "":
			c.cards++
			c.cardAddrs = append(c.cardAddrs, addressRE.FindString(m.Caption))
		case strings.Contains(m.Text, ErrorReply):
			c.errors++
		default:
			c.other = append(c.other, m.Text)
		}
	}
	return c
}

// Settled reports whether every update shows an outcome: a tap its wallet
// address in the greeting, a /start its greeting, or (unless strict) either
// an error reply.
func Settled(tappers, newcomers []*emulator.User, strict bool) bool {
	return unsettled(tappers, newcomers, strict) == 0
}

func unsettled(tappers, newcomers []*emulator.User, strict bool) int {
	n := 0
	for _, u := range tappers {
		if c := chatOf(u); c.addr == "" && (strict || c.errors == 0) {
			n++
		}
	}
	for _, u := range newcomers {
		if c := chatOf(u); c.greetings == 0 && (strict || c.errors == 0) {
			n++
		}
	}
	return n
}

// WaitSettled polls Settled every 100 ms until it holds or ctx ends.
func WaitSettled(ctx context.Context, tappers, newcomers []*emulator.User, strict bool) error {
	for !Settled(tappers, newcomers, strict) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d updates show no outcome (lost): %w", unsettled(tappers, newcomers, strict), len(tappers)+len(newcomers), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// Outcome is what a burst left.
type Outcome struct {
	Wallets    int      // wallets in the database
	Cards      int      // wallet cards shown
	Errored    int      // updates answered with ErrorReply and nothing else
	Problems   []string // each a lost or doubled update, or a wallet gone astray
	Redelivery int      // updates the emulator had to deliver more than once
	// Interrupted counts the redelivered updates of which an attempt got
	// no answer: the parent handling it died or was cut off mid-way.
	Interrupted int
	// Repeated counts replies said twice: a second greeting for one
	// /start, a second card for one tap. An update is handled again only
	// when the parent that handled it could not record it done: it died or
	// was cut off between its reply and FinishUpdate, its claim ran out,
	// and Telegram's retry went to another parent. The Bot API has no
	// idempotency key, so that window cannot be closed; the store's rules
	// (one wallet per user) keep the second run from doing anything
	// twice, so it can only say something twice. Hence a repeat is a
	// problem only beyond Interrupted (checked by the tests).
	Repeated int
}

// Check compares the chats with the database (see the burst's rules
// above). With allowErrors, an ErrorReply is an outcome (counted in
// Errored); without, it is a problem.
func (c *Cluster) Check(ctx context.Context, tappers, newcomers []*emulator.User, allowErrors bool) Outcome {
	var o Outcome
	db, err := postgres.Open(ctx, c.DSN, postgres.Options{})
	if err != nil {
		o.Problems = append(o.Problems, "opening the database: "+err.Error())
		return o
	}
	defer db.Close()
	owners := map[int64]common.Address{}
	err = db.ForEachWallet(func(w storage.Wallet) error {
		if _, dup := owners[w.Owner]; dup {
			o.Problems = append(o.Problems, fmt.Sprintf("user %d has two wallets", w.Owner))
		}
		owners[w.Owner] = w.Address
		return nil
	})
	if err != nil {
		o.Problems = append(o.Problems, "reading wallets: "+err.Error())
	}
	o.Wallets = len(owners)
	problem := func(format string, args ...any) { o.Problems = append(o.Problems, fmt.Sprintf(format, args...)) }
	isTapper := map[int64]bool{}
	for _, u := range tappers {
		isTapper[u.ID()] = true
		ch := chatOf(u)
		stored, ok := owners[u.ID()]
		o.Cards += ch.cards
		if ch.errors > 0 && !allowErrors {
			problem("user %d: %d error replies (%q)", u.ID(), ch.errors, ErrorReply)
		}
		switch {
		case ch.addr == "" && ch.errors == 0:
			problem("user %d: tap lost (the greeting shows no wallet, no error reply)", u.ID())
			continue
		case ch.addr == "":
			o.Errored++ // told to try again; a wallet may or may not exist yet
			continue
		case !ok:
			problem("user %d: shown wallet %s, none stored (wallet lost)", u.ID(), ch.addr)
		case common.HexToAddress(ch.addr) != stored:
			problem("user %d: shown %s, stored %s", u.ID(), ch.addr, stored.Hex())
		}
		for _, a := range ch.cardAddrs {
			if common.HexToAddress(a) != stored {
				problem("user %d: card shows %s, stored %s", u.ID(), a, stored.Hex())
			}
		}
		if ch.cards > 1 {
			o.Repeated += ch.cards - 1 // the card said twice (see Outcome.Repeated)
		}
		if ch.greetings > 1 {
			o.Repeated += ch.greetings - 1
		}
		if len(ch.other) > 0 {
			problem("user %d: unexpected messages %q", u.ID(), ch.other)
		}
	}
	for _, u := range newcomers {
		ch := chatOf(u)
		if ch.errors > 0 && !allowErrors {
			problem("user %d: %d error replies (%q)", u.ID(), ch.errors, ErrorReply)
		}
		switch {
		case ch.greetings == 0 && ch.errors == 0:
			problem("user %d: /start lost (no greeting, no error reply)", u.ID())
		case ch.greetings == 0:
			o.Errored++
		case ch.greetings > 1:
			o.Repeated += ch.greetings - 1
		}
		if ch.cards > 0 || len(ch.other) > 0 {
			problem("user %d: unexpected messages: %d cards, %q", u.ID(), ch.cards, ch.other)
		}
	}
	for owner := range owners {
		if !isTapper[owner] {
			problem("user %d has a wallet without tapping", owner)
		}
	}
	st := c.Emu.WebhookStats()
	if st.GaveUp > 0 {
		problem("the emulator gave up on %d updates (lost)", st.GaveUp)
	}
	for id, n := range c.Emu.WebhookAttempts() {
		if n <= 1 {
			continue
		}
		o.Redelivery++
		for _, code := range c.Emu.WebhookStatuses(id) {
			// No answer (0), or the proxy's 502/504: the parent holding
			// the update died or was cut off in the middle of it. 409
			// (claimed elsewhere) and 503 (not ready) say it did nothing.
			if code == 0 || code == 502 || code == 504 {
				o.Interrupted++
				break
			}
		}
	}
	return o
}
