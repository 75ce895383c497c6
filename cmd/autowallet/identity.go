package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/autowallet/autowallet/bot/miniapp"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
)

// identityWait bounds how long `autowallet parent -identity-key` waits for
// the enclave to be unlocked (KMS at start) before it can compare keys.
var identityWait = 60 * time.Second

// miniAppRoutes serves the Mini App page under /miniapp/ with a config.json
// pinning identityKey (64 lowercase hex): the key the page verifies wallet
// statements with, and botID and telegramKey, with which it verifies
// Telegram's signature on its own launch data, and nets, the page's own list
// of networks and tokens (docs/miniapp.md).
func miniAppRoutes(identityKey string, botID int64, telegramKey string, nets networks.Set, next func(*http.ServeMux)) func(*http.ServeMux) {
	h := miniapp.Handler(miniapp.WithConfig(identityKey, botID, telegramKey, nets))
	return func(mux *http.ServeMux) {
		mux.Handle(miniapp.Prefix, h)
		if next != nil {
			next(mux)
		}
	}
}

// checkIdentityKey waits (bounded) for the enclave to be unlocked and
// refuses when its identity key differs from want: a page pinned to another
// key would show every wallet as unverified, or, worse, an operator would
// have published the key of another deployment.
func checkIdentityKey(ctx context.Context, enc *parent.EnclaveClient, want string) error {
	ctx, cancel := context.WithTimeout(ctx, identityWait)
	defer cancel()
	for {
		h, err := enc.Health(ctx)
		if err == nil && h.IdentityKey != "" {
			if h.IdentityKey != want {
				return fmt.Errorf("the enclave's identity key %s differs from -identity-key (AUTOWALLET_IDENTITY_KEY) %s: the page's config.json would pin the wrong key", h.IdentityKey, want)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("could not read the enclave's identity key to compare with -identity-key (is it unlocked?): %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// miniAppOptions gives the dev page its config.json: the identity key the
// dev enclave's /v1/health shows (the enclave runs in this process; in
// production the operator publishes config.json with the page instead).
// botID and telegramKey (hex) are the dev enclave's: the page checks its
// launch data with the same key the enclave trusts (the emulator's, or
// Telegram's). Without it the page is served without config.json and
// verifies nothing.
func (m *DevMain) miniAppOptions(encAddr string, botID int64, telegramKey string, nets networks.Set) []miniapp.Option {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := parent.NewEnclaveClientTCP(encAddr, 5*time.Second).Health(ctx)
	if err != nil || h.IdentityKey == "" {
		m.log.Warn("the Mini App page is served without config.json: no identity key from the enclave", "err", err)
		return nil
	}
	if _, err := miniapp.ConfigJSON(h.IdentityKey, botID, telegramKey, nets); err != nil {
		m.log.Warn("the Mini App page is served without config.json", "err", err)
		return nil
	}
	return []miniapp.Option{miniapp.WithConfig(h.IdentityKey, botID, telegramKey, nets)}
}
