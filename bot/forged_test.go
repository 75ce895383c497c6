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
