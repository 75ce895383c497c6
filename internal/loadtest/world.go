// Package loadtest drives the real bot with many simulated Telegram users:
// the bot (github.com/go-telegram/bot) polls the Telegram emulator's Bot API
// on 127.0.0.1, over the real parent service, the enclave on loopback, a
// bbolt file and the embedded dev chain.
//
// World is the harness (also used by the bot's latency benchmarks);
// loadtest_test.go is the load test itself:
//
//	go test ./internal/loadtest -run TestLoad -load -v   # make load
//
// Every bot message is timestamped when the emulator answers the bot's
// sendMessage, sendPhoto or edit call (an HTTP middleware in front of the
// emulator), so a reply's latency is the time from the user's update (Send
// or Press) to the moment the reply exists in the chat, as the user's
// Telegram client would show it.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage/bolt"
)

const (
	// Token is the bot's token: bot id 4242 = testenv.BotID.
	Token       = "4242:load-test-token"
	miniAppLink = "https://t.me/load_wallet_bot/wallet"
)

// Options of a World.
type Options struct {
	// BlockPeriod of the dev chain (default 500ms).
	BlockPeriod time.Duration
	// Log receives the bot's and the service's logs (default: discarded).
	Log *slog.Logger
}

// World is the whole product on loopback, in this process.
type World struct {
	Emu   *emulator.Emulator
	Svc   *parent.Service
	Chain *devchain.Chain
	Store *bolt.DB
	Enc   *testenv.Enclave
	// URL serves the Bot API (the emulator) and the Mini App API.
	URL string

	obs    *observer
	client *http.Client
}

// NewWorld starts everything; it all stops when tb ends.
func NewWorld(tb testing.TB, o Options) *World {
	tb.Helper()
	if o.BlockPeriod == 0 {
		o.BlockPeriod = 500 * time.Millisecond
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := teststack.Start(tb, teststack.Options{BlockPeriod: o.BlockPeriod, EnclaveTimeout: 30 * time.Second, Log: log})
	chain, enc, store, svc := st.Chain, st.Enclave, st.Store, st.Service

	emu, err := emulator.New(emulator.Config{
		BotToken: Token, BotUsername: "load_wallet_bot", MiniAppShortName: "wallet",
		MiniAppURL: "http://127.0.0.1/miniapp/", SigningKey: enc.Key,
		// A burst of presses is answered at Telegram's 30 calls/s: the
		// last answer of 1,000 comes after more than 30 s.
		CallbackTimeout: 10 * time.Minute,
	})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.RegisterAPI(mux)
	emu.Register(mux)
	obs := &observer{chats: map[int64]chan Event{}}
	api := httptest.NewServer(obs.wrap(mux)) // 127.0.0.1
	tb.Cleanup(api.Close)

	b, err := bot.New(bot.Config{Token: Token, APIURL: api.URL, MiniAppLink: miniAppLink, Faucet: chain, Log: log}, svc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); b.Run(ctx) }()
	go func() { defer wg.Done(); svc.Track(ctx) }()
	tb.Cleanup(func() {
		cancel()
		emu.Close()
		wg.Wait()
	})
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	tb.Cleanup(client.CloseIdleConnections)
	return &World{Emu: emu, Svc: svc, Chain: chain, Store: store, Enc: enc, URL: api.URL, obs: obs, client: client}
}

// Event is one bot message as it appeared (or was edited) in a chat.
type Event struct {
	At      time.Time
	Method  string // sendmessage, sendphoto, editmessagetext, editmessagecaption
	ID      int    // message id in the chat
	Text    string // text or caption, plain (entities stripped)
	Photo   bool
	Buttons []Button
}

// Button is an inline keyboard button.
type Button struct {
	Text, CallbackData, URL string
}

// Button returns the first button whose text contains s.
func (e Event) Button(s string) (Button, bool) {
	for _, b := range e.Buttons {
		if strings.Contains(b.Text, s) {
			return b, true
		}
	}
	return Button{}, false
}

// observer timestamps the bot's messages as the emulator stores them and
// hands them to the simulated user of the chat.
type observer struct {
	mu      sync.Mutex
	chats   map[int64]chan Event
	dropped int
}

func (o *observer) watch(chat int64) <-chan Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch := make(chan Event, 256)
	o.chats[chat] = ch
	return ch
}

var watched = map[string]bool{"sendmessage": true, "sendphoto": true, "editmessagetext": true, "editmessagecaption": true}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.buf.Write(p)
	return t.ResponseWriter.Write(p)
}

func (o *observer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := strings.ToLower(path.Base(r.URL.Path))
		if !strings.HasPrefix(r.URL.Path, "/bot") || !watched[method] {
			next.ServeHTTP(w, r)
			return
		}
		tw := &teeWriter{ResponseWriter: w}
		next.ServeHTTP(tw, r)
		at := time.Now()
		var resp struct {
			OK     bool `json:"ok"`
			Result struct {
				MessageID int    `json:"message_id"`
				Text      string `json:"text"`
				Caption   string `json:"caption"`
				Photo     []any  `json:"photo"`
				Chat      struct {
					ID int64 `json:"id"`
				} `json:"chat"`
				ReplyMarkup struct {
					InlineKeyboard [][]struct {
						Text         string `json:"text"`
						CallbackData string `json:"callback_data"`
						URL          string `json:"url"`
					} `json:"inline_keyboard"`
				} `json:"reply_markup"`
			} `json:"result"`
		}
		if json.Unmarshal(tw.buf.Bytes(), &resp) != nil || !resp.OK {
			return // the bot sees the error; an edit of an unchanged message, say
		}
		ev := Event{At: at, Method: method, ID: resp.Result.MessageID, Text: resp.Result.Text + resp.Result.Caption, Photo: len(resp.Result.Photo) > 0}
		for _, row := range resp.Result.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				ev.Buttons = append(ev.Buttons, Button{Text: b.Text, CallbackData: b.CallbackData, URL: b.URL})
			}
		}
		o.mu.Lock()
		ch := o.chats[resp.Result.Chat.ID]
		o.mu.Unlock()
		if ch == nil {
			return
		}
		select {
		case ch <- ev:
		default:
			o.mu.Lock()
			o.dropped++
			o.mu.Unlock()
		}
	})
}

