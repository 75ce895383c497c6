package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
)

// TestParentRunsTheBot: `autowallet parent` with a bot token runs the
// Telegram front end against the given Bot API server (here the emulator,
// standing in for Telegram), and its bot id comes from the token.
func TestParentRunsTheBot(t *testing.T) {
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	token := strconv.FormatInt(testenv.BotID, 10) + ":parent-test"
	emu, tg := startBotAPI(t, token, enc.Key, false)

	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	err := m.ParseFlags([]string{
		"-data", t.TempDir(), "-http", "127.0.0.1:0", "-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
		"-enclave-tcp", enc.Addr, "-telegram-public-key", hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)),
		"-bot-token", token, "-telegram-api", tg.URL, "-miniapp", "https://t.me/prod_like_bot/wallet",
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.BotID != testenv.BotID {
		t.Fatalf("bot id = %d, want %d from the token", m.Config.BotID, testenv.BotID)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	card := createWallet(t, emu.User(9001, "Pat", "pat"))
	w, err := m.Service().Wallet(9001)
	if err != nil || !strings.Contains(card.Caption, w.Address.Hex()) {
		t.Fatalf("wallet card %q, stored %v (%v)", card.Caption, w.Address.Hex(), err)
	}
}

// TestParentFlags: missing or contradicting settings are named at start.
func TestParentFlags(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"nothing":            {nil, "-rpc (ETH_RPC_URL)"},
		"token without link": {[]string{"-rpc", "http://127.0.0.1:1", "-chain-id", "1", "-bot-token", "5:x"}, "-miniapp"},
		"id and token differ": {[]string{"-rpc", "http://127.0.0.1:1", "-chain-id", "1", "-bot-token", "5:x", "-bot-id", "6",
			"-miniapp", "https://t.me/a/b"}, "differs"},
		"no bot at all": {[]string{"-rpc", "http://127.0.0.1:1", "-chain-id", "1"}, "TELEGRAM_BOT_ID"},
		"bad chain id":  {[]string{"-rpc", "http://127.0.0.1:1", "-chain-id", "x", "-bot-id", "5"}, "chain-id"},
		// The vault key's anchor (review 13): KMS without a pinned
		// identity key or the first-start flag, both, or the flag alone.
		"kms without anchor": {[]string{"-rpc", "http://127.0.0.1:1", "-chain-id", "1", "-bot-id", "5", "-kms-region", "eu-west-1"}, "-kms-region needs -identity-key"},
		"init and pin": {[]string{"-rpc", "http://127.0.0.1:1", "-chain-id", "1", "-bot-id", "5", "-kms-region", "eu-west-1", "-init-vault-key",
			"-identity-key", strings.Repeat("ab", 32)}, "not both"},
		"init without kms": {[]string{"-rpc", "http://127.0.0.1:1", "-chain-id", "1", "-bot-id", "5", "-init-vault-key"}, "needs -kms-region"},
	}
	for name, c := range cases {
		t.Setenv("ETH_RPC_URL", "")
		t.Setenv("TELEGRAM_BOT_TOKEN", "")
		t.Setenv("TELEGRAM_BOT_ID", "")
		t.Setenv("AWS_REGION", "")
		t.Setenv("AUTOWALLET_IDENTITY_KEY", "")
		t.Setenv("AUTOWALLET_INIT_VAULT_KEY", "")
		m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
		err := m.ParseFlags(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to name %q", name, err, c.want)
		}
	}
}
