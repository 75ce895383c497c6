package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/netns"
)

// users makes n emulator users with ids from base.
func users(c *Cluster, base int64, n int) []*emulator.User {
	out := make([]*emulator.User, n)
	for i := range out {
		id := base + int64(i)
		out[i] = c.Emu.User(id, fmt.Sprintf("U%d", id), fmt.Sprintf("u%d", id))
	}
	return out
}

// burstSize is the users of a fault test's burst (fewer with -short).
func burstSize(full int) int {
	if testing.Short() {
		return full / 4
	}
	return full
}

// greeted returns n users who have the greeting, and their greetings.
func greeted(t *testing.T, c *Cluster, base int64, n int) ([]*emulator.User, map[int64]int) {
	t.Helper()
	us := users(c, base, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, err := Greet(ctx, us)
	if err != nil {
		t.Fatalf("%v\n%s", err, c.Logs())
	}
	return us, g
}

// botMessages counts the bot's messages and edits in every chat so far.
func botMessages(c *Cluster) int {
	n := 0
	for _, u := range c.Emu.Users() {
		for _, m := range u.Messages() {
			if m.FromBot {
				n++
				if m.Edited {
					n++
				}
			}
		}
	}
	return n
}

// settle waits for the burst's outcome and checks it: every update its one
// outcome, with no error reply (ErrorReply) anywhere: a user whose action
// met a fault must not be asked to try again.
func settle(t *testing.T, c *Cluster, limit time.Duration, tappers, newcomers []*emulator.User) Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := WaitSettled(ctx, tappers, newcomers, false); err != nil {
		t.Errorf("%v", err)
	}
	if err := c.Emu.WaitDelivered(ctx); err != nil {
		t.Errorf("%v", err)
	}
	o := c.Check(context.Background(), tappers, newcomers, false)
	for i, p := range o.Problems {
		if i == 20 {
			t.Errorf("... %d more", len(o.Problems)-20)
			break
		}
		t.Error(p)
	}
	if o.Repeated > o.Interrupted {
		t.Errorf("%d replies said twice, more than the %d updates interrupted mid-way: an update was handled twice without a fault to explain it", o.Repeated, o.Interrupted)
	}
	if o.Wallets != len(tappers) {
		t.Errorf("%d wallets in PostgreSQL, want %d (one per user who tapped)", o.Wallets, len(tappers))
	}
	if t.Failed() {
		t.Logf("parents' logs:\n%s", tail(c.Logs(), 8000))
	}
	return o
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestKill9OneOfTwoParentsMidBurst kills one of two parents with SIGKILL in
// the middle of a burst of taps on Create wallet and first /starts: every
// update still gets exactly its one outcome (the emulator redelivers what
// the dead parent left unanswered; the live one handles it, the store's
// update claims keep it from being handled twice), and every wallet a user
// was shown is the one PostgreSQL holds.
func TestKill9OneOfTwoParentsMidBurst(t *testing.T) {
	c := Start(t, Options{ClaimTTL: 3 * time.Second})
	n := burstSize(200)
	tappers, greetings := greeted(t, c, 1_000_000, n)
	newcomers := users(c, 2_000_000, n/2)
	before := botMessages(c)
	victim := c.Parents[0]

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	taps := Tap(ctx, tappers, greetings)
	for _, u := range newcomers {
		u.Send("/start")
	}
	// Kill when about a quarter of the burst's replies are out: the
	// victim is then in the middle of handling updates.
	want := before + (3*n+n/2)/4
	if !waitUntil(time.Minute, func() bool { return botMessages(c) >= want }) {
		t.Fatalf("the burst did not get going (%d bot messages)\n%s", botMessages(c)-before, c.Logs())
	}
	victim.Kill9()
	t.Logf("killed %s after %d replies", victim.Instance, botMessages(c)-before)

	o := settle(t, c, 3*time.Minute, tappers, newcomers)
	taps.Wait()
	counts := c.Proxy.Counts()
	t.Logf("outcome: %d wallets, %d cards, %d updates redelivered (%d interrupted), %d replies said twice; proxy: %+v", o.Wallets, o.Cards, o.Redelivery, o.Interrupted, o.Repeated, counts)
	if counts[0].Forwarded == 0 || counts[1].Forwarded == 0 {
		t.Errorf("the proxy did not share the burst: %+v", counts)
	}
	if !c.Parents[1].Running() {
		t.Errorf("the surviving parent stopped:\n%s", c.Parents[1].Logs())
	}
	// The wallets open in the enclave: no record was lost or mangled.
	c.EnclaveOpens(t, tappers[:min(5, len(tappers))])
}

// TestPostgresRestartDuringTraffic stops PostgreSQL in the middle of a
// burst (a fast shutdown, as an upgrade or a failover does), then kills it
// (SIGKILL of the server's process group, as a crash does), starting it
// again once both parents' /readyz said the store is not ready (at least a
// second later). The parents stay up and reconnect; no update is lost, none
// is handled twice, no wallet is lost, and no user sees an error reply or
// has to try again: a store call waits a few seconds for the server
// (storage/postgres), and an update whose handler still met the database
// away is answered 503 without a reply, so Telegram redelivers it. /readyz
// says "ready" again once the server is back.
func TestPostgresRestartDuringTraffic(t *testing.T) {
	c := Start(t, Options{ClaimTTL: 3 * time.Second})
	n := burstSize(100)
	var allTappers, allNewcomers []*emulator.User
	for round, fault := range []struct {
		name string
		stop func()
	}{
		{"stop", c.PG.Stop},
		{"kill", c.PG.Kill},
	} {
		tappers, greetings := greeted(t, c, int64(3_000_000+round*100_000), n)
		newcomers := users(c, int64(4_000_000+round*100_000), n/2)
		before := botMessages(c)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		taps := Tap(ctx, tappers, greetings)
		for _, u := range newcomers {
			u.Send("/start")
		}
		if !waitUntil(time.Minute, func() bool { return botMessages(c) >= before+n/4 }) {
			t.Fatalf("%s: the burst did not get going\n%s", fault.name, c.Logs())
		}
		fault.stop()
		down := time.Now()
		for _, p := range c.Parents {
			if !waitUntil(10*time.Second, func() bool { return storeReady(p) == "not ready" }) {
				t.Errorf("%s: %s's /readyz did not say the store is not ready while PostgreSQL is down (%s)", fault.name, p.Instance, storeReady(p))
			}
		}
		time.Sleep(time.Second - time.Since(down))
		c.PG.Start()
		t.Logf("PostgreSQL %s: down %v", fault.name, time.Since(down).Round(time.Millisecond))
		for _, p := range c.Parents {
			if !waitUntil(30*time.Second, func() bool { return storeReady(p) == "ready" }) {
				t.Errorf("%s: %s's /readyz not ready after PostgreSQL came back (%s)", fault.name, p.Instance, storeReady(p))
			}
		}
		allTappers, allNewcomers = append(allTappers, tappers...), append(allNewcomers, newcomers...)
		o := settle(t, c, 3*time.Minute, allTappers, allNewcomers)
		taps.Wait()
		cancel()
		st := c.Emu.WebhookStats()
		t.Logf("PostgreSQL %s: %d wallets, %d updates redelivered (%d interrupted), %d replies said twice, %d answered %q; deliveries by status %v, %d failed", fault.name, o.Wallets, o.Redelivery, o.Interrupted, o.Repeated, o.Errored, ErrorReply, st.Status, st.Failed)
		for _, p := range c.Parents {
			if !p.Running() {
				t.Fatalf("%s: %s exited when PostgreSQL went away:\n%s", fault.name, p.Instance, p.Logs())
			}
		}
		if t.Failed() {
			return
		}
	}
}

// TestPartitionedParent runs every part on a host of its own (network
// namespaces) and cuts one parent off: first from PostgreSQL only, then
// from everything. While it is cut off, the other parent does all the work:
// Telegram's retries reach it, and the cut parent's update claims run out.
// Once the cut heals, the cut parent takes updates again, and nothing was
// done twice: one greeting per /start, at most one card and exactly one
// wallet per tap. No user sees an error reply: the cut parent's handlers
// that lose the database leave their updates to Telegram's redelivery.
func TestPartitionedParent(t *testing.T) {
	n := netns.New(t)
	c := Start(t, Options{Net: n, ClaimTTL: 3 * time.Second, ProxyTimeout: 3 * time.Second})
	// A session cut off inside a transaction holds its row locks until the
	// server drops it; a deployment bounds that (docs/performance.md).
	c.SetServer(t, "idle_in_transaction_session_timeout", "5s")
	size := burstSize(60)
	cut := c.Parents[0]
	var allTappers, allNewcomers []*emulator.User
	for round, fault := range []struct {
		name      string
		cut, heal func()
	}{
		{"from PostgreSQL", func() { n.Partition(cut.Host, c.DBHost) }, n.Heal},
		{"from everything", func() { n.Isolate(cut.Host) }, func() { n.Reconnect(cut.Host) }},
	} {
		tappers, greetings := greeted(t, c, int64(5_000_000+round*100_000), size)
		newcomers := users(c, int64(6_000_000+round*100_000), size/2)
		// Every greeting acknowledged before the cut: what happens next
		// is the burst's.
		wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
		if err := c.Emu.WaitDelivered(wctx); err != nil {
			t.Fatal(err)
		}
		wcancel()
		fault.cut()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		taps := Tap(ctx, tappers, greetings)
		for _, u := range newcomers {
			u.Send("/start")
		}
		allTappers, allNewcomers = append(allTappers, tappers...), append(allNewcomers, newcomers...)
		o := settle(t, c, 3*time.Minute, allTappers, allNewcomers)
		taps.Wait()
		cancel()
		t.Logf("cut %s: %d wallets, %d updates redelivered (%d interrupted), %d replies said twice, %d answered %q", fault.name, o.Wallets, o.Redelivery, o.Interrupted, o.Repeated, o.Errored, ErrorReply)
		fault.heal()
		// Healed: a new burst is shared by both parents again.
		before := c.Proxy.Counts()
		tappers, greetings = greeted(t, c, int64(7_000_000+round*100_000), size/2)
		taps = Tap(context.Background(), tappers, greetings)
		allTappers = append(allTappers, tappers...)
		settle(t, c, 2*time.Minute, allTappers, allNewcomers)
		taps.Wait()
		after := c.Proxy.Counts()
		t.Logf("%s: proxy before %+v after %+v", fault.name, before, after)
		if after[0].Forwarded == before[0].Forwarded {
			t.Errorf("%s: the healed parent took no update", fault.name)
		}
		if !cut.Running() {
			t.Fatalf("%s: the cut parent exited:\n%s", fault.name, cut.Logs())
		}
		if t.Failed() {
			return
		}
	}
}

func waitUntil(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// storeReady asks p's /readyz (its public listener, as the load balancer
// does) and answers "ready" or "not ready" for the store check, or what
// went wrong.
func storeReady(p *Parent) string {
	resp, err := p.HTTPClient(5 * time.Second).Get(p.URL + metrics.PathReadyz)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var rep metrics.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return fmt.Sprintf("HTTP %d: %v", resp.StatusCode, err)
	}
	switch st := rep.Checks["store"]; {
	case st == "ok" && resp.StatusCode == http.StatusOK:
		return "ready"
	case st != "ok" && st != "" && resp.StatusCode == http.StatusServiceUnavailable:
		return "not ready"
	default:
		return fmt.Sprintf("HTTP %d, store %q", resp.StatusCode, st)
	}
}
