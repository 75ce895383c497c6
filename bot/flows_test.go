package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/postgres"
)

// alternator stands in front of the parents' webhook listeners and hands
// each delivery to the other parent than the one before (a round-robin
// load balancer at its most unhelpful for a conversation), recording
// where each update went. With async it answers the emulator at once and
// delivers in the background, so the emulator sends a chat's next update
// while the last is still being handled: Telegram's one-at-a-time delivery
// per chat, which it does not promise, is gone.
type alternator struct {
	async    atomic.Bool
	backends []string
	mu       sync.Mutex
	next     int
	routes   []route
	wg       sync.WaitGroup
}

type route struct {
	update  int64
	backend int
	status  int
}

func (a *alternator) handler(backends []string) http.Handler {
	a.backends = backends
	return a
}

func (a *alternator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, bot.MaxUpdateBytes))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	_ = json.Unmarshal(body, &u)
	a.mu.Lock()
	i := a.next
	a.next = (i + 1) % len(a.backends)
	a.mu.Unlock()
	forward := func() int {
		req, _ := http.NewRequest(http.MethodPost, a.backends[i]+r.URL.Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(bot.SecretHeader, r.Header.Get(bot.SecretHeader))
		resp, err := http.DefaultClient.Do(req)
		code := http.StatusBadGateway
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		a.mu.Lock()
		a.routes = append(a.routes, route{u.UpdateID, i, code})
		a.mu.Unlock()
		return code
	}
	if a.async.Load() {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); forward() }()
		return // 200
	}
	w.WriteHeader(forward())
}

// log is where each update went, in the order the deliveries ended.
func (a *alternator) log() []route {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]route(nil), a.routes...)
}