// Dropped counts bot messages no simulated user had room for (a test bug
// or a bot flooding a chat): the load test counts them as errors.
func (w *World) Dropped() int {
	w.obs.mu.Lock()
	defer w.obs.mu.Unlock()
	return w.obs.dropped
}

// User is a simulated Telegram user who sees the bot's messages as events.
type User struct {
	*emulator.User
	w      *World
	events <-chan Event
}

// NewUser adds a user whose private chat (chat id = user id) is watched.
func (w *World) NewUser(id int64, name string) *User {
	return &User{User: w.Emu.User(id, name, strings.ToLower(name)), w: w, events: w.obs.watch(id)}
}

// ErrTimeout: the bot did not answer in time.
var ErrTimeout = errors.New("no bot message in time")

// Next is the bot's next message (or edit) in the user's chat.
func (u *User) Next(ctx context.Context) (Event, error) {
	select {
	case ev := <-u.events:
		return ev, nil
	case <-ctx.Done():
		return Event{}, fmt.Errorf("user %d: %w", u.ID(), ErrTimeout)
	}
}

// Say sends text and returns the bot's first message after it and the time
// from the update to that message.
func (u *User) Say(ctx context.Context, text string) (Event, time.Duration, error) {
	t0 := time.Now()
	u.Send(text)
	ev, err := u.Next(ctx)
	return ev, ev.At.Sub(t0), err
}

// Tap presses a callback button of message msgID and returns the bot's
// first message after it and its latency, and the time the callback answer
// took (in the background: Press waits for answerCallbackQuery). The answer
// must arrive before ctx ends.
func (u *User) Tap(ctx context.Context, msgID int, data string) (ev Event, lat, answer time.Duration, err error) {
	t0 := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := u.PressContext(ctx, msgID, data)
		answer = time.Since(t0)
		done <- err
	}()
	ev, err = u.Next(ctx)
	lat = ev.At.Sub(t0)
	if perr := <-done; perr != nil && err == nil {
		err = fmt.Errorf("user %d: press: %w", u.ID(), perr)
	}
	return ev, lat, answer, err
}

// WaitFor reads the bot's messages until one satisfies ok.
func (u *User) WaitFor(ctx context.Context, ok func(Event) bool) (Event, error) {
	for {
		ev, err := u.Next(ctx)
		if err != nil || ok(ev) {
			return ev, err
		}
	}
}

// Approve opens the card's Review link as Telegram does and posts the signed
// initData to the parent's API, as the Mini App page does.
func (u *User) Approve(ctx context.Context, card Event) (parent.MiniAppResponse, error) {
	var out parent.MiniAppResponse
	review, ok := card.Button("Review")
	if !ok {
		return out, fmt.Errorf("user %d: card #%d has no Review button", u.ID(), card.ID)
	}
	_, initData, err := u.OpenMiniApp(review.URL)
	if err != nil {
		return out, fmt.Errorf("user %d: OpenMiniApp: %w", u.ID(), err)
	}
	body, _ := json.Marshal(parent.MiniAppRequest{InitData: initData})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.w.URL+parent.PathMiniAppApprove, bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.w.client.Do(req)
	if err != nil {
		return out, fmt.Errorf("user %d: approve: %w", u.ID(), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		return out, fmt.Errorf("user %d: approve: HTTP %d %s", u.ID(), resp.StatusCode, raw)
	}
	return out, nil
}

// Fund sends each address the faucet's drip directly and waits (until ctx
// ends) for every balance to show it, 16 drips per block. A drip refused
// with "replacement transaction underpriced" is tried again: devchain.Drip
// takes the faucet's nonce from the node's pending state, which lags while a
// block is being committed (about 1 drip in 50 in a tight loop).
func (w *World) Fund(ctx context.Context, addrs []common.Address) error {
	const batch = 16
	for len(addrs) > 0 {
		n := min(batch, len(addrs))
		for _, a := range addrs[:n] {
			var err error
			for try := 0; try < 10; try++ {
				if _, _, err = w.Chain.Drip(ctx, a); err == nil || !strings.Contains(err.Error(), "underpriced") {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				return fmt.Errorf("drip to %s: %w", a.Hex(), err)
			}
		}
		for _, a := range addrs[:n] {
			for {
				bal, err := w.Svc.Balance(ctx, a)
				if err == nil && bal.Cmp(devchain.DripAmount) >= 0 {
					break
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("funds for %s never arrived: %w", a.Hex(), ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
		addrs = addrs[n:]
	}
	return nil
}

// IsError is a bot message that reports a failure to the user.
func IsError(ev Event) bool {
	for _, s := range []string{"⚠️", "❌", "Something went wrong", "not available right now"} {
		if strings.Contains(ev.Text, s) {
			return true
		}
	}
	return false
}
