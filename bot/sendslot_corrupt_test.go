package bot_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage/postgres"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestFarFutureSendSlotDoesNotStall plays the database's writer on the
// shared send slots (review 12, finding 4): the bot's slot (chat 0) and a
// chat's are set ten years ahead with an UPDATE on a real PostgreSQL. A
// message to that chat (and one to another chat) is still sent: the wait
// the store asks for is beyond bot.MaxSlotWait, so the sender refuses it
// as corrupt, logs an error, counts autowallet_send_slot_corrupt_total and
// keeps this parent's own limits. Obeyed, the wait would outlast the
// test's deadline and no message would arrive.
func TestFarFutureSendSlotDoesNotStall(t *testing.T) {
	w := newLimitsWorld(t, 2)
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.Start(t).NewDatabase(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var logs lockedBuffer
	m := metrics.New(metrics.Options{})
	s := bot.NewSender(slog.New(slog.NewTextHandler(&logs, nil)))
	s.Share(db)
	s.SetMetrics(m)
	send := func(chat int64) error {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return s.Do(ctx, chat, func(ctx context.Context) error {
			_, err := w.api.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: chat, Text: "hi"})
			return err
		})
	}
	// A slot of each first, so the rows exist to be forged.
	for _, chat := range []int64{500, 501} {
		if err := send(chat); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool().Exec(ctx, `UPDATE send_slots SET tat = now() + interval '10 years' WHERE chat_id IN (0, 500)`); err != nil {
		t.Fatal(err)
	}
	for _, chat := range []int64{500, 501, 500} {
		if err := send(chat); err != nil {
			t.Fatalf("a message to chat %d behind the forged slots: %v", chat, err)
		}
	}
	sent := 0
	for _, c := range w.emu.Calls() {
		if c.Method == "sendmessage" {
			sent++
		}
	}
	if sent != 5 {
		t.Fatalf("%d messages arrived, want 5", sent)
	}
	if n := counterOf(t, m, "autowallet_send_slot_corrupt_total"); n != 3 {
		t.Fatalf("autowallet_send_slot_corrupt_total = %v, want 3 (one per message behind the forged rows)", n)
	}
	if out := logs.String(); strings.Count(out, "level=ERROR") != 1 || !strings.Contains(out, "send-slot wait no Telegram limit can produce") {
		t.Fatalf("want one error log (repeats within 10 s are counted, not logged): %s", out)
	}
}

// TestLongChatQueueIsNotCorrupt (review 14): a user who sends many
// messages at once queues their chat's slot far ahead (one a second); the
// sender waits for it like any other slot, and does not take the queue for
// a corrupt row (which would raise the alert and drop the shared limits).
func TestLongChatQueueIsNotCorrupt(t *testing.T) {
	w := newLimitsWorld(t, 1)
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.Start(t).NewDatabase(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// 90 messages of chat 600 queued: its slot is about 87 s ahead, past
	// the bot slot's one-minute ceiling.
	for range 90 {
		if _, _, err := db.ReserveSend(600, bot.TelegramLimits); err != nil {
			t.Fatal(err)
		}
	}
	m := metrics.New(metrics.Options{})
	s := bot.NewSender(slog.New(slog.DiscardHandler))
	s.Share(db)
	s.SetMetrics(m)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	err = s.Do(short, 600, func(ctx context.Context) error {
		_, err := w.api.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: 600, Text: "hi"})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the 91st message of one chat: %v; want it to wait its turn (past this context's deadline)", err)
	}
	if n, _ := m.Total("autowallet_send_slot_corrupt_total"); n != 0 {
		t.Fatalf("autowallet_send_slot_corrupt_total = %v: an honest queue taken for a corrupt row", n)
	}
}

// counterOf is the sum of the counter name in m's registry; a counter that
// is not there fails the test.
func counterOf(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	v, ok := m.Total(name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return v
}
