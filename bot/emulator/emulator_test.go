package emulator_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/protocol"
)

const (
	token    = "7000000001:AAtestTOKENxyz"
	botName  = "autowallet_test_bot"
	appShort = "approve"
)

var fixedNow = time.Unix(1_750_000_000, 0)

type env struct {
	e   *emulator.Emulator
	srv *httptest.Server
	b   *bot.Bot
}

// newEnv starts the emulator on 127.0.0.1 and a go-telegram/bot client on it.
func newEnv(t *testing.T, opts ...bot.Option) *env {
	t.Helper()
	e, err := emulator.New(emulator.Config{
		BotToken: token, BotUsername: botName, BotName: "Autowallet", MiniAppShortName: appShort,
		MiniAppURL: "http://127.0.0.1:8080/miniapp/", Now: func() time.Time { return fixedNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler()) // httptest listens on 127.0.0.1
	t.Cleanup(func() { e.Close(); srv.Close() })
	opts = append([]bot.Option{bot.WithServerURL(srv.URL), bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {})}, opts...)
	b, err := bot.New(token, opts...)
	if err != nil {
		t.Fatalf("bot.New (getMe): %v", err)
	}
	return &env{e: e, srv: srv, b: b}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGetMe(t *testing.T) {
	env := newEnv(t)
	me, err := env.b.GetMe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if me.ID != 7000000001 || !me.IsBot || me.Username != botName || me.FirstName != "Autowallet" {
		t.Fatalf("getMe = %+v", me)
	}
	if env.e.BotID() != 7000000001 {
		t.Fatalf("BotID = %d", env.e.BotID())
	}
}

// TestPollingConversation runs the client's own getUpdates loop: a /start
// command, a reply with an inline keyboard, a callback answered and edited.
func TestPollingConversation(t *testing.T) {
	ctx := ctxT(t)
	link := "https://t.me/" + botName + "/" + appShort + "?startapp=intent_1-A"
	// Handlers run in goroutines and may still be reading a reply when the
	// emulator already shows its effect; the test waits for them to finish.
	handled := make(chan struct{}, 8)
	env := newEnv(t,
		bot.WithMessageTextHandler("start", bot.MatchTypeCommand, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			defer func() { handled <- struct{}{} }()
			_, err := b.SendMessage(ctx, &bot.SendMessageParams{
				ChatID: u.Message.Chat.ID, Text: "Hello, " + u.Message.From.FirstName,
				ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
					{{Text: "Create wallet", CallbackData: "create"}},
					{{Text: "Review", URL: link}},
				}},
			})
			if err != nil {
				t.Errorf("sendMessage: %v", err)
			}
		}),
		bot.WithCallbackQueryDataHandler("create", bot.MatchTypeExact, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			cq := u.CallbackQuery
			defer func() { handled <- struct{}{} }()
			if cq.Message.Message == nil || cq.From.ID != 42 || cq.ChatInstance == "" {
				t.Errorf("callback query = %+v", cq)
				return
			}
			if _, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: cq.ID, Text: "Creating…"}); err != nil {
				t.Errorf("answerCallbackQuery: %v", err)
			}
			if _, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{
				ChatID: cq.Message.Message.Chat.ID, MessageID: cq.Message.Message.ID, Text: "Wallet created",
			}); err != nil {
				t.Errorf("editMessageText: %v", err)
			}
		}))
	botCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { env.b.Start(botCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	alice := env.e.User(42, "Alice", "alice")
	sent := alice.Send("/start")
	reply, err := alice.WaitMessage(ctx, func(m emulator.Message) bool { return m.FromBot && m.ID > sent })
	if err != nil {
		t.Fatal(err)
	}
	if reply.Text != "Hello, Alice" || len(reply.Buttons) != 2 || reply.Buttons[0][0].CallbackData != "create" || reply.Buttons[1][0].URL != link {
		t.Fatalf("reply = %+v", reply)
	}
	answer, err := alice.Press(reply.ID, "create")
	if err != nil || answer != "Creating…" {
		t.Fatalf("Press = %q, %v", answer, err)
	}
	edited, err := alice.WaitMessage(ctx, func(m emulator.Message) bool { return m.ID == reply.ID && m.Edited })
	if err != nil {
		t.Fatal(err)
	}
	if edited.Text != "Wallet created" || len(edited.Buttons) != 0 {
		t.Fatalf("edited = %+v (an edit without reply_markup drops the keyboard)", edited)
	}
	if _, err := alice.Press(reply.ID, "create"); !errors.Is(err, emulator.ErrNoSuchButton) {
		t.Fatalf("press on a removed button: %v", err)
	}
	if _, err := alice.Press(999, "create"); !errors.Is(err, emulator.ErrNoSuchMessage) {
		t.Fatalf("press on a missing message: %v", err)
	}
	for range 2 {
		select {
		case <-handled:
		case <-ctx.Done():
			t.Fatal("handlers did not finish")
		}
	}
}

func tinyPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSendPhotoAndFiles(t *testing.T) {
	env, ctx := newEnv(t), ctxT(t)
	alice := env.e.User(42, "Alice", "alice")
	pngData := tinyPNG(t)
	msg, err := env.b.SendPhoto(ctx, &bot.SendPhotoParams{
		ChatID: alice.ID(), Photo: &models.InputFileUpload{Filename: "qr.png", Data: bytes.NewReader(pngData)},
		Caption: "<b>Your</b> address", ParseMode: models.ParseModeHTML,
		ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Refresh", CallbackData: "r"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Photo) == 0 || msg.Photo[0].Width != 3 || msg.Photo[0].Height != 2 || msg.Caption != "Your address" ||
		len(msg.CaptionEntities) != 1 || msg.CaptionEntities[0].Type != models.MessageEntityTypeBold {
		t.Fatalf("sendPhoto = %+v", msg)
	}
	fileID := msg.Photo[len(msg.Photo)-1].FileID
	f, err := env.b.GetFile(ctx, &bot.GetFileParams{FileID: fileID})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(env.b.FileDownloadLink(f))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, pngData) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(got))
	}
	if b, ok := env.e.File(fileID); !ok || !bytes.Equal(b, pngData) {
		t.Fatal("File() does not return the photo")
	}
	ms := alice.Messages()
	if len(ms) != 1 || ms[0].PhotoFileID != fileID || ms[0].Caption != "Your address" || ms[0].Raw != "<b>Your</b> address" {
		t.Fatalf("messages = %+v", ms)
	}

	// Resend by file_id; caption edits; a caption edit on a text message fails.
	again, err := env.b.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: alice.ID(), Photo: &models.InputFileString{Data: fileID}})
	if err != nil || again.Photo[0].FileID != fileID {
		t.Fatalf("resend by file_id: %+v, %v", again, err)
	}
	ed, err := env.b.EditMessageCaption(ctx, &bot.EditMessageCaptionParams{ChatID: alice.ID(), MessageID: msg.ID, Caption: "Updated"})
	if err != nil || ed.Caption != "Updated" || ed.ReplyMarkup != nil {
		t.Fatalf("editMessageCaption = %+v, %v", ed, err)
	}
	if _, err := env.b.EditMessageCaption(ctx, &bot.EditMessageCaptionParams{ChatID: alice.ID(), MessageID: msg.ID, Caption: "Updated"}); err == nil ||
		!strings.Contains(err.Error(), "message is not modified") {
		t.Fatalf("same caption again: %v", err)
	}
	if _, err := env.b.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: alice.ID(), Photo: &models.InputFileUpload{Filename: "x.png", Data: strings.NewReader("not an image")}}); err == nil {
		t.Fatal("a non-image was accepted as a photo")
	}
	if _, err := env.b.GetFile(ctx, &bot.GetFileParams{FileID: "nope"}); !errors.Is(err, bot.ErrorBadRequest) {
		t.Fatalf("getFile of an unknown id: %v", err)
	}
}

