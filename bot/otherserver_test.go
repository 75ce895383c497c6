package bot_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// botAPI is a second, minimal Bot API server written only for this test, so
// the bot is not tuned to the emulator: it speaks the documented wire format
// (https://core.telegram.org/bots/api) and records what the bot sends.
type botAPI struct {
	t       *testing.T
	updates chan map[string]any
	mu      sync.Mutex
	calls   []botCall
	nextID  int
}

type botCall struct {
	method string
	params map[string]string
}

func newBotAPI(t *testing.T) (*botAPI, *httptest.Server) {
	a := &botAPI{t: t, updates: make(chan map[string]any, 16), nextID: 100}
	srv := httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(srv.Close)
	return a, srv
}

func (a *botAPI) serve(w http.ResponseWriter, r *http.Request) {
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !ok || token != testToken {
		reply(w, 401, map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	params := map[string]string{}
	if err := r.ParseMultipartForm(1 << 20); err == nil {
		for k, v := range r.MultipartForm.Value {
			params[k] = v[0]
		}
		for k := range r.MultipartForm.File {
			params[k] = "<file>"
		}
	} else if err := r.ParseForm(); err == nil {
		for k, v := range r.Form {
			params[k] = v[0]
		}
	}
	a.mu.Lock()
	a.calls = append(a.calls, botCall{method, params})
	a.nextID++
	id := a.nextID
	a.mu.Unlock()
	switch method {
	case "getMe":
		reply(w, 200, ok200(map[string]any{"id": 4242, "is_bot": true, "first_name": "Other", "username": "other_bot"}))
	case "setMyCommands", "answerCallbackQuery", "deleteWebhook":
		reply(w, 200, ok200(true))
	case "getUpdates":
		select {
		case u := <-a.updates:
			reply(w, 200, ok200([]any{u}))
		case <-time.After(2 * time.Second):
			reply(w, 200, ok200([]any{}))
		case <-r.Context().Done():
		}
	case "sendMessage", "sendPhoto":
		msg := map[string]any{"message_id": id, "date": time.Now().Unix(), "chat": map[string]any{"id": 9, "type": "private"}}
		if method == "sendPhoto" {
			msg["photo"] = []any{map[string]any{"file_id": "p1", "file_unique_id": "u1", "width": 384, "height": 384}}
		}
		reply(w, 200, ok200(msg))
	default:
		reply(w, 404, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
	}
}

func ok200(result any) map[string]any { return map[string]any{"ok": true, "result": result} }

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// waitCall waits (bounded) for a call of method and returns its params.
func (a *botAPI) waitCall(method string, after int) (botCall, int) {
	a.t.Helper()
	for range 300 {
		a.mu.Lock()
		for i := after; i < len(a.calls); i++ {
			if a.calls[i].method == method {
				c := a.calls[i]
				a.mu.Unlock()
				return c, i + 1
			}
		}
		a.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	a.t.Fatalf("the bot never called %s", method)
	return botCall{}, 0
}

// TestBotAgainstAnotherBotAPIServer: /start and the Create wallet button
// work against a Bot API server that is not the emulator.
func TestBotAgainstAnotherBotAPIServer(t *testing.T) {
	svc, _, _ := newService(t)
	api, srv := newBotAPI(t)
	runBot(t, svc, srv.URL, nil, func() {})

	from := map[string]any{"id": 9, "is_bot": false, "first_name": "Carol", "username": "carol"}
	chat := map[string]any{"id": 9, "type": "private"}
	api.updates <- map[string]any{"update_id": 1, "message": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "chat": chat, "from": from, "text": "/start",
		"entities": []any{map[string]any{"type": "bot_command", "offset": 0, "length": 6}},
	}}
	greeting, n := api.waitCall("sendMessage", 0)
	if !strings.Contains(greeting.params["text"], "Hi Carol") || !strings.Contains(greeting.params["reply_markup"], `"callback_data":"w:create"`) {
		t.Fatalf("greeting = %+v", greeting.params)
	}
	if greeting.params["chat_id"] != "9" || greeting.params["parse_mode"] != "HTML" {
		t.Fatalf("greeting params = %+v", greeting.params)
	}

	api.updates <- map[string]any{"update_id": 2, "callback_query": map[string]any{
		"id": "cq1", "from": from, "chat_instance": "1", "data": "w:create",
		"message": map[string]any{"message_id": 101, "date": time.Now().Unix(), "chat": chat, "text": "Hi"},
	}}
	answer, n := api.waitCall("answerCallbackQuery", n)
	if answer.params["callback_query_id"] != "cq1" {
		t.Fatalf("answerCallbackQuery = %+v", answer.params)
	}
	card, _ := api.waitCall("sendPhoto", n)
	w, err := svc.Wallet(9)
	if err != nil {
		t.Fatal(err)
	}
	if card.params["photo"] != "<file>" || !strings.Contains(card.params["caption"], w.Address.Hex()) {
		t.Fatalf("wallet card = %+v", card.params)
	}
	// The callback was answered before the wallet card was sent.
	api.mu.Lock()
	defer api.mu.Unlock()
	var order []string
	for _, c := range api.calls {
		if c.method == "answerCallbackQuery" || c.method == "sendPhoto" {
			order = append(order, c.method)
		}
	}
	if strings.Join(order, ",") != "answerCallbackQuery,sendPhoto" {
		t.Fatalf("call order = %v", order)
	}
}
