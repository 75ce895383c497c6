package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/bot/emulator"
)

func get(t *testing.T, url string) (string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return string(b), resp.Header
}

// TestChatPageIsSelfContained fetches the page and every asset it names and
// checks that nothing refers to another origin.
func TestChatPageIsSelfContained(t *testing.T) {
	env := newEnv(t)
	page, hdr := get(t, env.srv.URL+"/")
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("CSP = %q", hdr.Get("Content-Security-Policy"))
	}
	for _, id := range []string{`id="messages"`, `id="composer"`, `id="composer-input"`, `id="miniapp-panel"`, `id="user-select"`, `id="toast"`} {
		if !strings.Contains(page, id) {
			t.Errorf("the page has no %s", id)
		}
	}
	assets := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(assets) < 2 {
		t.Fatalf("assets = %v", assets)
	}
	texts := map[string]string{"/": page}
	for _, a := range assets {
		if a[1] == "about:blank" {
			continue
		}
		if !strings.HasPrefix(a[1], "/") || strings.HasPrefix(a[1], "//") {
			t.Fatalf("asset %q is not on this origin", a[1])
		}
		texts[a[1]], _ = get(t, env.srv.URL+a[1])
	}
	// The only absolute URL allowed is the t.me prefix used to turn a Mini
	// App's web_app_open_tg_link path into a link; it is never fetched.
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(`)
	for name, text := range texts {
		for _, m := range external.FindAllString(text, -1) {
			if m != "https://t.me" {
				t.Errorf("%s refers to %q", name, m)
			}
		}
	}
}

func postJSON(t *testing.T, url string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestPageAPI drives the JSON API the chat page uses.
func TestPageAPI(t *testing.T) {
	ctx := ctxT(t)
	link := "https://t.me/" + botName + "/" + appShort + "?startapp=abc"
	env := newEnv(t, bot.WithCallbackQueryDataHandler("ok", bot.MatchTypeExact, func(ctx context.Context, b *bot.Bot, u *models.Update) {
		_, _ = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: "Done", ShowAlert: true})
	}))
	botCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { env.b.Start(botCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	api := env.srv.URL + "/emu/api/"

	var u struct {
		ID int64 `json:"id"`
	}
	if code := postJSON(t, api+"users", map[string]string{"username": "bob"}, &u); code != 200 || u.ID == 0 {
		t.Fatalf("create user: %d", code)
	}
	var again struct {
		ID int64 `json:"id"`
	}
	postJSON(t, api+"users", map[string]string{"username": "bob"}, &again)
	if again.ID != u.ID {
		t.Fatal("the same username made a second user")
	}
	if code := postJSON(t, api+"users", map[string]string{"username": "bad name<"}, nil); code != 400 {
		t.Fatalf("a bad username: %d", code)
	}
	if code := postJSON(t, api+"send", map[string]any{"user": u.ID, "text": "<script>alert(1)</script>"}, nil); code != 200 {
		t.Fatalf("send: %d", code)
	}
	_, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "<i>Pick</i>", ParseMode: models.ParseModeHTML,
		ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
			{{Text: "OK", CallbackData: "ok"}, {Text: "Approve", URL: link}, {Text: "Docs", URL: "https://example.org"}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := get(t, api+"state?user="+jsonNum(u.ID))
	var st struct {
		Version  int64 `json:"version"`
		Messages []struct {
			ID      int             `json:"id"`
			FromBot bool            `json:"from_bot"`
			Tree    json.RawMessage `json:"tree"`
			Buttons [][]struct {
				CallbackData string `json:"callback_data"`
				MiniApp      bool   `json:"miniapp"`
			} `json:"buttons"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Messages) != 2 {
		t.Fatalf("state: %v %s", err, body)
	}
	// The user's text stays text: one text node, never markup.
	if got := string(st.Messages[0].Tree); got != `[{"t":"text","v":"\u003cscript\u003ealert(1)\u003c/script\u003e"}]` {
		t.Fatalf("user message tree = %s", got)
	}
	if got := string(st.Messages[1].Tree); got != `[{"t":"italic","c":[{"t":"text","v":"Pick"}]}]` {
		t.Fatalf("bot message tree = %s", got)
	}
	bs := st.Messages[1].Buttons[0]
	if bs[0].CallbackData != "ok" || !bs[1].MiniApp || bs[2].MiniApp {
		t.Fatalf("buttons = %+v", bs)
	}
	var ans struct {
		Answered  bool   `json:"answered"`
		Text      string `json:"text"`
		ShowAlert bool   `json:"show_alert"`
	}
	if code := postJSON(t, api+"press", map[string]any{"user": u.ID, "message_id": st.Messages[1].ID, "data": "ok"}, &ans); code != 200 ||
		!ans.Answered || ans.Text != "Done" || !ans.ShowAlert {
		t.Fatalf("press: %d %+v", code, ans)
	}
	var open struct {
		LaunchURL string `json:"launch_url"`
		Error     string `json:"error"`
	}
	if postJSON(t, api+"open", map[string]any{"user": u.ID, "url": link}, &open); !strings.HasPrefix(open.LaunchURL, "http://127.0.0.1:8080/miniapp/?tgWebAppStartParam=abc#tgWebAppData=") {
		t.Fatalf("open: %+v", open)
	}
	if code := postJSON(t, api+"open", map[string]any{"user": u.ID, "url": link + "!"}, &open); code != 400 {
		t.Fatalf("an invalid start param opened: %d", code)
	}
	// Long-poll: a change after `since` wakes the request.
	go func() { env.e.User(u.ID, "", "").Send("later") }()
	body, _ = get(t, api+"state?user="+jsonNum(u.ID)+"&since="+jsonNum(st.Version)+"&wait=20")
	if !strings.Contains(body, `"later"`) {
		// The version may have moved for another reason first; wait for the message itself.
		if _, err := env.e.User(u.ID, "", "").WaitMessage(ctx, func(m emulator.Message) bool { return m.Text == "later" }); err != nil {
			t.Fatal(err)
		}
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }
