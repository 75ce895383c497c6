package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/lbproxy"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
)

// TestParentOnPostgres starts `autowallet parent -database` on a real
// PostgreSQL server (over TCP, with a password), creates a wallet through
// it, and checks that the wallet is in the database and not in a bbolt
// file; the password is in no log line; /backup says to use pg_dump.
func TestParentOnPostgres(t *testing.T) {
	const password = "pg-secret-Zq9"
	srv := pgtest.StartWith(t, pgtest.Options{TCP: "127.0.0.1:0", Password: password})
	dsn := srv.TCPDSN()
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	data := t.TempDir()
	var logs bytes.Buffer
	m := NewParentMain(slog.New(slog.NewTextHandler(&logs, nil)), io.Discard)
	t.Setenv("AUTOWALLET_DATABASE_URL", dsn) // the environment, as in production
	if err := m.ParseFlags([]string{
		"-data", data, "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
		"-enclave-tcp", enc.Addr, "-bot-id", strconv.FormatInt(testenv.BotID, 10),
		"-telegram-public-key", hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)),
	}); err != nil {
		t.Fatal(err)
	}
	if m.Config.DatabaseURL != dsn {
		t.Fatal("AUTOWALLET_DATABASE_URL not taken")
	}
	ctx := context.Background()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if _, ok := m.store.(*postgres.DB); !ok {
		t.Fatalf("store is %T", m.store)
	}
	w, created, err := m.Service().EnsureWallet(ctx, 77)
	if err != nil || !created {
		t.Fatal(w, created, err)
	}

	// Admin /backup: bbolt only; with PostgreSQL a 404 that says what to use.
	token, err := os.ReadFile(filepath.Join(data, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+m.admin.Addr().String()+PathAdminBackup, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "pg_dump") {
		t.Fatalf("/backup on PostgreSQL = %d %q", resp.StatusCode, body)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// The wallet is in PostgreSQL, with its sealed record; no bbolt file.
	db, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.WalletByOwner(77)
	if err != nil || got.Address != w.Address || !bytes.Equal(got.Record, w.Record) {
		t.Fatal(got, err)
	}
	if _, err := os.Stat(filepath.Join(data, bolt.FileName)); !os.IsNotExist(err) {
		t.Fatalf("a bbolt file was made beside PostgreSQL: %v", err)
	}
	if strings.Contains(logs.String(), password) {
		t.Fatalf("the database password is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "storage: PostgreSQL") || !strings.Contains(logs.String(), "host=127.0.0.1") {
		t.Fatalf("the log does not name the database:\n%s", logs.String())
	}
}

// TestParentByWebhookOnPostgres: the bot by webhook (the emulator
// delivering through the round-robin proxy) on a parent that keeps its state
// in PostgreSQL: a user creates a wallet by tapping through the chat, every
// update is claimed and finished in PostgreSQL (one telegram_updates row per
// update, all done) and the wallet is in the wallets table.
func TestParentByWebhookOnPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	token := strconv.FormatInt(testenv.BotID, 10) + ":parent-pg-webhook-test"
	emu, tg := startBotAPI(t, token, enc.Key, true)
	hookAddr := freeAddr(t)
	proxy, err := lbproxy.Start([]string{"http://" + hookAddr}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	t.Setenv("AUTOWALLET_WEBHOOK_SECRET", "parent-pg-test-secret_0123456789abcdef")
	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags([]string{
		"-data", t.TempDir(), "-database", dsn, "-http", "127.0.0.1:0", "-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
		"-enclave-tcp", enc.Addr, "-telegram-public-key", hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)),
		"-bot-token", token, "-telegram-api", tg.URL, "-miniapp", "https://t.me/prod_like_bot/wallet",
		"-webhook-url", proxy.URL() + "/telegram/webhook", "-webhook-listen", hookAddr, "-instance", "parent-pg",
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	card := createWallet(t, emu.User(9003, "Pia", "pia"))
	if err := emu.WaitDelivered(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := db.WalletByOwner(9003)
	if err != nil || !strings.Contains(card.Caption, w.Address.Hex()) {
		t.Fatalf("wallet card %q, stored %v (%v)", card.Caption, w.Address.Hex(), err)
	}
	var total, done int
	var holders []string
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE done), array_agg(DISTINCT holder) FROM telegram_updates`).Scan(&total, &done, &holders); err != nil {
		t.Fatal(err)
	}
	st := emu.WebhookStats()
	if total < 2 || done != total || total != len(emu.WebhookAttempts()) || len(holders) != 1 || holders[0] != "parent-pg" {
		t.Fatalf("telegram_updates: %d rows, %d done, holders %v; emulator %+v", total, done, holders, st)
	}
}