func TestEditsAndErrors(t *testing.T) {
	env, ctx := newEnv(t), ctxT(t)
	alice := env.e.User(42, "Alice", "alice")
	kb := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Cancel", CallbackData: "cancel:1"}}}}
	msg, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: "Send 0.1 ETH?", ReplyMarkup: kb})
	if err != nil {
		t.Fatal(err)
	}
	if msg.ReplyMarkup.InlineKeyboard[0][0].CallbackData != "cancel:1" || msg.Chat.ID != 42 || msg.Chat.Type != "private" {
		t.Fatalf("sendMessage = %+v", msg)
	}
	// Same text and markup: Telegram refuses with "message is not modified".
	_, err = env.b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: alice.ID(), MessageID: msg.ID, Text: "Send 0.1 ETH?", ReplyMarkup: kb})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "Bad Request: message is not modified") {
		t.Fatalf("unchanged edit: %v", err)
	}
	ed, err := env.b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: alice.ID(), MessageID: msg.ID, Text: "Sent", ReplyMarkup: kb})
	if err != nil || ed.Text != "Sent" || ed.EditDate == 0 {
		t.Fatalf("editMessageText = %+v, %v", ed, err)
	}
	ed, err = env.b.EditMessageReplyMarkup(ctx, &bot.EditMessageReplyMarkupParams{ChatID: alice.ID(), MessageID: msg.ID})
	if err != nil || ed.ReplyMarkup != nil {
		t.Fatalf("editMessageReplyMarkup = %+v, %v", ed, err)
	}
	if _, err := env.b.EditMessageReplyMarkup(ctx, &bot.EditMessageReplyMarkupParams{ChatID: alice.ID(), MessageID: msg.ID}); err == nil ||
		!strings.Contains(err.Error(), "message is not modified") {
		t.Fatalf("removing an absent keyboard: %v", err)
	}
	if m := alice.Messages()[0]; m.Text != "Sent" || !m.Edited || m.Buttons != nil {
		t.Fatalf("the user sees %+v", m)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"empty text", func() error {
			_, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: ""})
			return err
		}, "Bad Request: message text is empty"},
		{"unknown chat", func() error {
			_, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 777, Text: "x"})
			return err
		}, "Bad Request: chat not found"},
		{"bad HTML", func() error {
			_, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: "a <br> b", ParseMode: models.ParseModeHTML})
			return err
		}, "Bad Request: can't parse entities: Unsupported start tag \"br\""},
		{"edit missing", func() error {
			_, err := env.b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: alice.ID(), MessageID: 99, Text: "x"})
			return err
		}, "Bad Request: message to edit not found"},
		{"long callback data", func() error {
			_, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: "x",
				ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "b", CallbackData: strings.Repeat("d", 65)}}}}})
			return err
		}, "BUTTON_DATA_INVALID"},
	} {
		if err := tc.call(); !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestHTMLParseMode(t *testing.T) {
	env, ctx := newEnv(t), ctxT(t)
	alice := env.e.User(42, "Alice", "alice")
	text := `<b>Send</b> 0.05 ETH to <code>0xAbC</code> &lt;fee&gt; <a href="https://example.org/tx">tx</a>`
	msg, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: text, ParseMode: models.ParseModeHTML})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Text != "Send 0.05 ETH to 0xAbC <fee> tx" {
		t.Fatalf("text = %q", msg.Text)
	}
	want := []models.MessageEntity{
		{Type: models.MessageEntityTypeBold, Offset: 0, Length: 4},
		{Type: models.MessageEntityTypeCode, Offset: 17, Length: 5},
		{Type: models.MessageEntityTypeTextLink, Offset: 29, Length: 2, URL: "https://example.org/tx"},
	}
	if fmt.Sprint(msg.Entities) != fmt.Sprint(want) {
		t.Fatalf("entities = %+v, want %+v", msg.Entities, want)
	}
	if m := alice.Messages()[0]; m.Raw != text || m.ParseMode != "HTML" {
		t.Fatalf("stored = %+v", m)
	}
}

