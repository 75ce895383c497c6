package main

import (
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot/emulator"
)

// startBotAPI starts the Telegram emulator for a production-like bot
// (@prod_like_bot, Mini App "wallet" on its own origin) on loopback,
// signing launches with key, as Telegram would with its own. With fastRetry
// a failed webhook delivery is tried again within 20 to 200 ms. Both are
// closed when the test ends.
func startBotAPI(t *testing.T, token string, key ed25519.PrivateKey, fastRetry bool) (*emulator.Emulator, *httptest.Server) {
	t.Helper()
	cfg := emulator.Config{BotToken: token, BotUsername: "prod_like_bot", MiniAppShortName: "wallet",
		MiniAppURL: "https://pages.example/miniapp/", SigningKey: key}
	if fastRetry {
		cfg.Webhook = emulator.WebhookOptions{RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	}
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	emu.Register(mux)
	tg := httptest.NewServer(mux)
	t.Cleanup(tg.Close)
	t.Cleanup(emu.Close)
	return emu, tg
}