// fundedUser makes u's wallet and drips the dev coin into it, waiting
// until the service sees the balance.
func fundedUser(t *testing.T, w *flowWorld, id int64, name string) *user {
	t.Helper()
	u := &user{User: w.emu.User(id, name, strings.ToLower(name)), t: t}
	ctx := context.Background()
	svc := w.bots[0].svc
	wal, _, err := svc.EnsureWallet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.stack.Chain.Drip(ctx, wal.Address); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		bals, _ := svc.Balances(ctx, wal.Address)
		for _, b := range bals {
			if b.Known() && b.Amount.Sign() > 0 {
				return u
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the drip never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func transfersOf(t *testing.T, w *flowWorld, id int64) int {
	t.Helper()
	list, err := w.bots[len(w.bots)-1].svc.History(id, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

const bobAddr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

// TestGuidedSendAcrossParents: two parents on one store, every update of
// a guided /send delivered to the other parent than the one before: the
// conversation goes exactly as on one parent (TestGuidedSend's answers),
// and one transfer is built.
func TestGuidedSendAcrossParents(t *testing.T) {
	guidedSendAcrossParents(t, newFlowWorld(t, flowOptions{instances: 2}))
}

// TestGuidedSendAcrossParentsOnPostgres: the same with two parents that
// share nothing but a real PostgreSQL server (each its own service and
// connection pool; update claims and flows in the database).
func TestGuidedSendAcrossParentsOnPostgres(t *testing.T) {
	dsn := pgtest.Start(t).NewDatabase(t)
	stores := make([]*postgres.DB, 2)
	w := newFlowWorld(t, flowOptions{instances: 2,
		service: func(i int, st *teststack.Stack) (*parent.Service, bot.UpdateStore) {
			db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			stores[i] = db
			pc, err := parent.DialChain(context.Background(), st.Chain.URL, devchain.ChainID, parent.ChainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pc.Close)
			svc, err := parent.NewService(db, parent.NewEnclaveClientTCP(st.Enclave.Addr, 10*time.Second), parent.OneNetwork(pc),
				parent.ServiceConfig{Confirmations: 1, PollInterval: 200 * time.Millisecond}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			return svc, db
		},
	})
	guidedSendAcrossParents(t, w)
	if _, err := stores[0].Flow(1501); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal("the finished send's flow is still stored:", err)
	}
}

func guidedSendAcrossParents(t *testing.T, w *flowWorld) {
	alice := fundedUser(t, w, 1501, "Alice")

	if m := alice.say("/send"); !strings.Contains(m.Text, "Who do you want to send") {
		t.Fatalf("/send asked %q", m.Text)
	}
	if m := alice.say("0xnothex"); !strings.Contains(m.Text, "Paste the recipient") {
		t.Fatalf("bad address answered %q", m.Text)
	}
	if m := alice.say(bobAddr); !strings.Contains(m.Text, "How much ETH") || !strings.Contains(m.Text, "You have 1 ETH") {
		t.Fatalf("address answered %q", m.Text)
	}
	if m := alice.say("lots"); !strings.Contains(m.Text, "not a number") {
		t.Fatalf("bad amount answered %q", m.Text)
	}
	// A button of the flow (Cancel of an old question is not pressed:
	// the amount question's Max would build at once; "10 ETH" is refused
	// as more than the balance and asked again).
	if m := alice.say("10 ETH"); !strings.Contains(m.Text, "more than your balance") || !hasButton(m, "Max") {
		t.Fatalf("too much answered %q", m.Text)
	}
	card := alice.say("0.02 ETH")
	if !strings.Contains(card.Text, "Send 0.02 ETH") || !strings.Contains(card.Text, bobAddr) || !hasButton(card, "Review") {
		t.Fatalf("amount answered %q", card.Text)
	}
	if n := transfersOf(t, w, 1501); n != 1 {
		t.Fatalf("%d transfers, want 1", n)
	}
	if m := alice.say("0.03"); !strings.Contains(m.Text, "/help") {
		t.Fatalf("an answer after the send ended = %q", m.Text)
	}
	// Every step landed on the other parent than the one before.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.emu.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	log := w.alt.log()
	if len(log) != 7 {
		t.Fatalf("%d deliveries, want 7: %+v", len(log), log)
	}
	for i, r := range log {
		if r.status != http.StatusOK || (i > 0 && r.backend == log[i-1].backend) {
			t.Fatalf("delivery %d: %+v (all: %+v)", i, r, log)
		}
	}
}

// TestGuidedSendCancelAndRestartAcrossParents: /cancel on one parent ends
// the send kept by the other; a new /send replaces one in progress.
func TestGuidedSendCancelAndRestartAcrossParents(t *testing.T) {
	w := newFlowWorld(t, flowOptions{instances: 2})
	alice := fundedUser(t, w, 1502, "Alice")
	alice.say("/send")
	alice.say(bobAddr)
	if m := alice.say("/cancel"); !strings.Contains(m.Text, "Stopped the send") {
		t.Fatalf("/cancel during a flow = %q", m.Text)
	}
	if m := alice.say("0.02"); !strings.Contains(m.Text, "/help") {
		t.Fatalf("an answer after /cancel = %q", m.Text)
	}
	alice.say("/send")
	alice.say(bobAddr)
	if m := alice.say("/send 0.01 ETH"); !strings.Contains(m.Text, "Who do you want to send") {
		t.Fatalf("a new /send = %q", m.Text)
	}
	if m := alice.say(bobAddr); !strings.Contains(m.Text, "Send 0.01 ETH") {
		t.Fatalf("the new send's recipient = %q", m.Text)
	}
	if n := transfersOf(t, w, 1502); n != 1 {
		t.Fatalf("%d transfers, want 1", n)
	}
}

// TestGuidedSendStaleFlowExpires: a send in progress expires on the
// store's clock, whichever parent the next answer reaches; the old
// recipient never comes back into a later send.
func TestGuidedSendStaleFlowExpires(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	w := newFlowWorld(t, flowOptions{instances: 2, ttl: ttl})
	alice := fundedUser(t, w, 1503, "Alice")
	alice.say("/send")
	if m := alice.say(bobAddr); !strings.Contains(m.Text, "How much ETH") {
		t.Fatalf("address answered %q", m.Text)
	}
	if f, err := w.stack.Store.Flow(1503); err != nil || time.Until(f.Expires) > ttl {
		t.Fatalf("stored flow %+v, %v", f, err)
	}
	time.Sleep(ttl + 500*time.Millisecond)
	if m := alice.say("0.02"); !strings.Contains(m.Text, "/help") {
		t.Fatalf("an answer after the send expired = %q", m.Text)
	}
	if n := transfersOf(t, w, 1503); n != 0 {
		t.Fatalf("%d transfers from an expired send", n)
	}
	if m := alice.say("/send"); !strings.Contains(m.Text, "Who do you want to send") || strings.Contains(m.Text, bobAddr) {
		t.Fatalf("a new /send after expiry = %q", m.Text)
	}
	if n, err := w.stack.Store.PruneFlows(); err != nil || n != 0 {
		t.Fatal("prune took the live flow:", n, err)
	}
}

// TestGuidedSendTwoAnswersAtOnceAdvanceOnce: Telegram does not promise to
// deliver one chat's updates one at a time; two answers to "How much?"
// handled at once by two parents (both read the same flow before either
// writes) build one transfer, and the other answer is said not to be used.
func TestGuidedSendTwoAnswersAtOnceAdvanceOnce(t *testing.T) {
	w := newFlowWorld(t, flowOptions{instances: 2})
	var armed atomic.Bool
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	for _, fb := range w.bots {
		fb.bot.SetFlowReadHook(func() {
			if !armed.Load() {
				return
			}
			arrived <- struct{}{}
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		})
	}
	alice := fundedUser(t, w, 1504, "Alice")
	alice.say("/send")
	if m := alice.say(bobAddr); !strings.Contains(m.Text, "How much ETH") {
		t.Fatalf("address answered %q", m.Text)
	}
	before := botReplies(alice.User)
	w.alt.async.Store(true) // the next two answers are handled at once
	armed.Store(true)
	alice.Send("0.01")
	alice.Send("0.02")
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatal("the two answers were not handled at once")
		}
	}
	armed.Store(false)
	close(release)
	waitReplies(t, alice.User, before+2)
	w.alt.wg.Wait()
	var cards, unused int
	for _, m := range alice.Messages()[len(alice.Messages())-2:] {
		switch {
		case strings.Contains(m.Text, "Send 0.01 ETH") || strings.Contains(m.Text, "Send 0.02 ETH"):
			cards++
		case strings.Contains(m.Text, "did not use it"):
			unused++
		}
	}
	if cards != 1 || unused != 1 {
		t.Fatalf("%d cards and %d 'not used' replies, want 1 and 1; chat: %s", cards, unused, alice.dump())
	}
	if n := transfersOf(t, w, 1504); n != 1 {
		t.Fatalf("%d transfers, want 1", n)
	}
	log := w.alt.log()
	last := log[len(log)-2:]
	if last[0].backend == last[1].backend {
		t.Fatalf("both answers went to one parent: %+v", log)
	}
}

// TestGuidedSendUnreadableFlowDropped: bytes in the store that are not a
// flow this program reads (written by another party, or a newer format)
// are dropped with the send, never misread; the user is told to start
// again by the plain hint.
func TestGuidedSendUnreadableFlowDropped(t *testing.T) {
	w := newFlowWorld(t, flowOptions{instances: 1})
	alice := fundedUser(t, w, 1505, "Alice")
	alice.say("/send")
	f, err := w.stack.Store.Flow(1505)
	if err != nil {
		t.Fatal(err)
	}
	forged := append([]byte{9}, f.Data[1:]...) // a format version this program does not know
	if _, err := w.stack.Store.PutFlow(1505, f.Version, forged, time.Minute); err != nil {
		t.Fatal(err)
	}
	if m := alice.say(bobAddr); !strings.Contains(m.Text, "/help") {
		t.Fatalf("an answer to an unreadable flow = %q", m.Text)
	}
	if _, err := w.stack.Store.Flow(1505); err == nil {
		t.Fatal("the unreadable flow was kept")
	}
}
