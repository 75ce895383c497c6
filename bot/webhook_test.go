package bot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/lbproxy"
	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

const (
	hookSecret = "test-webhook_SECRET-0123456789abcdef"
	hookPath   = "/telegram/webhook"
)

// hookWorld is the real bot, several instances of it (parents) on one
// bbolt store, taking updates by webhook from the emulator, optionally
// through the round-robin proxy.
type hookWorld struct {
	emu   *emulator.Emulator
	stack *teststack.Stack
	api   *httptest.Server
	bots  []*hookBot
	proxy *lbproxy.Proxy
}

type hookBot struct {
	name string
	bot  *bot.Bot
	srv  *httptest.Server // its webhook listener
	stop context.CancelFunc
	m    *metrics.Metrics // its metrics
	logs *syncBuffer      // its log, as text
}

// syncBuffer is a log sink several goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type hookOptions struct {
	instances int
	emu       emulator.WebhookOptions
	cfg       bot.WebhookConfig // ClaimTTL, HandleTimeout
	proxy     bool              // the emulator posts to the proxy (else to the first bot)
	store     func(name string, s *bolt.DB) bot.UpdateStore
	stack     teststack.Options
	check     time.Duration // bot.Config.WebhookCheck
}

func newHookWorld(t testing.TB, o hookOptions) *hookWorld {
	t.Helper()
	st := teststack.Start(t, o.stack)
	if o.emu.RetryMin == 0 {
		o.emu.RetryMin, o.emu.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	}
	emu, err := emulator.New(emulator.Config{BotToken: testToken, BotUsername: "test_wallet_bot",
		MiniAppShortName: "wallet", MiniAppURL: "http://127.0.0.1/miniapp/", SigningKey: st.Enclave.Key, Webhook: o.emu})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	emu.Register(mux)
	api := httptest.NewServer(mux)
	w := &hookWorld{emu: emu, stack: st, api: api}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Each instance's listener exists before the webhook URL is known.
	for i := range o.instances {
		hb := &hookBot{name: fmt.Sprintf("parent-%c", 'a'+i), m: metrics.New(metrics.Options{}), logs: &syncBuffer{}}
		var h atomic.Pointer[http.Handler]
		hb.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			hp := h.Load()
			if r.URL.Path != hookPath || hp == nil {
				http.NotFound(rw, r)
				return
			}
			(*hp).ServeHTTP(rw, r)
		}))
		w.bots = append(w.bots, hb)
		defer func() {
			cfg := o.cfg
			cfg.Secret, cfg.Instance = hookSecret, hb.name
			cfg.URL = w.hookURL()
			cfg.Store = st.Store
			if o.store != nil {
				cfg.Store = o.store(hb.name, st.Store)
			}
			b, err := bot.New(bot.Config{Token: testToken, APIURL: api.URL, MiniAppLink: testMiniApp, Webhook: &cfg,
				Metrics: hb.m, Log: slog.New(slog.NewTextHandler(hb.logs, nil)), WebhookCheck: o.check}, st.Service)
			if err != nil {
				t.Fatal(err)
			}
			hb.bot = b
			wh := b.WebhookHandler()
			h.Store(&wh)
			var bctx context.Context
			bctx, hb.stop = context.WithCancel(ctx)
			wg.Add(1)
			go func() { defer wg.Done(); b.Run(bctx) }()
		}()
	}
	if o.proxy {
		var backends []string
		for _, hb := range w.bots {
			backends = append(backends, hb.srv.URL)
		}
		if w.proxy, err = lbproxy.Start(backends, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		cancel()
		emu.Close()
		if w.proxy != nil {
			w.proxy.Close()
		}
		for _, hb := range w.bots {
			hb.srv.Close()
		}
		api.Close()
		wg.Wait()
	})
	return w
}

func (w *hookWorld) hookURL() string {
	if w.proxy != nil {
		return w.proxy.URL() + hookPath
	}
	return w.bots[0].srv.URL + hookPath
}

