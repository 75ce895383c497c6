package main

import (
	"context"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/testchain"
)

// startDev runs `autowallet dev` on 127.0.0.1:0 in data with extra flags.
func startDev(t *testing.T, data string, flags ...string) *DevMain {
	t.Helper()
	m := NewDevMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags(append([]string{"-data", data, "-http", "127.0.0.1:0", "-block-period", "200ms"}, flags...)); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// ask sends text as u and waits for the bot's next message after it.
func ask(t *testing.T, u *emulator.User, text string, ok func(emulator.Message) bool) emulator.Message {
	t.Helper()
	after := u.Send(text)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := u.WaitMessage(ctx, func(m emulator.Message) bool { return m.FromBot && m.ID > after && ok(m) })
	if err != nil {
		t.Fatalf("%q: no answer: %v", text, err)
	}
	return m
}

func anyMessage(emulator.Message) bool { return true }

// createWallet taps Create wallet after /start and waits for the wallet card.
func createWallet(t *testing.T, u *emulator.User) emulator.Message {
	t.Helper()
	greeting := ask(t, u, "/start", anyMessage)
	if _, err := u.Press(greeting.ID, "w:create"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	card, err := u.WaitMessage(ctx, func(m emulator.Message) bool { return m.ID > greeting.ID && isPhoto(m) })
	if err != nil {
		t.Fatalf("no wallet card: %v", err)
	}
	return card
}

func isPhoto(m emulator.Message) bool { return m.PhotoFileID != "" }

// TestDevRestartKeepsWallets: Ctrl-C (Close) and a new start on the same data
// folder keep the user's wallet.
func TestDevRestartKeepsWallets(t *testing.T) {
	data := t.TempDir()
	m := startDev(t, data)
	u := m.Emulator().User(555, "Dana", "dana")
	createWallet(t, u)
	w, err := m.Service().Wallet(555)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	m2 := startDev(t, data)
	defer m2.Close()
	card := ask(t, m2.Emulator().User(555, "Dana", "dana"), "/start", isPhoto)
	if !strings.Contains(card.Caption, w.Address.Hex()) {
		t.Fatalf("after restart /start shows %q, want wallet %s", card.Caption, w.Address.Hex())
	}
}

// TestDevWithRPCURL: with ETH_RPC_URL the dev mode uses that node (here a
// real geth --dev) instead of the embedded chain, and has no faucet.
func TestDevWithRPCURL(t *testing.T) {
	node := testchain.Start(t)
	m := startDev(t, t.TempDir(), "-rpc", node.URL)
	defer m.Close()
	u := m.Emulator().User(556, "Eve", "eve")
	createWallet(t, u)
	w, err := m.Service().Wallet(556)
	if err != nil {
		t.Fatal(err)
	}
	node.Fund(t, w.Address, bigETH(2))
	card := ask(t, u, "/wallet", isPhoto)
	if !strings.Contains(card.Caption, "Dev L1: 2 ETH") {
		t.Fatalf("wallet card on geth = %q, want 2 ETH", card.Caption)
	}
	notAlert := func(m emulator.Message) bool { return !strings.HasPrefix(m.Text, "Received") } // the deposit's alert may come first
	if m := ask(t, u, "/faucet", notAlert); !strings.Contains(m.Text, "don't know that command") {
		t.Fatalf("/faucet with an external node = %q", m.Text)
	}
}

// TestDevFlags: settings that cannot work together are refused at start.
func TestDevFlags(t *testing.T) {
	cases := map[string][]string{
		"token without Mini App link": {"-bot-token", "123:abc"},
		"API URL without token":       {"-telegram-api", "http://127.0.0.1:1"},
		"malformed token":             {"-bot-token", "abc", "-miniapp", "https://t.me/x/y"},
		"bad public key":              {"-telegram-public-key", "zz"},
	}
	for name, flags := range cases {
		m := NewDevMain(slog.New(slog.DiscardHandler), io.Discard)
		if err := m.ParseFlags(flags); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func bigETH(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }
