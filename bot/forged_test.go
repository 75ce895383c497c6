package bot_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage/postgres"
)

// pgServices gives each instance of a flow world its own service over one
// real PostgreSQL database (dsn), the stack's enclave and chain; stores
// collects their stores.
func pgServices(t *testing.T, dsn string, stores *[]*postgres.DB) func(int, *teststack.Stack) (*parent.Service, bot.UpdateStore) {
	return func(i int, st *teststack.Stack) (*parent.Service, bot.UpdateStore) {
		db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		*stores = append(*stores, db)
		pc, err := parent.DialChain(context.Background(), st.Chain.URL, devchain.ChainID, parent.ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pc.Close)
		svc, err := parent.NewService(db, parent.NewEnclaveClientTCP(st.Enclave.Addr, 10*time.Second), parent.OneNetwork(pc),
			parent.ServiceConfig{Confirmations: 1, PollInterval: 200 * time.Millisecond}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return svc, db
	}
}

// TestForgedWalletRowNotShown: the database's writer sets alice's wallet
// row to its own address with an UPDATE (review 12, finding 2). The real
// bot, through the emulator's Bot API, shows her no address and no QR code
// anywhere: /wallet and /start say the wallet cannot be shown and to
// contact the operator, the old card's Refresh does not put the forged
// address on it, and /send does not start from it.
func TestForgedWalletRowNotShown(t *testing.T) {
	var stores []*postgres.DB
	w := newFlowWorld(t, flowOptions{instances: 1, service: pgServices(t, pgtest.Start(t).NewDatabase(t), &stores)})
	alice := &user{User: w.emu.User(1601, "Alice", "alice"), t: t}
	card := alice.createWallet()
	wal, err := w.bots[0].svc.Wallet(1601)
	if err != nil || !strings.Contains(card.Caption, wal.Address.Hex()) {
		t.Fatalf("the card before the forgery: %q, %v", card.Caption, err)
	}

	mallory := common.HexToAddress("0x00000000000000000000000000000000000bad01")
	if _, err := stores[0].Pool().Exec(context.Background(), `UPDATE wallets SET address = $1 WHERE owner = 1601`, mallory[:]); err != nil {
		t.Fatal(err)
	}
	shows := func(m emulator.Message) bool {
		text := strings.ToLower(m.Text + m.Caption)
		return strings.Contains(text, strings.ToLower(mallory.Hex())) || strings.Contains(text, strings.ToLower(wal.Address.Hex()))
	}
	for _, cmd := range []string{"/wallet", "/start", "/send"} {
		m := alice.say(cmd)
		if m.PhotoFileID != "" || shows(m) || !strings.Contains(m.Text, "cannot be shown") || !strings.Contains(m.Text, "contact the operator") {
			t.Fatalf("%s after the forgery answered %q (photo %q)", cmd, m.Text+m.Caption, m.PhotoFileID)
		}
		if len(m.Buttons) != 0 {
			t.Fatalf("%s after the forgery offers buttons %+v", cmd, m.Buttons)
		}
	}
	alice.press(card, "Refresh")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.emu.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range alice.Messages() {
		if m.FromBot && strings.Contains(strings.ToLower(m.Text+m.Caption), strings.ToLower(mallory.Hex())) {
			t.Fatalf("message #%d shows the forged address: %q", m.ID, m.Text+m.Caption)
		}
	}
}

// TestForgedCardChatNotEdited (review 14, finding 1): the database's writer
// points mallory's stored wallet card at alice's card (her chat, her
// message). When mallory's card is refreshed (after any deposit or
// transfer of his), the bot edits nothing in alice's chat: a chat taken from a stored row must be
// the owner's private chat. Without the check her card's caption read
// "Your wallet 0x<mallory's>".
func TestForgedCardChatNotEdited(t *testing.T) {
	var stores []*postgres.DB
	w := newFlowWorld(t, flowOptions{instances: 1, service: pgServices(t, pgtest.Start(t).NewDatabase(t), &stores)})
	alice := &user{User: w.emu.User(1701, "Alice", "alice"), t: t}
	mallory := &user{User: w.emu.User(1702, "Mallory", "mallory"), t: t}
	aliceCard := alice.createWallet()
	mallory.createWallet()
	mw, err := w.bots[0].svc.Wallet(1702)
	if err != nil {
		t.Fatal(err)
	}
	// The bot stores the card after sending it: wait for mallory's row.
	for i := 0; ; i++ {
		if _, err := stores[0].WalletCard(1702); err == nil {
			break
		} else if i == 2000 {
			t.Fatalf("mallory's card was never stored: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if tag, err := stores[0].Pool().Exec(context.Background(), `UPDATE wallet_cards SET chat_id = $1, message_id = $2 WHERE user_id = $3`,
		int64(1701), int64(aliceCard.ID), int64(1702)); err != nil || tag.RowsAffected() != 1 {
		t.Fatal(tag, err)
	}
	// Mallory's card refreshed (as after any deposit or transfer of his).
	w.bots[0].bot.RefreshWallet(context.Background(), 1702)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.emu.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range alice.Messages() {
		if strings.Contains(strings.ToLower(m.Text+m.Caption), strings.ToLower(mw.Address.Hex())) {
			t.Fatalf("alice's message #%d shows mallory's address: %q", m.ID, m.Text+m.Caption)
		}
	}
}
