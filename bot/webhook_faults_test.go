package bot_test

// Faults of the webhook intake (docs/bot.md, "Webhook"; docs/threat-model.md
// "Issue 11: webhooks"): a panicking handler, a stuck one, a stop racing a
// finished handling, and a poller switching the webhook off.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// initDataText stands for what a user may send: it must never reach a log.
const initDataText = "query_id=AAHdF6IQ&user=%7B%22id%22%3A1%7D&auth_date=1&hash=c501b71e"

// textUpdate is a private message update of text from user uid.
func textUpdate(id, uid int64, text string) string {
	q, _ := json.Marshal(text)
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"U"},`+
		`"chat":{"id":%d,"type":"private","first_name":"U"},"date":1750000000,"text":%s}}`, id, id%1000+1, uid, uid, q)
}

// counterValue is the value of a counter of m with the given labels.
func counterValue(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, c := range mf.GetMetric() {
			for _, l := range c.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			return c.GetCounter().GetValue()
		}
	}
	return 0
}

// waitDone waits until the store has update id finished. A probe claim
// that succeeds means the update was neither done nor held: a failure.
func waitDone(t *testing.T, s *bolt.DB, id int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := s.ClaimUpdate(id, "probe", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c == storage.UpdateDone:
			return
		case c == storage.UpdateClaimed:
			t.Fatalf("update %d was left unclaimed and unfinished", id)
		case time.Now().After(deadline):
			t.Fatalf("update %d: %v, want done", id, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A panicking handler does not take the parent down: the panic is
// recovered, counted and logged by update_id only, the update is finished
// and answered 200, so no other parent gets it again; the parent goes on
// serving.
func TestWebhookPanicDroppedOnce(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 2})
	w.waitServing(t)
	var calls atomic.Int32
	for _, hb := range w.bots {
		hb.bot.HandleText(initDataText, func(context.Context) {
			calls.Add(1)
			panic("poison update: " + initDataText)
		})
	}
	alice := w.emu.User(801, "Alice", "alice")
	a, b := w.bots[0].srv.URL+hookPath, w.bots[1].srv.URL+hookPath
	if code, _ := post(t, a, hookSecret, textUpdate(9301, alice.ID(), initDataText)); code != 200 {
		t.Fatalf("poison update: %d, want 200 (dropped once)", code)
	}
	waitDone(t, w.stack.Store, 9301)
	if code, _ := post(t, b, hookSecret, textUpdate(9301, alice.ID(), initDataText)); code != 200 {
		t.Fatalf("retry to the other parent: %d, want 200", code)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("poison update handled %d times, want 1", n)
	}
	if n := counterValue(t, w.bots[0].m, "autowallet_telegram_updates_dropped_total", map[string]string{"reason": "panic"}); n != 1 {
		t.Fatalf("dropped{panic} = %v, want 1", n)
	}
	logs := w.bots[0].logs.String()
	if !strings.Contains(logs, "panicked") || !strings.Contains(logs, "update_id=9301") {
		t.Fatalf("the panic is not logged by update_id:\n%s", logs)
	}
	if strings.Contains(logs, "query_id") || strings.Contains(logs, "poison update") {
		t.Fatalf("the log quotes the update or the panic value:\n%s", logs)
	}
	// Still alive and serving.
	if code, _ := post(t, a, hookSecret, helpUpdate(9302, alice.ID())); code != 200 {
		t.Fatalf("after the panic: %d", code)
	}
	waitReplies(t, alice, 1)
}

// In polling mode a panicking handler does not end the process either.
func TestPollingPanicKeepsRunning(t *testing.T) {
	svc, chain, enc := newService(t)
	emu, err := emulator.New(emulator.Config{BotToken: testToken, BotUsername: "test_wallet_bot", MiniAppShortName: "wallet",
		MiniAppURL: "http://127.0.0.1/miniapp/", SigningKey: enc.Key})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	emu.Register(mux)
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	b := runBot(t, svc, api.URL, chain, emu.Close)
	var calls atomic.Int32
	b.HandleText(initDataText, func(context.Context) { calls.Add(1); panic("poison") })
	alice := emu.User(802, "Alice", "alice")
	alice.Send(initDataText)
	alice.Send("/help")
	waitReplies(t, alice, 1)
	if calls.Load() != 1 {
		t.Fatalf("poison update handled %d times", calls.Load())
	}
}

// A handler stuck past the update's deadline has its context cancelled;
// the update is dropped (finished, counted, logged by update_id) instead
// of being held and renewed for good, and no parent handles it again.
func TestWebhookUpdateDeadline(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 2,
		cfg: bot.WebhookConfig{ClaimTTL: 300 * time.Millisecond, HandleTimeout: 100 * time.Millisecond, UpdateDeadline: 700 * time.Millisecond}})
	w.waitServing(t)
	var calls atomic.Int32
	ended := make(chan error, 2)
	for _, hb := range w.bots {
		hb.bot.HandleText("hang", func(ctx context.Context) {
			calls.Add(1)
			<-ctx.Done()
			ended <- context.Cause(ctx)
		})
	}
	alice := w.emu.User(803, "Alice", "alice")
	a, b := w.bots[0].srv.URL+hookPath, w.bots[1].srv.URL+hookPath
	if code, _ := post(t, a, hookSecret, textUpdate(9401, alice.ID(), "hang")); code != http.StatusServiceUnavailable {
		t.Fatalf("stuck handling: %d, want 503 after HandleTimeout", code)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, bot.ErrUpdateDeadline) {
			t.Fatalf("handler context ended with %v, want the deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck handler's context was never cancelled")
	}
	waitDone(t, w.stack.Store, 9401)
	if code, _ := post(t, b, hookSecret, textUpdate(9401, alice.ID(), "hang")); code != 200 {
		t.Fatalf("retry after the deadline: %d, want 200 (dropped)", code)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("stuck update handled %d times, want 1", n)
	}
	if n := counterValue(t, w.bots[0].m, "autowallet_telegram_updates_dropped_total", map[string]string{"reason": "deadline"}); n != 1 {
		t.Fatalf("dropped{deadline} = %v, want 1", n)
	}
	if logs := w.bots[0].logs.String(); !strings.Contains(logs, "deadline") || !strings.Contains(logs, "update_id=9401") {
		t.Fatalf("the deadline is not logged by update_id:\n%s", logs)
	}
}

// A stop that comes after the handler returned does not leave the update
// unfinished: it was handled, so it is finished and answered 200, and no
// other parent handles it a second time.
func TestWebhookStopAfterHandlerReturnedFinishes(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 2})
	w.waitServing(t)
	alice := w.emu.User(804, "Alice", "alice")
	a, b := w.bots[0].srv.URL+hookPath, w.bots[1].srv.URL+hookPath
	var once sync.Once
	restore := bot.SetAfterHandled(func() { once.Do(w.bots[0].stop) })
	defer restore()
	if code, _ := post(t, a, hookSecret, helpUpdate(9501, alice.ID())); code != 200 {
		t.Fatalf("handled, then stopped: %d, want 200", code)
	}
	restore()
	waitDone(t, w.stack.Store, 9501)
	if code, _ := post(t, b, hookSecret, helpUpdate(9501, alice.ID())); code != 200 {
		t.Fatalf("retry to the other parent: %d", code)
	}
	waitReplies(t, alice, 1)
}

// emuAPI calls a Bot API method on the emulator.
func emuAPI(t *testing.T, apiURL, method string, form url.Values) json.RawMessage {
	t.Helper()
	resp, err := http.PostForm(apiURL+"/bot"+testToken+"/"+method, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || !r.OK {
		t.Fatalf("%s: %v, ok=%v", method, err, r.OK)
	}
	return r.Result
}

func webhookURL(t *testing.T, apiURL string) string {
	t.Helper()
	var info struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(emuAPI(t, apiURL, "getWebhookInfo", nil), &info); err != nil {
		t.Fatal(err)
	}
	return info.URL
}

func waitWebhookURL(t *testing.T, apiURL, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for webhookURL(t, apiURL) != want {
		if time.Now().After(deadline) {
			t.Fatalf("webhook URL never became %q", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A webhook parent finds its webhook deleted (another process polled with
// the token) at its next check and sets it again, counted and logged; the
// updates reach it again.
func TestWebhookSetAgainWhenDeleted(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 1, check: 100 * time.Millisecond})
	w.waitServing(t)
	waitWebhookURL(t, w.api.URL, w.hookURL())
	emuAPI(t, w.api.URL, "deleteWebhook", nil)
	waitWebhookURL(t, w.api.URL, w.hookURL())
	if n := counterValue(t, w.bots[0].m, "autowallet_telegram_webhook_resets_total", nil); n < 1 {
		t.Fatalf("webhook resets = %v, want >= 1", n)
	}
	if logs := w.bots[0].logs.String(); !strings.Contains(logs, "setting it again") || strings.Contains(logs, w.hookURL()) {
		t.Fatalf("reset not logged, or the URL quoted:\n%s", logs)
	}
	alice := w.emu.User(805, "Alice", "alice")
	alice.Send("/help")
	waitReplies(t, alice, 1)
}

// runPoller runs a long-polling bot against the world's emulator until the
// test ends, logging to logs.
func runPoller(t *testing.T, w *hookWorld, drop bool, logs *syncBuffer) {
	t.Helper()
	b, err := bot.New(bot.Config{Token: testToken, APIURL: w.api.URL, MiniAppLink: testMiniApp, DropWebhook: drop,
		WebhookCheck: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(logs, nil))}, w.stack.Service)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// A parent started in polling mode by mistake does not switch off the
// webhook parents: without DropWebhook it leaves the webhook set and waits;
// with it (autowallet parent -drop-webhook) it deletes it.
func TestPollingLeavesWebhookAlone(t *testing.T) {
	w := newHookWorld(t, hookOptions{instances: 1})
	w.waitServing(t)
	waitWebhookURL(t, w.api.URL, w.hookURL())
	logs := &syncBuffer{}
	runPoller(t, w, false, logs)
	time.Sleep(500 * time.Millisecond) // ten of the poller's checks
	if got := webhookURL(t, w.api.URL); got != w.hookURL() {
		t.Fatalf("a poller deleted the webhook (now %q)", got)
	}
	if !strings.Contains(logs.String(), "not polling") {
		t.Fatalf("the poller did not say why it waits:\n%s", logs)
	}
	alice := w.emu.User(806, "Alice", "alice")
	alice.Send("/help")
	waitReplies(t, alice, 1)
	if n := counterValue(t, w.bots[0].m, "autowallet_telegram_updates_total", map[string]string{"kind": "command"}); n != 1 {
		t.Fatalf("webhook parent took %v updates, want 1", n)
	}

	runPoller(t, w, true, &syncBuffer{})
	waitWebhookURL(t, w.api.URL, "")
}
