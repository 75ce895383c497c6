package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/parent"
)

const (
	testToken   = "4242:bot-test-token" // bot id 4242 = testenv.BotID
	testMiniApp = "https://t.me/test_wallet_bot/wallet"
)

// world is the real bot against the emulator's Bot API, over the real
// service, enclave (loopback), bbolt file and embedded chain.
type world struct {
	emu   *emulator.Emulator
	svc   *parent.Service
	chain *devchain.Chain
	api   *httptest.Server
	enc   *testenv.Enclave
}

// newService is the wallet service over real parts (internal/teststack).
func newService(t *testing.T) (*parent.Service, *devchain.Chain, *testenv.Enclave) {
	t.Helper()
	st := teststack.Start(t, teststack.Options{})
	return st.Service, st.Chain, st.Enclave
}

// runBot starts the bot against a Bot API server until the test ends.
func runBot(t *testing.T, svc *parent.Service, apiURL string, faucet bot.Faucet, stop func()) *bot.Bot {
	t.Helper()
	b, err := bot.New(bot.Config{Token: testToken, APIURL: apiURL, MiniAppLink: testMiniApp, Faucet: faucet}, svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); b.Run(ctx) }()
	go func() { defer wg.Done(); svc.Track(ctx) }()
	t.Cleanup(func() {
		cancel()
		stop()
		wg.Wait()
	})
	return b
}

func newWorld(t *testing.T) *world {
	t.Helper()
	svc, chain, enc := newService(t)
	emu, err := emulator.New(emulator.Config{
		BotToken: testToken, BotUsername: "test_wallet_bot", MiniAppShortName: "wallet",
		MiniAppURL: "http://127.0.0.1/miniapp/", SigningKey: enc.Key,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.RegisterAPI(mux)
	emu.Register(mux)
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	runBot(t, svc, api.URL, chain, emu.Close)
	return &world{emu: emu, svc: svc, chain: chain, api: api, enc: enc}
}

// user is one simulated Telegram user in the world.
type user struct {
	*emulator.User
	t    *testing.T
	seen int // the highest message id already looked at
}

func (w *world) user(t *testing.T, id int64, name string) *user {
	return &user{User: w.emu.User(id, name, strings.ToLower(name)), t: t}
}

// say sends text and returns the bot's next new message.
func (u *user) say(text string) emulator.Message {
	u.t.Helper()
	u.seen = u.Send(text)
	return u.next()
}

// next waits for the bot's next message after the last one seen.
func (u *user) next() emulator.Message {
	u.t.Helper()
	return u.nextWhere(func(emulator.Message) bool { return true })
}

// nextWhere waits for a new bot message matching ok, skipping others.
func (u *user) nextWhere(ok func(emulator.Message) bool) emulator.Message {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := u.seen
	m, err := u.WaitMessage(ctx, func(m emulator.Message) bool { return m.FromBot && m.ID > seen && ok(m) })
	if err != nil {
		u.t.Fatalf("no bot message after #%d: %v; chat: %s", seen, err, u.dump())
	}
	u.seen = m.ID
	return m
}

// press taps a callback button of message m by its text.
func (u *user) press(m emulator.Message, text string) {
	u.t.Helper()
	b := findButton(u.t, m, text)
	if _, err := u.Press(m.ID, b.CallbackData); err != nil {
		u.t.Fatalf("press %q: %v", text, err)
	}
}

// waitEdit waits until message id shows want in its text or caption.
func (u *user) waitEdit(id int, want string) emulator.Message {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := u.WaitMessage(ctx, func(m emulator.Message) bool {
		return m.ID == id && strings.Contains(m.Text+m.Caption, want)
	})
	if err != nil {
		u.t.Fatalf("message #%d never showed %q: %v; chat: %s", id, want, err, u.dump())
	}
	return m
}

func (u *user) dump() string {
	var s strings.Builder
	for _, m := range u.Messages() {
		who := "user"
		if m.FromBot {
			who = "bot"
		}
		s.WriteString("\n  #" + itoa(m.ID) + " " + who + ": " + m.Text + m.Caption)
	}
	return s.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func findButton(t *testing.T, m emulator.Message, text string) emulator.Button {
	t.Helper()
	for _, row := range m.Buttons {
		for _, b := range row {
			if b.Text == text || strings.Contains(b.Text, text) {
				return b
			}
		}
	}
	t.Fatalf("message #%d %q has no button %q (buttons %+v)", m.ID, m.Text+m.Caption, text, m.Buttons)
	return emulator.Button{}
}

func hasButton(m emulator.Message, text string) bool {
	for _, row := range m.Buttons {
		for _, b := range row {
			if strings.Contains(b.Text, text) {
				return true
			}
		}
	}
	return false
}

// approve opens the card's Mini App link as Telegram would and posts the
// signed initData to the parent's API, as the page does.
func (w *world) approve(t *testing.T, u *user, card emulator.Message) parent.MiniAppResponse {
	t.Helper()
	link := findButton(t, card, "Review").URL
	_, initData, err := u.OpenMiniApp(link)
	if err != nil {
		t.Fatalf("OpenMiniApp(%s): %v", link, err)
	}
	body, _ := json.Marshal(parent.MiniAppRequest{InitData: initData})
	resp, err := http.Post(w.api.URL+parent.PathMiniAppApprove, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out parent.MiniAppResponse
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("approve: HTTP %d", resp.StatusCode)
	}
	return out
}

// createWallet runs /start and Create wallet, returning the wallet card.
func (u *user) createWallet() emulator.Message {
	u.t.Helper()
	greeting := u.say("/start")
	u.press(greeting, "Create wallet")
	return u.nextWhere(func(m emulator.Message) bool { return m.PhotoFileID != "" })
}

// fund asks the faucet and waits until the wallet card shows the balance:
// the card is refreshed by itself once the drip is mined.
func (u *user) fund(card emulator.Message) {
	u.t.Helper()
	u.say("/faucet")
	u.waitEdit(card.ID, "Dev L1: 1 ETH")
}
