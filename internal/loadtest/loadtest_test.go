package loadtest

import (
	"context"
	"flag"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

var (
	load      = flag.Bool("load", false, "run the full load test (TestLoad: 1,000 users, a few minutes)")
	loadUsers = flag.Int("load.users", 1000, "simulated users of TestLoad (even; at most 1,000: the emulator keeps 1,000 pending updates, as Telegram drops the oldest)")
)

// telegramRate is Telegram's ceiling for one bot: about 30 messages a second.
const telegramRate = 30

// TestLoad is the full load test: 1,000 users at Telegram's ceiling and in
// bursts. It asserts completeness and zero errors, never latency; the
// figures are printed (docs/performance.md).
func TestLoad(t *testing.T) {
	if !*load {
		t.Skip("the full load test runs only with -load: go test ./internal/loadtest -run TestLoad -load -v (make load); TestLoadSmall runs a few users in make test")
	}
	run(t, *loadUsers)
}

// TestLoadSmall is the same scenario with a few users, for make test.
func TestLoadSmall(t *testing.T) {
	run(t, 8)
}

// pace runs fn(0..n-1), each in its own goroutine, rate a second (rate 0:
// all at once, released together), and waits for all of them.
func pace(n int, rate float64, fn func(i int)) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	start := time.Now()
	for i := range n {
		if rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rate == 0 {
				<-gate
			}
			fn(i)
		}()
	}
	close(gate)
	wg.Wait()
}

// budget bounds a phase: the time Telegram's 30 calls/s needs for calls,
// three times over, plus a minute.
// greetAll is phase 1 of both load tests: every user sends /start at
// Telegram's ceiling and must get the greeting with its Create wallet
// button; it returns the phase and each user's greeting.
func greetAll(users []*User, note string) (*Phase, []Event) {
	n := len(users)
	greetings := make([]Event, n)
	start := NewPhase("/start, paced 30/s", n, note)
	ctx, cancel := budget(n)
	defer cancel()
	pace(n, telegramRate, func(i int) {
		ev, lat, err := users[i].Say(ctx, "/start")
		_, hasCreate := ev.Button("Create wallet")
		switch {
		case err != nil:
			start.Err("%v", err)
		case !strings.Contains(ev.Text, "Hi User") || !hasCreate:
			start.Err("user %d: /start answered %q", users[i].ID(), ev.Text)
		default:
			start.OK(lat)
			greetings[i] = ev
		}
	})
	start.Done()
	return start, greetings
}

func budget(calls int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 3*time.Duration(calls)*time.Second/telegramRate+time.Minute)
}

