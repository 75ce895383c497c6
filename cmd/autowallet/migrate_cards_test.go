package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"io"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestMigrateCardsEditedAfterwards: a parent on bbolt made a user's wallet
// card and a transfer card, and stopped right after the transfer failed
// (its card edits queued in the file, not made yet). After `autowallet
// migrate`, a parent on PostgreSQL, same bot and chat, edits that transfer
// card to show the failure and refreshes that wallet card: the edits the
// bbolt parent would have made.
func TestMigrateCardsEditedAfterwards(t *testing.T) {
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	token := strconv.FormatInt(testenv.BotID, 10) + ":migrate-cards-test"
	emu, tg := startBotAPI(t, token, enc.Key, false)
	parentWith := func(data string, more ...string) *ParentMain {
		m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
		args := append([]string{
			"-data", data, "-http", "127.0.0.1:0", "-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
			"-enclave-tcp", enc.Addr, "-telegram-public-key", hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)),
			"-bot-token", token, "-telegram-api", tg.URL, "-miniapp", "https://t.me/prod_like_bot/wallet",
		}, more...)
		if err := m.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	eth := big.NewInt(1_000_000_000_000_000_000)

	// The parent on bbolt: a wallet card, a funded wallet, a transfer card.
	data := t.TempDir()
	a := parentWith(data)
	u := emu.User(9011, "Mia", "mia")
	walletCard := createWallet(t, u)
	w, err := a.Service().Wallet(9011)
	if err != nil {
		t.Fatal(err)
	}
	node.Fund(t, w.Address, eth)
	card := ask(t, u, "/send 0.01 ETH to 0x1111111111111111111111111111111111111111", func(m emulator.Message) bool {
		return strings.Contains(m.Text, "Waiting for your approval")
	})
	// The card's message id is stored just after the card is sent.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		l, err := a.Service().History(9011, 1, 0)
		if err == nil && len(l) == 1 && l[0].MessageID == card.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the card's id was never stored: %+v %v", l, err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	var before emulator.Message // the wallet card as the bbolt parent left it
	for _, m := range u.Messages() {
		if m.ID == walletCard.ID {
			before = m
		}
	}

	// It stopped just as the transfer failed: the change is stored with
	// its card edits queued (as the tracker's would be), none made.
	boltDB, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := boltDB.TransfersByOwner(9011, 1, 0)
	if err != nil || len(list) != 1 || list[0].MessageID != card.ID {
		t.Fatalf("the transfer in the file: %+v %v", list, err)
	}
	for _, step := range storagetest.PathTo(storage.StateFailed) {
		if _, err := boltDB.UpdateTransfer(list[0].ID, func(tr *storage.Transfer) error { storagetest.Advance(tr, step); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if e, err := boltDB.PendingCardEdits(0, 10); err != nil || len(e) != 2 {
		t.Fatalf("queued card edits in the file: %+v %v", e, err)
	}
	if c, err := boltDB.WalletCard(9011); err != nil || c.MessageID != walletCard.ID {
		t.Fatalf("wallet card in the file: %+v %v", c, err)
	}
	boltDB.Close()
	node.Fund(t, w.Address, eth) // the wallet card's balance is out of date now

	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	if code, out, errOut := runCmd("migrate", "-data", data, "-database", dsn); code != 0 || !strings.Contains(out, "cardedits 2") || !strings.Contains(out, "walletcards 1") {
		t.Fatalf("migrate = %d\n%s\n%s", code, out, errOut)
	}

	// The parent on PostgreSQL edits both cards.
	b := parentWith(t.TempDir(), "-database", dsn)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := u.WaitMessage(ctx, func(m emulator.Message) bool {
		return m.ID == card.ID && m.Edited && strings.Contains(m.Text, "Failed")
	}); err != nil {
		t.Fatalf("the transfer card was not edited to show the failure: %v", err)
	}
	if _, err := u.WaitMessage(ctx, func(m emulator.Message) bool {
		return m.ID == walletCard.ID && m.Edited && m.Caption != before.Caption && strings.Contains(m.Caption, "2 ETH")
	}); err != nil {
		t.Fatalf("the wallet card was not refreshed: %v", err)
	}
	db, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, err := db.PendingCardEdits(0, 10)
		if err == nil && len(e) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the copied card edits are still queued: %+v %v", e, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
