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

// Settled reports whether every tap shows its outcome (the greeting shows
// an address) and every newcomer has a greeting.
func Settled(tappers, newcomers []*emulator.User) bool {
	for _, u := range tappers {
		if tapOutcome(u) == "" {
			return false
		}
	}
	for _, u := range newcomers {
		if count(u, IsGreeting) == 0 {
			return false
		}
	}
	return true
}

// WaitSettled polls Settled every 100 ms until it holds or ctx ends.
func WaitSettled(ctx context.Context, tappers, newcomers []*emulator.User) error {
	for !Settled(tappers, newcomers) {
		select {
		case <-ctx.Done():
			missing := 0
			for _, u := range tappers {
				if tapOutcome(u) == "" {
					missing++
				}
			}
			for _, u := range newcomers {
				if count(u, IsGreeting) == 0 {
					missing++
				}
			}
			return fmt.Errorf("%d of %d updates show no outcome: %w", missing, len(tappers)+len(newcomers), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// tapOutcome is the address the user's first greeting shows after the tap,
// or "".
func tapOutcome(u *emulator.User) string {
	for _, m := range u.Messages() {
		if m.FromBot && strings.HasPrefix(m.Text, "Hi ") {
			if strings.Contains(m.Text, "wallet is ready") || strings.Contains(m.Text, "You have a wallet") {
				return addressRE.FindString(m.Text)
			}
			return ""
		}
	}
	return ""
}

func count(u *emulator.User, f func(emulator.Message) bool) int {
	n := 0
	for _, m := range u.Messages() {
		if f(m) {
			n++
		}
	}
	return n
}

// Outcome is what a burst left.
type Outcome struct {
	Wallets    int      // wallets in the database
	Cards      int      // wallet cards shown
	Problems   []string // each a lost or doubled update, or a wallet gone astray
	Redelivery int      // updates the emulator had to deliver more than once
}

// Check compares the chats with the database (see the burst's rules above).
func (c *Cluster) Check(ctx context.Context, tappers, newcomers []*emulator.User) Outcome {
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
	isTapper := map[int64]bool{}
	for _, u := range tappers {
		isTapper[u.ID()] = true
		shown := tapOutcome(u)
		stored, ok := owners[u.ID()]
		switch {
		case shown == "":
			o.Problems = append(o.Problems, fmt.Sprintf("user %d: tap lost (greeting shows no wallet)", u.ID()))
		case !ok:
			o.Problems = append(o.Problems, fmt.Sprintf("user %d: shown wallet %s, none stored (wallet lost)", u.ID(), shown))
		case common.HexToAddress(shown) != stored:
			o.Problems = append(o.Problems, fmt.Sprintf("user %d: shown %s, stored %s", u.ID(), shown, stored.Hex()))
		}
		cards := 0
		for _, m := range u.Messages() {
			if !m.FromBot {
				continue
			}
			switch {
			case m.PhotoFileID != "":
				cards++
				if a := addressRE.FindString(m.Caption); common.HexToAddress(a) != stored {
					o.Problems = append(o.Problems, fmt.Sprintf("user %d: card shows %s, stored %s", u.ID(), a, stored.Hex()))
				}
			case strings.HasPrefix(m.Text, "Hi "):
			default:
				o.Problems = append(o.Problems, fmt.Sprintf("user %d: unexpected message %q", u.ID(), m.Text))
			}
		}
		o.Cards += cards
		if cards > 1 {
			o.Problems = append(o.Problems, fmt.Sprintf("user %d: %d wallet cards (tap handled twice)", u.ID(), cards))
		}
		if n := count(u, func(m emulator.Message) bool { return m.FromBot && strings.HasPrefix(m.Text, "Hi ") }); n != 1 {
			o.Problems = append(o.Problems, fmt.Sprintf("user %d: %d greetings, want 1", u.ID(), n))
		}
	}
	for _, u := range newcomers {
		if n := count(u, func(m emulator.Message) bool { return m.FromBot }); n != 1 || count(u, IsGreeting) != 1 {
			o.Problems = append(o.Problems, fmt.Sprintf("user %d: /start answered with %d messages, want 1 greeting (0: lost, 2: handled twice)", u.ID(), n))
		}
	}
	for owner := range owners {
		if !isTapper[owner] {
			o.Problems = append(o.Problems, fmt.Sprintf("user %d has a wallet without tapping", owner))
		}
	}
	st := c.Emu.WebhookStats()
	if st.GaveUp > 0 {
		o.Problems = append(o.Problems, fmt.Sprintf("the emulator gave up on %d updates (lost)", st.GaveUp))
	}
	for _, n := range c.Emu.WebhookAttempts() {
		if n > 1 {
			o.Redelivery++
		}
	}
	return o
}