func TestCommandsDeleteAndMisc(t *testing.T) {
	env, ctx := newEnv(t), ctxT(t)
	alice := env.e.User(42, "Alice", "alice")
	cmds := []models.BotCommand{{Command: "start", Description: "Start"}, {Command: "send", Description: "Send ETH"}}
	if ok, err := env.b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: cmds}); !ok || err != nil {
		t.Fatalf("setMyCommands: %v", err)
	}
	got, err := env.b.GetMyCommands(ctx, &bot.GetMyCommandsParams{})
	if err != nil || fmt.Sprint(got) != fmt.Sprint(cmds) || len(env.e.Commands()) != 2 {
		t.Fatalf("getMyCommands = %+v, %v", got, err)
	}
	if _, err := env.b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: []models.BotCommand{{Command: "Bad Cmd", Description: "x"}}}); err == nil {
		t.Fatal("an invalid command was accepted")
	}
	msg, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: "bye"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := env.b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: alice.ID(), MessageID: msg.ID}); !ok || err != nil {
		t.Fatalf("deleteMessage: %v", err)
	}
	if len(alice.Messages()) != 0 {
		t.Fatal("the deleted message is still shown")
	}
	if _, err := env.b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: alice.ID(), MessageID: msg.ID}); err == nil ||
		!strings.Contains(err.Error(), "message to delete not found") {
		t.Fatalf("second delete: %v", err)
	}
	if ok, err := env.b.DeleteWebhook(ctx, &bot.DeleteWebhookParams{}); !ok || err != nil {
		t.Fatalf("deleteWebhook: %v", err)
	}
	if ok, err := env.b.SetChatMenuButton(ctx, &bot.SetChatMenuButtonParams{MenuButton: models.MenuButtonCommands{Type: "commands"}}); !ok || err != nil {
		t.Fatalf("setChatMenuButton: %v", err)
	}
	// Message ids increase per chat, shared by the user's and the bot's messages.
	if id := alice.Send("hi"); id != msg.ID+1 {
		t.Fatalf("user message id %d after bot message %d", id, msg.ID)
	}
}

