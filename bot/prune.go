package bot

// Pruning of Telegram's send slots (docs/bot.md, "Several parents"). Every
// message reserves a slot in the store (storage/sendslots.go); on
// PostgreSQL that is one row per chat, which would stay forever. Every
// parent running the bot's background work prunes the slots that lie in
// the past, once a minute, at most SendSlotPruneBatch × SendSlotPruneBatches
// per run. No lease: a prune is idempotent, cheap (one DELETE per batch,
// over a table of the chats of the last minute or so, docs/postgres.md
// "The send-slot prune"), and skips the rows another parent's prune or reservation holds
// (FOR UPDATE SKIP LOCKED), so parents pruning at once share the work
// instead of waiting for each other; a lease would only add a writer to
// the leases table. A pruned chat behaves exactly as one never seen (its
// slot was past), so pruning never loosens a limit
// (storage conformance PruneSendSlots).

import (
	"context"
	"log/slog"
	"time"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/safego"
)

const (
	// SendSlotPruneEvery is how often the send slots are pruned.
	SendSlotPruneEvery = time.Minute
	// SendSlotPruneBatch is the most slots one PruneSendSlots call deletes
	// (one short transaction), and SendSlotPruneBatches the most calls per
	// run: 10,000 a minute, beyond the bot's 30 messages a second (1,800
	// chats a minute at most get a new slot).
	SendSlotPruneBatch   = 1000
	SendSlotPruneBatches = 10
)

// sendSlotPruner is the part of the store pruning needs.
type sendSlotPruner interface {
	PruneSendSlots(limit int) (int, error)
}

// keepSendSlotsPruned prunes every `every` until ctx ends.
func keepSendSlotsPruned(ctx context.Context, s sendSlotPruner, every time.Duration, log *slog.Logger, m *metrics.Metrics) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		safego.Call(log, m, "prune", func() { pruneSendSlots(s, log) })
	}
}

// pruneSendSlots runs one bounded prune and returns how many slots went. A
// failure (the store away) is logged and left to the next run.
func pruneSendSlots(s sendSlotPruner, log *slog.Logger) int {
	total := 0
	for range SendSlotPruneBatches {
		n, err := s.PruneSendSlots(SendSlotPruneBatch)
		if err != nil {
			log.Warn("pruning send slots", "err", err)
			break
		}
		total += n
		if n < SendSlotPruneBatch {
			break
		}
	}
	if total > 0 {
		log.Debug("pruned send slots", "count", total)
	}
	return total
}
