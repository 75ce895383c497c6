package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/lbproxy"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
)

// TestParentWebhookFlags: webhook settings are checked at start, and the
// secret is never quoted in an error.
func TestParentWebhookFlags(t *testing.T) {
	base := []string{"-rpc", "http://127.0.0.1:1", "-chain-id", "1", "-bot-token", "5:x", "-miniapp", "https://t.me/a/b"}
	const good = "zqxSecretzqx_0123456789abcdefghij" // 33 characters
	cases := map[string]struct {
		secret string
		args   []string
		want   string
	}{
		"no secret":        {"", []string{"-webhook-url", "https://lb.example/telegram/webhook"}, "AUTOWALLET_WEBHOOK_SECRET"},
		"bad secret":       {"has space" + good, []string{"-webhook-url", "https://lb.example/telegram/webhook"}, "characters other than A-Z a-z 0-9 _ -"},
		"long secret":      {strings.Repeat("a", 257), []string{"-webhook-url", "https://lb.example/telegram/webhook"}, "longer than 256"},
		"one character":    {"Z", []string{"-webhook-url", "https://lb.example/telegram/webhook"}, "shorter than 32"},
		"31 characters":    {good[:31], []string{"-webhook-url", "https://lb.example/telegram/webhook"}, "shorter than 32"},
		"http to Telegram": {good, []string{"-webhook-url", "http://lb.example/telegram/webhook"}, "must be https"},
		"root path":        {good, []string{"-webhook-url", "https://lb.example/"}, "path of its own"},
		"miniapp path":     {good, []string{"-webhook-url", "https://lb.example/miniapp/Zsecretpath"}, "not be under /miniapp"},
		"pattern path":     {good, []string{"-webhook-url", "https://lb.example/{Zsecretpath}"}, "must be plain"},
		"query":            {good, []string{"-webhook-url", "https://lb.example/hook?x=1"}, "https://host/path"},
		"listen alone":     {good, []string{"-webhook-listen", "127.0.0.1:0"}, "without -webhook-url"},
		"max connections":  {good, []string{"-webhook-url", "https://lb.example/hook", "-webhook-max-connections", "101"}, "1-100"},
		"claim ttl":        {good, []string{"-webhook-url", "https://lb.example/hook", "-webhook-claim-ttl", "1s"}, "claim-ttl"},
		"update deadline":  {good, []string{"-webhook-url", "https://lb.example/hook", "-webhook-update-deadline", "1s"}, "update-deadline"},
		"drop with hook":   {good, []string{"-webhook-url", "https://lb.example/hook", "-drop-webhook"}, "-drop-webhook is for long polling"},
	}
	for name, c := range cases {
		t.Setenv("AUTOWALLET_WEBHOOK_SECRET", c.secret)
		m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
		err := m.ParseFlags(append(append([]string{}, base...), c.args...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to name %q", name, err, c.want)
		}
		if err != nil && c.secret != "" && strings.Contains(err.Error(), c.secret) {
			t.Errorf("%s: the error quotes the secret", name)
		}
		if err != nil && strings.Contains(err.Error(), "Zsecretpath") {
			t.Errorf("%s: the error quotes the webhook URL's path", name)
		}
	}
	t.Setenv("AUTOWALLET_WEBHOOK_SECRET", good)
	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags(append(base, "-webhook-url", "https://lb.example/telegram/webhook")); err != nil {
		t.Fatal(err)
	}
	if m.Config.WebhookSecret != good || m.Config.WebhookMaxConnections != 40 || m.Config.WebhookUpdateDeadline != 100*time.Second {
		t.Fatalf("config %+v", m.Config)
	}
}

// freeAddr is a 127.0.0.1 address free a moment ago.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestParentByWebhook: `autowallet parent -webhook-url … -webhook-listen …`
// behind the round-robin proxy takes the emulator's webhook deliveries; a
// wallet is created through commands and a button, and no update is
// delivered twice. (Two parents on one store: bbolt is one process's file,
// so that is the PostgreSQL test of cmd/autowallet's twoparents part.)
func TestParentByWebhook(t *testing.T) {
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	token := strconv.FormatInt(testenv.BotID, 10) + ":parent-webhook-test"
	emu, tg := startBotAPI(t, token, enc.Key, true)

	hookAddr := freeAddr(t)
	proxy, err := lbproxy.Start([]string{"http://" + hookAddr}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	t.Setenv("AUTOWALLET_WEBHOOK_SECRET", "parent-test-secret_0123456789abcdef")
	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	err = m.ParseFlags([]string{
		"-data", t.TempDir(), "-http", "127.0.0.1:0", "-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
		"-enclave-tcp", enc.Addr, "-telegram-public-key", hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)),
		"-bot-token", token, "-telegram-api", tg.URL, "-miniapp", "https://t.me/prod_like_bot/wallet",
		"-webhook-url", proxy.URL() + "/telegram/webhook", "-webhook-listen", hookAddr, "-instance", "parent-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// The -http listener does not serve the webhook when it has its own.
	resp, err := http.Post("http://"+m.Addr().String()+"/telegram/webhook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("webhook path on -http: %d, want 404", resp.StatusCode)
	}
	card := createWallet(t, emu.User(9002, "Pat", "pat"))
	w, err := m.Service().Wallet(9002)
	if err != nil || !strings.Contains(card.Caption, w.Address.Hex()) {
		t.Fatalf("wallet card %q, stored %v (%v)", card.Caption, w.Address.Hex(), err)
	}
	// The answer follows the handling: wait for the last 200.
	if err := emu.WaitDelivered(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	st := emu.WebhookStats()
	if st.Delivered < 2 || st.Status[200] != st.Delivered {
		t.Fatalf("emulator webhook stats %+v", st)
	}
	for id, n := range emu.WebhookAttempts() {
		if codes := emu.WebhookStatuses(id); codes[len(codes)-1] != 200 {
			t.Fatalf("update %d: %d attempts, statuses %v", id, n, codes)
		}
	}
	if c := proxy.Counts(); c[0].Forwarded != st.Attempts {
		t.Fatalf("proxy %+v, emulator %+v", c, st)
	}
}

// TestDevByWebhook: `autowallet dev -webhook` runs the bot by webhook on
// its own listener, the emulator delivering.
func TestDevByWebhook(t *testing.T) {
	m := startDev(t, t.TempDir(), "-webhook")
	defer m.Close()
	createWallet(t, m.Emulator().User(556, "Dana", "dana"))
	if err := m.Emulator().WaitDelivered(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if st := m.Emulator().WebhookStats(); st.Delivered < 2 {
		t.Fatalf("webhook stats %+v", st)
	}
	// Without the secret, the dev listener's webhook refuses.
	resp, err := http.Post("http://"+m.Addr().String()+DevWebhookPath, "application/json", strings.NewReader(`{"update_id":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no secret: %d", resp.StatusCode)
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
