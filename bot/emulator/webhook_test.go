package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/bot/emulator"
)

// hookEnv is the emulator with fast retries and a webhook receiver whose
// answer a test decides.
type hookEnv struct {
	e   *emulator.Emulator
	api string // emulator base URL
	b   *bot.Bot

	mu      sync.Mutex
	got     []models.Update
	secrets []string
	answer  func(u models.Update, n int) int // n: how often this update arrived
	seen    map[int64]int
	active  map[int64]int // chat -> deliveries in flight
	overlap bool          // two deliveries of one chat were in flight at once
	hook    *httptest.Server
}

func newHookEnv(t *testing.T, opts emulator.WebhookOptions) *hookEnv {
	t.Helper()
	e, err := emulator.New(emulator.Config{BotToken: token, BotUsername: botName, MiniAppShortName: appShort,
		MiniAppURL: "http://127.0.0.1:8080/miniapp/", Webhook: opts})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	h := &hookEnv{e: e, api: srv.URL, seen: map[int64]int{}, active: map[int64]int{},
		answer: func(models.Update, int) int { return 200 }}
	h.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u models.Update
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &u); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(400)
			return
		}
		chat := u.Message.Chat.ID
		h.mu.Lock()
		h.seen[u.ID]++
		n := h.seen[u.ID]
		h.secrets = append(h.secrets, r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
		h.active[chat]++
		h.overlap = h.overlap || h.active[chat] > 1
		answer := h.answer
		h.mu.Unlock()
		time.Sleep(2 * time.Millisecond) // let a wrongly concurrent delivery of the chat overlap
		code := answer(u, n)
		h.mu.Lock()
		h.active[chat]--
		if code == 200 {
			h.got = append(h.got, u)
		}
		h.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(func() { e.Close(); h.hook.Close(); srv.Close() })
	h.b, err = bot.New(token, bot.WithServerURL(srv.URL), bot.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *hookEnv) set(t *testing.T, p *bot.SetWebhookParams) {
	t.Helper()
	if p.URL == "" {
		p.URL = h.hook.URL + "/tg"
	}
	if _, err := h.b.SetWebhook(ctxT(t), p); err != nil {
		t.Fatalf("setWebhook: %v", err)
	}
}

func TestWebhookDeliversInOrderPerChatWithSecret(t *testing.T) {
	h := newHookEnv(t, emulator.WebhookOptions{})
	h.set(t, &bot.SetWebhookParams{SecretToken: "s3cret_-Z", MaxConnections: 5})
	users := []*emulator.User{h.e.User(1, "A", "a"), h.e.User(2, "B", "b"), h.e.User(3, "C", "c")}
	for i := range 10 {
		for _, u := range users {
			u.Send("/m" + string(rune('0'+i)))
		}
	}
	if err := h.e.WaitDelivered(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) != 30 || h.overlap {
		t.Fatalf("got %d updates, overlap within a chat %v", len(h.got), h.overlap)
	}
	last := map[int64]int64{}
	for _, u := range h.got {
		if u.ID <= last[u.Message.Chat.ID] {
			t.Fatalf("chat %d: update %d after %d", u.Message.Chat.ID, u.ID, last[u.Message.Chat.ID])
		}
		last[u.Message.Chat.ID] = u.ID
	}
	for _, s := range h.secrets {
		if s != "s3cret_-Z" {
			t.Fatalf("secret header %q", s)
		}
	}
	st := h.e.WebhookStats()
	if st.Attempts != 30 || st.Delivered != 30 || st.Retries != 0 || st.Status[200] != 30 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWebhookRetriesUntilAccepted(t *testing.T) {
	h := newHookEnv(t, emulator.WebhookOptions{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	h.answer = func(_ models.Update, n int) int {
		if n <= 3 {
			return []int{503, 500, 401}[n-1]
		}
		return 200
	}
	h.set(t, &bot.SetWebhookParams{})
	alice, bob := h.e.User(1, "A", "a"), h.e.User(2, "B", "b")
	alice.Send("first")
	alice.Send("second")
	bob.Send("other")
	if err := h.e.WaitDelivered(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	st := h.e.WebhookStats()
	if st.Attempts != 12 || st.Retries != 9 || st.Delivered != 3 || st.Failed != 9 || st.Status[503] != 3 {
		t.Fatalf("stats %+v", st)
	}
	for id, n := range h.e.WebhookAttempts() {
		if n != 4 {
			t.Fatalf("update %d posted %d times, want 4", id, n)
		}
		if got := h.e.WebhookStatuses(id); len(got) != 4 || got[0] != 503 || got[3] != 200 {
			t.Fatalf("update %d statuses %v", id, got)
		}
	}
	// Alice's second message waited for her first one.
	h.mu.Lock()
	var texts []string
	for _, u := range h.got {
		if u.Message.Chat.ID == 1 {
			texts = append(texts, u.Message.Text)
		}
	}
	h.mu.Unlock()
	if strings.Join(texts, ",") != "first,second" {
		t.Fatalf("alice's order %v", texts)
	}
	info, err := h.b.GetWebhookInfo(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.LastErrorMessage != "Wrong response from the webhook: 401 Unauthorized" || info.LastErrorDate == 0 || info.PendingUpdateCount != 0 || info.URL != h.hook.URL+"/tg" || info.MaxConnections != 40 {
		t.Fatalf("getWebhookInfo %+v", info)
	}
}

func TestWebhookRefusedConnectionAndGiveUp(t *testing.T) {
	h := newHookEnv(t, emulator.WebhookOptions{RetryMin: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond, GiveUp: 150 * time.Millisecond})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/tg"
	l.Close()
	h.set(t, &bot.SetWebhookParams{URL: dead})
	h.e.User(1, "A", "a").Send("lost")
	if err := h.e.WaitDelivered(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	st := h.e.WebhookStats()
	if st.GaveUp != 1 || st.Delivered != 0 || st.Attempts < 3 || st.Attempts > 40 {
		t.Fatalf("stats %+v", st)
	}
	info, err := h.b.GetWebhookInfo(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.LastErrorMessage != "Connection refused" || info.PendingUpdateCount != 0 {
		t.Fatalf("getWebhookInfo %+v", info)
	}
}

func TestWebhookTimeoutIsAFailedDelivery(t *testing.T) {
	h := newHookEnv(t, emulator.WebhookOptions{Timeout: 50 * time.Millisecond, RetryMin: 5 * time.Millisecond})
	h.answer = func(_ models.Update, n int) int {
		if n == 1 {
			time.Sleep(200 * time.Millisecond)
		}
		return 200
	}
	h.set(t, &bot.SetWebhookParams{})
	h.e.User(1, "A", "a").Send("slow")
	if err := h.e.WaitDelivered(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for id, n := range h.e.WebhookAttempts() {
		if st := h.e.WebhookStatuses(id); n != 2 || st[0] != 0 || st[1] != 200 {
			t.Fatalf("update %d: %d attempts, statuses %v", id, n, st)
		}
	}
	info, _ := h.b.GetWebhookInfo(ctxT(t))
	if info.LastErrorMessage != "Read timeout expired" {
		t.Fatalf("last error %q", info.LastErrorMessage)
	}
}

func TestWebhookConflictsWithGetUpdates(t *testing.T) {
	h := newHookEnv(t, emulator.WebhookOptions{})
	// A getUpdates waiting when setWebhook comes ends with 409.
	waiting := make(chan error, 1)
	go func() {
		_, err := h.rawCall(t, "getUpdates", `{"timeout":20}`)
		waiting <- err
	}()
	time.Sleep(100 * time.Millisecond)
	h.set(t, &bot.SetWebhookParams{})
	if err := <-waiting; err == nil || !strings.Contains(err.Error(), "409 Conflict: terminated by setWebhook request") {
		t.Fatalf("waiting getUpdates: %v", err)
	}
	_, err := h.rawCall(t, "getUpdates", `{}`)
	if err == nil || !strings.Contains(err.Error(), "409 Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first") {
		t.Fatalf("getUpdates with a webhook: %v", err)
	}
	// deleteWebhook: pending updates go back to getUpdates.
	if _, err := h.b.DeleteWebhook(ctxT(t), &bot.DeleteWebhookParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.rawCall(t, "getUpdates", `{}`); err != nil {
		t.Fatalf("getUpdates after deleteWebhook: %v", err)
	}
	info, _ := h.b.GetWebhookInfo(ctxT(t))
	if info.URL != "" {
		t.Fatalf("url after delete %q", info.URL)
	}
}

func TestSetWebhookRefusals(t *testing.T) {
	h := newHookEnv(t, emulator.WebhookOptions{})
	for _, c := range []struct{ body, want string }{
		{`{"url":"ftp://127.0.0.1/x"}`, "An HTTPS URL must be provided for webhook"},
		{`{"url":"https://example.com/x"}`, "loopback"},
		{`{"url":"http://127.0.0.1/x","secret_token":"bad secret!"}`, "secret token contains unallowed characters"},
		{`{"url":"http://127.0.0.1/x","secret_token":"` + strings.Repeat("a", 257) + `"}`, "secret token is too long"},
		{`{"url":"http://127.0.0.1/x","allowed_updates":"nope"}`, "can't parse allowed updates"},
	} {
		_, err := h.rawCall(t, "setWebhook", c.body)
		if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want 400 %q", c.body, err, c.want)
		}
	}
	info, _ := h.b.GetWebhookInfo(ctxT(t))
	if info.URL != "" {
		t.Fatalf("a refused setWebhook set %q", info.URL)
	}
}

func TestWebhookAllowedUpdatesAndDrop(t *testing.T) {
	h := newHookEnv(t, emulator.WebhookOptions{})
	a := h.e.User(1, "A", "a")
	a.Send("before") // pending, dropped by drop_pending_updates
	h.set(t, &bot.SetWebhookParams{AllowedUpdates: []string{"callback_query"}, DropPendingUpdates: true})
	a.Send("not wanted")
	if err := h.e.WaitDelivered(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if st := h.e.WebhookStats(); st.Attempts != 0 {
		t.Fatalf("unwanted updates posted: %+v", st)
	}
}

// rawCall posts a JSON body to a Bot API method and returns the reply's
// error as "<code> <description>".
func (h *hookEnv) rawCall(t *testing.T, method, body string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", h.api+"/bot"+token+"/"+method, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if !r.OK {
		return nil, fmt.Errorf("%d %s", r.ErrorCode, r.Description)
	}
	return r.Result, nil
}

func TestWebhookMaxConnections(t *testing.T) {
	h := newHookEnv(t, emulator.WebhookOptions{})
	var mu sync.Mutex
	inFlight, peak := 0, 0
	h.answer = func(models.Update, int) int {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return 200
	}
	h.set(t, &bot.SetWebhookParams{MaxConnections: 2})
	for i := range 8 {
		h.e.User(int64(10+i), "U", "").Send("hi")
	}
	if err := h.e.WaitDelivered(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if peak != 2 {
		t.Fatalf("peak deliveries in flight %d, want max_connections 2", peak)
	}
	info, _ := h.b.GetWebhookInfo(ctxT(t))
	if info.MaxConnections != 2 {
		t.Fatalf("max_connections %d", info.MaxConnections)
	}
}