// waitServing waits until every instance has set the webhook.
func (w *hookWorld) waitServing(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, hb := range w.bots {
		for {
			code, _ := post(t, hb.srv.URL+hookPath, hookSecret, "{}")
			if code != http.StatusServiceUnavailable && code != http.StatusNotFound {
				break // past "not serving" (400: not an update)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never served the webhook", hb.name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// helpUpdate is a /help message update from user uid, as Telegram sends it.
func helpUpdate(id, uid int64) string {
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"U"},`+
		`"chat":{"id":%d,"type":"private","first_name":"U"},"date":1750000000,"text":"/help",`+
		`"entities":[{"type":"bot_command","offset":0,"length":5}]}}`, id, id%1000+1, uid, uid)
}

func post(t testing.TB, url, secret, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(bot.SecretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// botReplies counts the bot's messages in u's chat.
func botReplies(u *emulator.User) int {
	n := 0
	for _, m := range u.Messages() {
		if m.FromBot {
			n++
		}
	}
	return n
}

// waitReplies waits until u's chat has want bot messages, then a little
// longer to catch a duplicate.
func waitReplies(t *testing.T, u *emulator.User, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for botReplies(u) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if got := botReplies(u); got != want {
		t.Fatalf("user %d: %d bot replies, want %d", u.ID(), got, want)
	}
}

// unseen reports whether the store has no claim for update id (a probe
// claim by another holder succeeds only then, or after a claim ran out).
func unseen(t *testing.T, s *bolt.DB, id int64) bool {
	t.Helper()
	c, err := s.ClaimUpdate(id, "probe", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return c == storage.UpdateClaimed
}

func TestWebhookRefusesWithoutSecret(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 1})
	w.waitServing(t)
	alice := w.emu.User(501, "Alice", "alice")
	url := w.bots[0].srv.URL + hookPath
	body := helpUpdate(7001, alice.ID())
	for _, c := range []struct {
		secret string
		want   int
	}{
		{"", http.StatusUnauthorized},
		{"wrong", http.StatusForbidden},
		{hookSecret + "x", http.StatusForbidden},
		{strings.ToUpper(hookSecret), http.StatusForbidden},
	} {
		if code, _ := post(t, url, c.secret, body); code != c.want {
			t.Fatalf("secret %q: status %d, want %d", c.secret, code, c.want)
		}
	}
	// A wrong secret is refused before the body is read: a huge body gets
	// 403, not 413.
	if code, _ := post(t, url, "wrong", strings.Repeat("x", 2*bot.MaxUpdateBytes)); code != http.StatusForbidden {
		t.Fatalf("wrong secret, huge body: %d", code)
	}
	if code, _ := post(t, url, hookSecret, strings.Repeat("x", 2*bot.MaxUpdateBytes)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge body: %d", code)
	}
	for _, bad := range []string{`{}`, `{"update_id":-1}`, `{"update_id":"7"}`, `{"update_id":7} {"update_id":8}`, `[1]`, `not json`} {
		if code, _ := post(t, url, hookSecret, bad); code != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", bad, code)
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	time.Sleep(200 * time.Millisecond)
	if n := botReplies(alice); n != 0 {
		t.Fatalf("refused updates were handled: %d replies", n)
	}
	if !unseen(t, w.stack.Store, 7001) {
		t.Fatal("a refused update left a claim in the store")
	}
}

func TestWebhookSameUpdateTwiceHandledOnce(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 2})
	w.waitServing(t)
	alice := w.emu.User(502, "Alice", "alice")
	a, b := w.bots[0].srv.URL+hookPath, w.bots[1].srv.URL+hookPath
	// One after the other, to two parents sharing the store.
	if code, _ := post(t, a, hookSecret, helpUpdate(8001, alice.ID())); code != 200 {
		t.Fatalf("first delivery: %d", code)
	}
	if code, _ := post(t, b, hookSecret, helpUpdate(8001, alice.ID())); code != 200 {
		t.Fatalf("second delivery: %d", code)
	}
	if code, _ := post(t, a, hookSecret, helpUpdate(8001, alice.ID())); code != 200 {
		t.Fatalf("third delivery: %d", code)
	}
	waitReplies(t, alice, 1)

	// At the same time, while the first is being handled (a slow Bot API):
	// the second gets 409, and after the first finished, 200.
	w.emu.DelayNext("sendMessage", 1, 500*time.Millisecond)
	first := make(chan int, 1)
	go func() { code, _ := post(t, a, hookSecret, helpUpdate(8002, alice.ID())); first <- code }()
	time.Sleep(150 * time.Millisecond)
	if code, _ := post(t, b, hookSecret, helpUpdate(8002, alice.ID())); code != http.StatusConflict {
		t.Fatalf("concurrent delivery to the other parent: %d, want 409", code)
	}
	if code, _ := post(t, a, hookSecret, helpUpdate(8002, alice.ID())); code != http.StatusConflict {
		t.Fatalf("concurrent delivery to the same parent: %d, want 409", code)
	}
	if code := <-first; code != 200 {
		t.Fatalf("slow first delivery: %d", code)
	}
	if code, _ := post(t, b, hookSecret, helpUpdate(8002, alice.ID())); code != 200 {
		t.Fatalf("retry after handling: %d", code)
	}
	waitReplies(t, alice, 2)
}

func TestWebhookClaimHeldElsewhereWaitsForItToRunOut(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 1})
	w.waitServing(t)
	alice := w.emu.User(503, "Alice", "alice")
	// A parent that died after claiming the update holds it for 600 ms.
	if c, err := w.stack.Store.ClaimUpdate(9001, "dead-parent", 600*time.Millisecond); err != nil || c != storage.UpdateClaimed {
		t.Fatal(c, err)
	}
	url := w.bots[0].srv.URL + hookPath
	if code, _ := post(t, url, hookSecret, helpUpdate(9001, alice.ID())); code != http.StatusConflict {
		t.Fatalf("claimed elsewhere: %d, want 409", code)
	}
	time.Sleep(100 * time.Millisecond)
	if n := botReplies(alice); n != 0 {
		t.Fatalf("handled while claimed elsewhere: %d replies", n)
	}
	time.Sleep(600 * time.Millisecond)
	if code, _ := post(t, url, hookSecret, helpUpdate(9001, alice.ID())); code != 200 {
		t.Fatalf("after the claim ran out: %d", code)
	}
	waitReplies(t, alice, 1)
	if c, _ := w.stack.Store.ClaimUpdate(9001, "probe", time.Minute); c != storage.UpdateDone {
		t.Fatalf("record after handling: %v", c)
	}
}

// The emulator's own retry: the first delivery times out while the parent
// handles it slowly; the retries find it claimed (409), then done (200).
func TestWebhookEmulatorRetryHandledOnce(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 2, proxy: true,
		emu: emulator.WebhookOptions{Timeout: 300 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}})
	w.waitServing(t)
	alice := w.emu.User(504, "Alice", "alice")
	w.emu.DelayNext("sendMessage", 1, 1200*time.Millisecond)
	alice.Send("/help")
	if err := w.emu.WaitDelivered(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, alice, 1)
	attempts := w.emu.WebhookAttempts()
	if len(attempts) != 1 {
		t.Fatalf("attempts %v", attempts)
	}
	for id, n := range attempts {
		st := w.emu.WebhookStatuses(id)
		if n < 3 || st[0] != 0 || st[len(st)-1] != 200 || !contains(st, http.StatusConflict) {
			t.Fatalf("update %d: %d attempts, statuses %v (want a timeout, 409s, then 200)", id, n, st)
		}
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Two parents on one bbolt store behind the round-robin proxy get a burst;
// halfway, one parent's listener goes away (the proxy routes around it).
// Every update is handled exactly once.
func TestWebhookBurstTwoParentsExactlyOnce(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 2, proxy: true})
	w.waitServing(t)
	const users, each = 20, 5
	var us []*emulator.User
	for i := range users {
		us = append(us, w.emu.User(int64(600+i), fmt.Sprintf("U%d", i), fmt.Sprintf("u%d", i)))
	}
	for round := range each {
		for _, u := range us {
			u.Send("/help")
		}
		if round == 2 {
			if err := w.emu.WaitDelivered(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			w.bots[1].srv.Close() // connection refused from now on
		}
	}
	if err := w.emu.WaitDelivered(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		waitReplies(t, u, each)
	}
	st := w.emu.WebhookStats()
	if st.Delivered != users*each || st.GaveUp != 0 {
		t.Fatalf("emulator: %+v", st)
	}
	c := w.proxy.Counts()
	if c[0].Forwarded == 0 || c[1].Forwarded == 0 || c[1].Refused == 0 {
		t.Fatalf("proxy counts %+v", c)
	}
	t.Logf("proxy %+v; emulator %+v", c, st)
}

// lossyStore is the real store for one parent whose renewals fail: that
// parent lost the store mid-handling (a partition, a stall).
type lossyStore struct {
	*bolt.DB
	mu     sync.Mutex
	claims int
}

func (s *lossyStore) ClaimUpdate(id int64, holder string, ttl time.Duration) (storage.UpdateClaim, error) {
	s.mu.Lock()
	s.claims++
	n := s.claims
	s.mu.Unlock()
	if n > 1 {
		return 0, errors.New("store unreachable")
	}
	return s.DB.ClaimUpdate(id, holder, ttl)
}

// A slow parent keeps its claim by renewing it; the other parent answers
// 409 meanwhile. A parent that cannot renew loses the claim when it runs
// out: the other parent takes the update over and it is handled twice;
// the slow parent's FinishUpdate is refused (docs/threat-model.md).
func TestWebhookSlowParentClaim(t *testing.T) {
	t.Run("renewed", func(t *testing.T) {
		w := newHookWorld(t, hookOptions{instances: 2, cfg: bot.WebhookConfig{ClaimTTL: 300 * time.Millisecond, HandleTimeout: 200 * time.Millisecond, UpdateDeadline: 10 * time.Second}})
		w.waitServing(t)
		alice := w.emu.User(701, "Alice", "alice")
		a, b := w.bots[0].srv.URL+hookPath, w.bots[1].srv.URL+hookPath
		w.emu.DelayNext("sendMessage", 1, 1200*time.Millisecond)
		if code, _ := post(t, a, hookSecret, helpUpdate(9101, alice.ID())); code != http.StatusServiceUnavailable {
			t.Fatalf("slow handling: %d, want 503 after HandleTimeout", code)
		}
		time.Sleep(500 * time.Millisecond) // past the claim's first TTL
		if code, _ := post(t, b, hookSecret, helpUpdate(9101, alice.ID())); code != http.StatusConflict {
			t.Fatalf("other parent during a renewed claim: %d, want 409", code)
		}
		waitReplies(t, alice, 1)
		if code, _ := post(t, b, hookSecret, helpUpdate(9101, alice.ID())); code != 200 {
			t.Fatalf("after handling: %d", code)
		}
		waitReplies(t, alice, 1)
	})
	t.Run("lost", func(t *testing.T) {
		w := newHookWorld(t, hookOptions{instances: 2,
			cfg: bot.WebhookConfig{ClaimTTL: 300 * time.Millisecond, HandleTimeout: 200 * time.Millisecond, UpdateDeadline: 10 * time.Second},
			store: func(name string, s *bolt.DB) bot.UpdateStore {
				if name == "parent-a" {
					return &lossyStore{DB: s}
				}
				return s
			}})
		w.waitServing(t)
		alice := w.emu.User(702, "Alice", "alice")
		a, b := w.bots[0].srv.URL+hookPath, w.bots[1].srv.URL+hookPath
		w.emu.DelayNext("sendMessage", 1, 1200*time.Millisecond)
		if code, _ := post(t, a, hookSecret, helpUpdate(9102, alice.ID())); code != http.StatusServiceUnavailable {
			t.Fatalf("slow handling: %d", code)
		}
		time.Sleep(400 * time.Millisecond) // the claim ran out unrenewed
		if code, _ := post(t, b, hookSecret, helpUpdate(9102, alice.ID())); code != 200 {
			t.Fatalf("take-over: %d, want 200", code)
		}
		waitReplies(t, alice, 2) // handled twice: the documented cost of a lost claim
		// The record is parent-b's and done; parent-a's late FinishUpdate
		// found it done (a no-op) or held by parent-b (refused, logged).
		if c, _ := w.stack.Store.ClaimUpdate(9102, "probe", time.Minute); c != storage.UpdateDone {
			t.Fatalf("record: %v", c)
		}
		if err := w.stack.Store.FinishUpdate(9102, "parent-a"); err != nil {
			t.Fatalf("finishing a finished update is a no-op, got %v", err)
		}
	})
}

// A parent stopping mid-handling does not acknowledge the update (503) nor
// finish it; after its claim runs out another parent handles it, once.
func TestWebhookStopMidHandlingLeavesUpdateToRetry(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 2, cfg: bot.WebhookConfig{ClaimTTL: 3 * time.Second}})
	w.waitServing(t)
	alice := w.emu.User(703, "Alice", "alice")
	a, b := w.bots[0].srv.URL+hookPath, w.bots[1].srv.URL+hookPath
	w.emu.DelayNext("sendMessage", 1, 5*time.Second)
	first := make(chan int, 1)
	go func() { code, _ := post(t, a, hookSecret, helpUpdate(9201, alice.ID())); first <- code }()
	time.Sleep(300 * time.Millisecond)
	w.bots[0].stop()
	if code := <-first; code != http.StatusServiceUnavailable {
		t.Fatalf("stopping parent answered %d, want 503", code)
	}
	if code, _ := post(t, b, hookSecret, helpUpdate(9201, alice.ID())); code != http.StatusConflict {
		t.Fatalf("while the stopped parent's claim holds: %d, want 409", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := post(t, b, hookSecret, helpUpdate(9201, alice.ID()))
		if code == 200 {
			break
		}
		if code != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("retry: %d", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitReplies(t, alice, 1)
}

// The webhook's own cost per update, beside the handling: the secret check,
// decoding, the claim and the finish (two bbolt write transactions, each an
// fsync), with an update no handler acts on (a callback query with unknown
// data and no message). "duplicate" is a retry of a handled update: the
// secret, decoding and one read-and-answer from the store.
func BenchmarkWebhookUpdate(b *testing.B) {
	w := newHookWorld(b, hookOptions{instances: 1})
	w.waitServing(b)
	h := w.bots[0].bot.WebhookHandler()
	body := func(id int64) string {
		return fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":"%d","from":{"id":1,"is_bot":false,"first_name":"A"},"chat_instance":"1","data":"zz:none"}}`, id, id)
	}
	serve := func(b *testing.B, id int64) {
		r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(body(id)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(bot.SecretHeader, hookSecret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 200 {
			b.Fatalf("update %d: %d", id, rec.Code)
		}
	}
	next := int64(1_000_000)
	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			next++
			serve(b, next)
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		for b.Loop() {
			serve(b, next)
		}
	})
}

