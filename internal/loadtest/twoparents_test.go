package loadtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/cluster"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/postgres"
)

// TestLoadTwoParents is the load test of a deployment: two `autowallet
// parent` processes on one PostgreSQL, each with its enclave, taking
// Telegram's updates by webhook behind a round-robin proxy
// (internal/cluster). Users /start at Telegram's ceiling (30 updates/s),
// tap Create wallet in one burst, then /start again at the ceiling (the
// wallet card). It asserts 0 errors, 0 updates handled twice and 0 messages
// sent twice (every chat holds exactly the messages its updates call for,
// every update was accepted once), never latency; the figures are printed
// (docs/performance.md).
func TestLoadTwoParents(t *testing.T) {
	if !*load {
		t.Skip("the full load test runs only with -load: go test ./internal/loadtest -run TestLoadTwoParents -load -v (make load); TestLoadTwoParentsSmall runs a few users in make test")
	}
	runTwoParents(t, *loadUsers)
}

// TestLoadTwoParentsSmall is the same scenario with a few users.
func TestLoadTwoParentsSmall(t *testing.T) {
	runTwoParents(t, 8)
}

func runTwoParents(t *testing.T, n int) {
	if n < 1 || n > 1000 {
		t.Fatalf("users = %d: want 1 to 1,000", n)
	}
	obs := &observer{chats: map[int64]chan Event{}}
	c := cluster.Start(t, cluster.Options{WrapAPI: obs.wrap, CallbackTimeout: 10 * time.Minute})
	users := make([]*User, n)
	for i := range users {
		id := int64(1_000_000 + i)
		users[i] = &User{User: c.Emu.User(id, fmt.Sprintf("User%d", id), fmt.Sprintf("user%d", id)), events: obs.watch(id)}
	}
	var phases []*Phase
	defer func() {
		var out strings.Builder
		fmt.Fprintf(&out, "\nload test, two parents: %d users; 2 `autowallet parent` processes on one PostgreSQL 15 (pgtest, fsync off), "+
			"each with its enclave process, updates by webhook through a round-robin proxy; Telegram's limits kept by bot.Sender\n", n)
		Print(&out, phases, nil)
		for _, cnt := range c.Proxy.Counts() {
			fmt.Fprintf(&out, "proxy backend %s: %d updates forwarded, %d refused, %d failed\n", cnt.Backend, cnt.Forwarded, cnt.Refused, cnt.Failed)
		}
		st := c.Emu.WebhookStats()
		fmt.Fprintf(&out, "webhook deliveries: %d attempts, %d retries, %d delivered, %d failed, %d given up; statuses %v\n",
			st.Attempts, st.Retries, st.Delivered, st.Failed, st.GaveUp, st.Status)
		if load1, err := os.ReadFile("/proc/loadavg"); err == nil {
			fmt.Fprintf(&out, "load average at the end: %s", load1)
		}
		fmt.Print(out.String())
	}()

	// 1. /start for everyone at Telegram's ceiling: one greeting each.
	start, greetings := greetAll(users, "webhook -> proxy -> parent (update claimed in PostgreSQL) -> sendMessage")
	phases = append(phases, start)

	// 2. Create wallet tapped by everyone at once.
	ready := NewPhase(fmt.Sprintf("Create wallet, burst of %d: first reply", n), n,
		fmt.Sprintf("the greeting edited, then the card: %d messages, the bot's 30/s shared by both parents through the store's send slots (docs/bot.md)", 2*n))
	cards := NewPhase(fmt.Sprintf("Create wallet, burst of %d: wallet card", n), n, "")
	phases = append(phases, ready, cards)
	ctx, cancel := budget(3 * n)
	pace(n, 0, func(i int) {
		u, g := users[i], greetings[i]
		b, ok := g.Button("Create wallet")
		if !ok {
			ready.Err("user %d: no greeting to tap", u.ID())
			return
		}
		t0 := time.Now()
		ev, lat, _, err := u.Tap(ctx, g.ID, b.CallbackData)
		if err != nil {
			ready.Err("%v", err)
			return
		}
		if !strings.Contains(ev.Text, "wallet is ready") {
			ready.Err("user %d: Create wallet answered %q", u.ID(), ev.Text)
			return
		}
		ready.OK(lat)
		card, err := u.Next(ctx)
		if err != nil || !card.Photo || !strings.Contains(card.Text, "Your wallet") {
			cards.Err("user %d: no wallet card (%q, %v)", u.ID(), card.Text, err)
			return
		}
		cards.OK(card.At.Sub(t0))
	})
	ready.Done()
	cards.Done()
	cancel()

	// 3. /start again at the ceiling: the wallet card (store and chain).
	again := NewPhase("/start with a wallet (card), paced 30/s", n, "wallet from PostgreSQL, balance from the node, QR code, sendPhoto")
	phases = append(phases, again)
	ctx, cancel = budget(n)
	pace(n, telegramRate, func(i int) {
		ev, lat, err := users[i].Say(ctx, "/start")
		switch {
		case err != nil:
			again.Err("%v", err)
		case !ev.Photo || !strings.Contains(ev.Text, "Your wallet"):
			again.Err("user %d: /start answered %q", users[i].ID(), ev.Text)
		default:
			again.OK(lat)
		}
	})
	again.Done()
	cancel()

	// 4. What the chats, the emulator and PostgreSQL say.
	verify := NewPhase("verify: chats, deliveries, PostgreSQL", n, "")
	phases = append(phases, verify)
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Emu.WaitDelivered(ctx); err != nil {
		verify.Err("%v", err)
	}
	time.Sleep(time.Second) // a message sent twice would come now
	db, err := postgres.Open(ctx, c.DSN, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wallets := 0
	db.ForEachWallet(func(storage.Wallet) error { wallets++; return nil })
	if wallets != n {
		verify.Err("%d wallets in PostgreSQL, want %d", wallets, n)
	}
	for _, u := range users {
		// Per chat: the greeting, the card after Create, the card after
		// the second /start; the greeting's edit is not a new message.
		var sent, photos int
		for _, m := range u.Messages() {
			if m.FromBot {
				sent++
				if m.PhotoFileID != "" {
					photos++
				}
			}
		}
		if sent != 3 || photos != 2 {
			verify.Err("user %d: %d bot messages (%d photos), want 3 (2): a message sent twice or missing", u.ID(), sent, photos)
			continue
		}
		verify.OK(0)
	}
	st := c.Emu.WebhookStats()
	if st.GaveUp > 0 || st.Delivered != 3*n {
		verify.Err("%d updates delivered (want %d, one per update: more is an update accepted twice), %d given up", st.Delivered, 3*n, st.GaveUp)
	}
	obs.mu.Lock()
	dropped := obs.dropped
	obs.mu.Unlock()
	if d := dropped; d > 0 {
		verify.Err("%d bot messages arrived that no user was waiting for", d)
	}
	verify.Done()

	total := 0
	for _, p := range phases {
		errs := p.Errors()
		total += len(errs)
		for j, e := range errs {
			if j == 10 {
				t.Errorf("%s: ... %d more", p.Name, len(errs)-10)
				break
			}
			t.Errorf("%s: %s", p.Name, e)
		}
		if len(errs) == 0 && p.Count() != p.Updates {
			t.Errorf("%s: %d of %d answered", p.Name, p.Count(), p.Updates)
		}
	}
	if total > 0 {
		t.Errorf("%d errors; parents' logs:\n%s", total, c.Logs())
	}
}