func TestUnauthorizedAndNotFound(t *testing.T) {
	env := newEnv(t)
	_, err := bot.New("7000000001:wrong", bot.WithServerURL(env.srv.URL))
	if !errors.Is(err, bot.ErrorUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
	for path, want := range map[string]string{
		"/bot7000000001:wrong/getMe":    `{"ok":false,"error_code":401,"description":"Unauthorized"}`,
		"/bot" + token + "/noSuchThing": `{"ok":false,"error_code":404,"description":"Not Found"}`,
	} {
		resp, err := http.Post(env.srv.URL+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) != want {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestTooManyRequests(t *testing.T) {
	env, ctx := newEnv(t), ctxT(t)
	alice := env.e.User(42, "Alice", "alice")
	env.e.FailNext("sendMessage", 1, 7)
	_, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: "x"})
	var tm *bot.TooManyRequestsError
	if !errors.As(err, &tm) || tm.RetryAfter != 7 {
		t.Fatalf("want TooManyRequestsError with retry_after 7, got %v", err)
	}
	if _, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: "x"}); err != nil {
		t.Fatalf("the failure should happen once: %v", err)
	}
	env.e.FailNextWith("sendMessage", 1, 403, "Forbidden: bot was blocked by the user", 0)
	if _, err := env.b.SendMessage(ctx, &bot.SendMessageParams{ChatID: alice.ID(), Text: "x"}); !errors.Is(err, bot.ErrorForbidden) {
		t.Fatalf("want 403: %v", err)
	}
}

