package main

// The webhook's listener (docs/bot.md, "Webhook"): by default the bot's
// webhook handler is mounted on the -http listener at the path of
// -webhook-url, beside the Mini App API, so one load balancer target serves
// both; -webhook-listen gives it a listener of its own (only that path).

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/parent"
)

// webhookRoute is the webhook path's handler, bound to the bot once it
// exists (the bot is made after the listener serves: in dev, its Bot API
// is the emulator on that same listener). Until then: 503, and Telegram
// retries.
type webhookRoute struct{ h atomic.Pointer[http.Handler] }

func (wr *webhookRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := wr.h.Load()
	if p == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	(*p).ServeHTTP(w, r)
}

func (wr *webhookRoute) set(h http.Handler) { wr.h.Store(&h) }

// checkWebhookURL: https (http only towards a Bot API other than
// Telegram's, i.e. an emulator) with a plain path of its own. The path is
// not meant to be a secret (the secret_token is) but operators do put
// secrets in paths: errors name the rule that failed, never quote the URL.
func checkWebhookURL(raw string, telegramAPI string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("-webhook-url must be https://host/path")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && telegramAPI != "" && telegramAPI != bot.DefaultAPIURL) {
		return errors.New("-webhook-url must be https (Telegram posts only to https)")
	}
	p := u.Path
	switch {
	case len(p) < 2:
		return errors.New("-webhook-url needs a path of its own (e.g. /telegram/webhook), not /")
	case strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.-") != "":
		return errors.New("-webhook-url path must be plain: only A-Z a-z 0-9 / _ . -")
	case strings.HasPrefix(p, "/miniapp") || strings.HasPrefix(p, "/emu/") || strings.HasPrefix(p, "/bot") || p == "/healthz":
		return errors.New("-webhook-url path must not be under /miniapp, /emu or /bot, nor /healthz (routes of their own)")
	}
	return nil
}

// mountWebhook serves the webhook path on mux, or on its own listener when
// listen is set. It returns the route to bind the bot's handler to.
func (h *host) mountWebhook(mux *http.ServeMux, hook *bot.WebhookConfig, listen string) (*webhookRoute, error) {
	u, err := url.Parse(hook.URL)
	if err != nil {
		return nil, err
	}
	wr := &webhookRoute{}
	if listen == "" {
		mux.Handle(u.Path, wr)
		return wr, nil
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (webhook): %w", listen, err)
	}
	hm := http.NewServeMux()
	hm.Handle(u.Path, wr)
	h.hookServer = parent.NewHTTPServer(hm, h.log)
	h.hookListener = l
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := h.hookServer.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("webhook server", "err", err)
		}
	}()
	return wr, nil
}
