package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/internal/testvectors"
)

// pageConfig is the page's config.json (docs/protocol.md 8.4).
type pageConfig struct {
	Version           int    `json:"version"`
	IdentityKey       string `json:"identity_key"`
	BotID             int64  `json:"bot_id"`
	TelegramPublicKey string `json:"telegram_public_key"`
	Networks          []struct {
		ChainID        uint64 `json:"chain_id"`
		Name           string `json:"name"`
		NativeSymbol   string `json:"native_symbol"`
		NativeDecimals uint8  `json:"native_decimals"`
		ExplorerURL    string `json:"explorer_url"`
		L1DataFee      bool   `json:"l1_data_fee"`
		Tokens         []struct {
			Address  string `json:"address"`
			Symbol   string `json:"symbol"`
			Decimals uint8  `json:"decimals"`
		} `json:"tokens"`
	} `json:"networks"`
}

// getPageConfig reads /miniapp/config.json from base, strictly: exactly
// version 2, the identity key, the bot id, Telegram's key and at least one
// network.
func getPageConfig(t *testing.T, base string) pageConfig {
	t.Helper()
	resp, err := http.Get(base + "/miniapp/config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c pageConfig
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || resp.StatusCode != 200 || c.Version != 2 || c.BotID <= 0 || len(c.TelegramPublicKey) != 64 || len(c.Networks) == 0 {
		t.Fatalf("config.json: %d %+v %v", resp.StatusCode, c, err)
	}
	return c
}

// getConfigJSON returns the identity_key of base's config.json.
func getConfigJSON(t *testing.T, base string) string {
	t.Helper()
	return getPageConfig(t, base).IdentityKey
}

// TestDevServesConfigJSON: `autowallet dev` serves the page's config.json
// with the dev enclave's identity key (the HKDF of its vault key file), and
// the same key after a restart on the same data folder.
func TestDevServesConfigJSON(t *testing.T) {
	data := t.TempDir()
	m := startDev(t, data)
	key := getConfigJSON(t, "http://"+m.Addr().String())
	vault, err := os.ReadFile(filepath.Join(data, "vault.key"))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(testvectors.IdentityKeyFor(vault).Public().(ed25519.PublicKey)); key != want {
		t.Fatalf("config.json identity_key %s, want %s", key, want)
	}
	// The page checks its launch data with the bot id and the key the dev
	// enclave trusts: the emulator's.
	botID, _ := botIDOf(devBotToken)
	if c := getPageConfig(t, "http://"+m.Addr().String()); c.BotID != botID || c.TelegramPublicKey != hex.EncodeToString(m.emu.PublicKey()) {
		t.Fatalf("config.json %+v, want bot id %d and the emulator's key", c, botID)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := startDev(t, data)
	defer m2.Close()
	if again := getConfigJSON(t, "http://"+m2.Addr().String()); again != key {
		t.Fatalf("identity key changed across a restart: %s -> %s", key, again)
	}
}

// TestParentIdentityKey: with -identity-key equal to the enclave's, the
// parent serves the page's config.json with it; with another key it
// refuses to start; a key that is not 64 lowercase hex is a flag error.
func TestParentIdentityKey(t *testing.T) {
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	flags := func(key string) []string {
		return []string{
			"-data", t.TempDir(), "-http", "127.0.0.1:0",
			"-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
			"-enclave-tcp", enc.Addr, "-bot-id", strconv.FormatInt(testenv.BotID, 10),
			"-telegram-public-key", strings.ToUpper(hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey))),
			"-identity-key", key,
		}
	}
	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags(flags(enc.IdentityKey())); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// It publishes -bot-id and -telegram-public-key (lowercased) beside the
	// identity key: the page checks its launch data with them.
	if got := getPageConfig(t, "http://"+m.Addr().String()); got.IdentityKey != enc.IdentityKey() || got.BotID != testenv.BotID ||
		got.TelegramPublicKey != hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)) {
		t.Fatalf("config.json %+v, want %s, bot %d and the enclave's Telegram key", got, enc.IdentityKey(), testenv.BotID)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	other := hex.EncodeToString(testvectors.IdentityKey().Public().(ed25519.PublicKey))
	m = NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags(flags(other)); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("started with another identity key: %v", err)
	}

	for _, bad := range []string{strings.ToUpper(enc.IdentityKey()), enc.IdentityKey()[:62], "0x" + enc.IdentityKey()} {
		if err := NewParentMain(slog.New(slog.DiscardHandler), io.Discard).ParseFlags(flags(bad)); err == nil {
			t.Fatalf("-identity-key %q accepted", bad)
		}
	}
}