func run(t *testing.T, n int) {
	if n < 2 || n%2 != 0 || n > 1000 {
		t.Fatalf("users = %d: want an even number from 2 to 1,000", n)
	}
	mem := SampleMem()
	w := NewWorld(t, Options{})
	users := make([]*User, n)
	for i := range users {
		users[i] = w.NewUser(int64(1_000_000+i), fmt.Sprintf("User%d", i))
	}
	var (
		phases  []*Phase
		funding time.Duration
	)
	// The table is printed however the run ends (a t.Fatal included).
	defer func() {
		mem.Stop()
		var out strings.Builder
		fmt.Fprintf(&out, "\nload test: %d users (%d senders), Telegram's limits kept by bot.Sender (30 msg/s overall, 1/s per chat, burst 3)\n", n, n/2)
		Print(&out, phases, mem)
		fmt.Fprintf(&out, "funding %d wallets from the faucet (direct Drip, 16 per block, until every balance shows it): %s\n", n/2, ms(funding))
		if load1, err := os.ReadFile("/proc/loadavg"); err == nil {
			fmt.Fprintf(&out, "load average at the end: %s", load1)
		}
		fmt.Print(out.String())
	}()

	// 1. /start for everyone at Telegram's ceiling: one message each.
	start, greetings := greetAll(users, "")
	phases = append(phases, start)

	// 2. Create wallet tapped by everyone at once: three Bot API calls each
	// (the callback answer, "wallet is ready", the card), all through the
	// 30 calls/s budget.
	ready := NewPhase(fmt.Sprintf("Create wallet, burst of %d: first reply", n), n,
		fmt.Sprintf("2 messages per tap (\"ready\", the card) at Telegram's 30/s; the callback answer skips that queue: the burst needs >= %.0f s to answer", float64(2*n)/telegramRate))
	answers := NewPhase(fmt.Sprintf("Create wallet, burst of %d: callback answer", n), n, "")
	cards := NewPhase(fmt.Sprintf("Create wallet, burst of %d: wallet card", n), n, "")
	phases = append(phases, ready, answers, cards)
	ctx, cancel := budget(3 * n)
	pace(n, 0, func(i int) {
		u, g := users[i], greetings[i]
		b, ok := g.Button("Create wallet")
		if !ok {
			ready.Err("user %d: no greeting to tap", u.ID())
			return
		}
		t0 := time.Now()
		ev, lat, answer, err := u.Tap(ctx, g.ID, b.CallbackData)
		if err != nil {
			ready.Err("%v", err)
			return
		}
		answers.OK(answer)
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
	answers.Done()
	cards.Done()
	cancel()

	// 3. The senders (first half) get 1 ETH each from the faucet, directly.
	half := n / 2
	addrs := make([]common.Address, n)
	for i, u := range users {
		wl, err := w.Svc.Wallet(u.ID())
		if err != nil {
			t.Fatalf("user %d has no wallet: %v", u.ID(), err)
		}
		addrs[i] = wl.Address
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute+time.Duration(half)*200*time.Millisecond)
	t0 := time.Now()
	if err := w.Fund(ctx, addrs[:half]); err != nil {
		t.Fatal(err)
	}
	funding = time.Since(t0)
	cancel()

	// 4. Each sender sends 0.01 ETH to a recipient in one message, at
	// Telegram's ceiling.
	amount := big.NewInt(1e16)
	transferCards := make([]Event, half)
	send := NewPhase("/send in one message, paced 30/s", half, "")
	phases = append(phases, send)
	ctx, cancel = budget(half)
	pace(half, telegramRate, func(i int) {
		ev, lat, err := users[i].Say(ctx, "/send 0.01 ETH to "+addrs[half+i].Hex())
		_, review := ev.Button("Review")
		switch {
		case err != nil:
			send.Err("%v", err)
		case IsError(ev) || !strings.Contains(ev.Text, "Waiting for your approval") || !review:
			send.Err("user %d: /send answered %q", users[i].ID(), ev.Text)
		default:
			send.OK(lat)
			transferCards[i] = ev
		}
	})
	send.Done()
	cancel()

	// 5. Every sender approves in the Mini App (64 at once at most), then
	// waits for the card to show the transfer confirmed.
	approve := NewPhase("approve (Mini App API, <= 64 at once)", half, "HTTP round trip: initData check, enclave signature, broadcast")
	confirm := NewPhase("approved -> card shows confirmed", half, "a block every 500ms, 1 confirmation; card edits at 1/s per chat, 30/s overall")
	phases = append(phases, approve, confirm)
	ids := make([]string, half)
	sem := make(chan struct{}, 64)
	ctx, cancel = budget(3 * half)
	pace(half, 0, func(i int) {
		u, card := users[i], transferCards[i]
		if card.ID == 0 {
			approve.Err("user %d: no card to approve", u.ID())
			return
		}
		sem <- struct{}{}
		t0 := time.Now()
		resp, err := u.Approve(ctx, card)
		<-sem
		if err != nil {
			approve.Err("%v", err)
			return
		}
		if resp.Status != "sent" && resp.Status != "approved" {
			approve.Err("user %d: approve status %q", u.ID(), resp.Status)
			return
		}
		approve.OK(time.Since(t0))
		ids[i] = resp.TransferID
		t1 := time.Now()
		ev, err := u.WaitFor(ctx, func(ev Event) bool {
			return ev.ID == card.ID && (strings.Contains(ev.Text, "Confirmed") || IsError(ev) || strings.Contains(ev.Text, "⏹"))
		})
		switch {
		case err != nil:
			confirm.Err("user %d: card #%d never showed confirmed: %v", u.ID(), card.ID, err)
		case !strings.Contains(ev.Text, "Confirmed"):
			confirm.Err("user %d: card #%d: %q", u.ID(), card.ID, ev.Text)
		default:
			confirm.OK(ev.At.Sub(t1))
		}
	})
	approve.Done()
	confirm.Done()
	cancel()

	// 6. What the store and the chain say.
	verify := NewPhase("verify (store and chain)", n, "")
	phases = append(phases, verify)
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	for i, id := range ids {
		if id == "" {
			continue // counted above
		}
		tr, err := w.Svc.Transfer(id)
		if err != nil || tr.State != storage.StateConfirmed {
			verify.Err("transfer %s of user %d: %v %v", id, users[i].ID(), tr.State, err)
		}
		bal, err := w.Svc.Balance(ctx, addrs[half+i])
		if err != nil || bal.Cmp(amount) != 0 {
			verify.Err("recipient %s has %v wei, want %v (%v)", addrs[half+i].Hex(), bal, amount, err)
			continue
		}
		verify.OK(0)
	}
	verify.Updates = half
	if d := w.Dropped(); d > 0 {
		verify.Err("%d bot messages arrived that no user was waiting for room for", d)
	}
	verify.Done()
	cancel()

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
		t.Errorf("%d errors", total)
	}
}