// TestOtherEncodings sends JSON and urlencoded bodies, as other clients do.
func TestOtherEncodings(t *testing.T) {
	env := newEnv(t)
	alice := env.e.User(42, "Alice", "alice")
	base := env.srv.URL + "/bot" + token + "/"
	resp, err := http.Post(base+"sendMessage", "application/json",
		strings.NewReader(`{"chat_id":42,"text":"json","reply_markup":{"inline_keyboard":[[{"text":"A","callback_data":"a"}]]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		OK     bool `json:"ok"`
		Result struct {
			MessageID int `json:"message_id"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		t.Fatalf("JSON body: %v %+v", err, out)
	}
	resp.Body.Close()
	form := url.Values{"chat_id": {"42"}, "text": {"form"}, "reply_markup": {`{"inline_keyboard":[[{"text":"B","url":"https://example.org"}]]}`}}
	resp, err = http.PostForm(base+"sendmessage", form) // method names are case-insensitive
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ms := alice.Messages()
	if len(ms) != 2 || ms[0].Buttons[0][0].CallbackData != "a" || ms[1].Text != "form" || ms[1].Buttons[0][0].URL != "https://example.org" {
		t.Fatalf("messages = %+v", ms)
	}
	// getUpdates: offset confirms, a short timeout returns an empty list.
	alice.Send("one")
	alice.Send("two")
	var ups struct {
		Result []struct {
			UpdateID int64 `json:"update_id"`
			Message  struct {
				Text string `json:"text"`
			} `json:"message"`
		} `json:"result"`
	}
	get := func(q string) {
		resp, err := http.Get(base + "getUpdates?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		ups.Result = nil
		if err := json.NewDecoder(resp.Body).Decode(&ups); err != nil {
			t.Fatal(err)
		}
	}
	get("timeout=0")
	if len(ups.Result) != 2 || ups.Result[1].Message.Text != "two" || ups.Result[1].UpdateID != ups.Result[0].UpdateID+1 {
		t.Fatalf("updates = %+v", ups.Result)
	}
	get(fmt.Sprintf("offset=%d&timeout=0", ups.Result[1].UpdateID))
	if len(ups.Result) != 1 || ups.Result[0].Message.Text != "two" {
		t.Fatalf("after confirming one: %+v", ups.Result)
	}
	get(fmt.Sprintf("offset=%d&timeout=0", ups.Result[0].UpdateID+1))
	if len(ups.Result) != 0 {
		t.Fatalf("after confirming all: %+v", ups.Result)
	}
}

func TestOpenMiniAppInitData(t *testing.T) {
	env := newEnv(t)
	alice := env.e.User(42, "Alice", "alice")
	param := "AQIDBAUGBwgJ-_x" + strings.Repeat("Z", 40)
	launch, initData, err := alice.OpenMiniApp("https://t.me/" + botName + "/" + appShort + "?startapp=" + param)
	if err != nil {
		t.Fatal(err)
	}
	cfg := protocol.VerifyConfig{BotID: env.e.BotID(), PublicKey: env.e.PublicKey(), MaxAge: time.Hour, ClockSkew: time.Minute}
	d, err := protocol.VerifyInitData(initData, cfg, fixedNow)
	if err != nil {
		t.Fatalf("Ed25519: %v", err)
	}
	if d.SignedBy != "ed25519" || d.UserID != 42 || d.StartParam != param || d.ChatType != "sender" || d.ChatInstance == "" || !d.AuthDate.Equal(fixedNow) {
		t.Fatalf("initData = %+v", d)
	}
	if d, err := protocol.VerifyInitData(initData, protocol.VerifyConfig{BotID: 1, HMACBotToken: token, MaxAge: time.Hour}, fixedNow); err != nil ||
		d.SignedBy != "hmac" || d.StartParam != param {
		t.Fatalf("HMAC: %+v, %v", d, err)
	}
	other := cfg
	other.BotID++
	if _, err := protocol.VerifyInitData(initData, other, fixedNow); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("another bot id verified: %v", err)
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	other = cfg
	other.PublicKey = otherKey.Public().(ed25519.PublicKey)
	if _, err := protocol.VerifyInitData(initData, other, fixedNow); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("another key verified: %v", err)
	}
	vals, _ := url.ParseQuery(initData)
	var user map[string]any
	if err := json.Unmarshal([]byte(vals.Get("user")), &user); err != nil || user["first_name"] != "Alice" || user["username"] != "alice" ||
		user["allows_write_to_pm"] != true || user["language_code"] != "en" {
		t.Fatalf("user = %s", vals.Get("user"))
	}

	u, err := url.Parse(launch)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme+"://"+u.Host+u.Path != "http://127.0.0.1:8080/miniapp/" || u.Query().Get("tgWebAppStartParam") != param {
		t.Fatalf("launch URL = %s", launch)
	}
	frag, err := url.ParseQuery(u.EscapedFragment())
	if err != nil || frag.Get("tgWebAppData") != initData || frag.Get("tgWebAppVersion") == "" || frag.Get("tgWebAppPlatform") != "web" ||
		!json.Valid([]byte(frag.Get("tgWebAppThemeParams"))) {
		t.Fatalf("fragment = %q (%v)", u.Fragment, err)
	}
	// The same user gets the same chat_instance each time.
	_, again, _ := alice.OpenMiniApp("https://t.me/" + botName + "/" + appShort + "?startapp=x")
	d2, _ := protocol.ParseInitData(again)
	if d2.ChatInstance != d.ChatInstance || d2.StartParam != "x" {
		t.Fatalf("second launch: %+v", d2)
	}

	for link, want := range map[string]error{
		"https://t.me/" + botName + "/" + appShort + "?startapp=bad%20param":                 emulator.ErrInvalidStartParam,
		"https://t.me/" + botName + "/" + appShort + "?startapp=" + strings.Repeat("a", 513): emulator.ErrInvalidStartParam,
		"https://t.me/other_bot/" + appShort + "?startapp=x":                                 emulator.ErrNotMiniAppLink,
		"https://example.org/" + botName + "/" + appShort:                                    emulator.ErrNotMiniAppLink,
	} {
		if _, _, err := alice.OpenMiniApp(link); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", link, err, want)
		}
	}
	if _, d, err := alice.OpenMiniApp("tg://resolve?domain=" + botName + "&appname=" + appShort); err != nil || strings.Contains(d, "start_param") {
		t.Fatalf("link without startapp: %q %v", d, err)
	}
}