// awayStore is the real store, with the database "away" on demand: the
// reads the /start handler and the user middleware make fail with
// storage.ErrUnavailable, as the PostgreSQL engine's do while its server
// restarts (internal/cluster's TestPostgresRestartDuringTraffic plays the
// real restart).
type awayStore struct {
	*bolt.DB
	users, wallets atomic.Bool
}

func (s *awayStore) User(id int64) (storage.User, error) {
	if s.users.Load() {
		return storage.User{}, fmt.Errorf("test: %w", storage.ErrUnavailable)
	}
	return s.DB.User(id)
}

func (s *awayStore) UpsertUser(u storage.User) (storage.User, error) {
	if s.users.Load() {
		return storage.User{}, fmt.Errorf("test: %w", storage.ErrUnavailable)
	}
	return s.DB.UpsertUser(u)
}

func (s *awayStore) WalletByOwner(owner int64) (storage.Wallet, error) {
	if s.wallets.Load() {
		return storage.Wallet{}, fmt.Errorf("test: %w", storage.ErrUnavailable)
	}
	return s.DB.WalletByOwner(owner)
}

// TestWebhookStoreAwayLeftToRetry: an update whose handling meets the store
// unavailable (in the /start handler, then in the user middleware before
// any handler) gets no reply and a 503, so the emulator (Telegram)
// delivers it again; once the store is back the redelivery is handled
// once: one greeting, no error reply. (In long polling there is no
// redelivery, and the user gets the error reply, as before.)
func TestWebhookStoreAwayLeftToRetry(t *testing.T) {
	away := &awayStore{}
	w := servingOver(t, func(db *bolt.DB) storage.Store {
		away.DB = db
		return away
	})
	for i, phase := range []struct {
		name string
		flag *atomic.Bool
	}{{"handler", &away.wallets}, {"middleware", &away.users}} {
		u := w.emu.User(int64(801+i), "Ann", "ann")
		before := w.emu.WebhookStats().Status[http.StatusServiceUnavailable]
		phase.flag.Store(true)
		u.Send("/start")
		deadline := time.Now().Add(20 * time.Second)
		for w.emu.WebhookStats().Status[http.StatusServiceUnavailable] < before+3 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no 503 while the store is away: %+v", phase.name, w.emu.WebhookStats())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := botReplies(u); n != 0 {
			t.Fatalf("%s: %d replies while the store is away, want none: %+v", phase.name, n, u.Messages())
		}
		phase.flag.Store(false)
		waitReplies(t, u, 1)
		if m := u.Messages(); len(m[len(m)-1].Buttons) == 0 || m[len(m)-1].Buttons[0][0].Text != "Create wallet" {
			t.Fatalf("%s: the reply is not the greeting: %+v", phase.name, m[len(m)-1])
		}
		for _, m := range u.Messages() {
			if strings.Contains(m.Text, "went wrong") {
				t.Fatalf("%s: error reply %q", phase.name, m.Text)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.emu.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	if s := w.emu.WebhookStats(); s.GaveUp != 0 {
		t.Fatalf("the emulator gave up on updates: %+v", s)
	}
}
