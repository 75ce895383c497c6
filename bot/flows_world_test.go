package bot_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/parent"
)

// flowWorld is the real bot, several instances of it (parents), taking
// updates by webhook from the emulator through an alternator (each update
// to the other instance than the one before), all on one store: the
// stack's bbolt file, or what flowOptions.service gives each instance.
type flowWorld struct {
	emu   *emulator.Emulator
	stack *teststack.Stack
	alt   *alternator
	bots  []*flowBot
}

type flowBot struct {
	bot *bot.Bot
	svc *parent.Service
	srv *httptest.Server // its webhook listener
}

type flowOptions struct {
	instances int
	ttl       time.Duration // bot.Config.FlowTTL
	// service, when set, gives instance i its own wallet service and the
	// store of its update claims.
	service func(i int, st *teststack.Stack) (*parent.Service, bot.UpdateStore)
}

func newFlowWorld(t *testing.T, o flowOptions) *flowWorld {
	t.Helper()
	st := teststack.Start(t, teststack.Options{})
	emu, err := emulator.New(emulator.Config{BotToken: testToken, BotUsername: "test_wallet_bot",
		MiniAppShortName: "wallet", MiniAppURL: "http://127.0.0.1/miniapp/", SigningKey: st.Enclave.Key,
		Webhook: emulator.WebhookOptions{RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	emu.Register(mux)
	api := httptest.NewServer(mux)
	w := &flowWorld{emu: emu, stack: st, alt: &alternator{}}
	var backends []string
	handlers := make([]atomic.Pointer[http.Handler], o.instances)
	stores := make([]bot.UpdateStore, o.instances)
	for i := range o.instances {
		fb := &flowBot{svc: st.Service}
		stores[i] = st.Store
		if o.service != nil {
			fb.svc, stores[i] = o.service(i, st)
		}
		fb.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			hp := handlers[i].Load()
			if r.URL.Path != hookPath || hp == nil {
				http.NotFound(rw, r)
				return
			}
			(*hp).ServeHTTP(rw, r)
		}))
		w.bots = append(w.bots, fb)
		backends = append(backends, fb.srv.URL)
	}
	front := httptest.NewServer(w.alt.handler(backends))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		emu.Close()
		front.Close()
		for _, fb := range w.bots {
			fb.srv.Close()
		}
		api.Close()
		wg.Wait()
	})
	for i, fb := range w.bots {
		cfg := bot.WebhookConfig{URL: front.URL + hookPath, Secret: hookSecret, Instance: fmt.Sprintf("parent-%c", 'a'+i), Store: stores[i]}
		b, err := bot.New(bot.Config{Token: testToken, APIURL: api.URL, MiniAppLink: testMiniApp, Webhook: &cfg, FlowTTL: o.ttl}, fb.svc)
		if err != nil {
			t.Fatal(err)
		}
		fb.bot = b
		h := b.WebhookHandler()
		handlers[i].Store(&h)
		wg.Add(1)
		go func() { defer wg.Done(); b.Run(ctx) }()
	}
	// Every instance has set the webhook (past "not serving": 400, not
	// an update).
	deadline := time.Now().Add(20 * time.Second)
	for i, fb := range w.bots {
		for {
			code, _ := post(t, fb.srv.URL+hookPath, hookSecret, "{}")
			if code != http.StatusServiceUnavailable && code != http.StatusNotFound {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d never served the webhook", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return w
}
