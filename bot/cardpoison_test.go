package bot_test

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// poisonStore panics in Transfer(poison) when the card editor's pass reads
// it (outside the per-item guard).
type poisonStore struct {
	*bolt.DB
	poison atomic.Value
	hits   atomic.Int32
}

func (s *poisonStore) Transfer(id string) (storage.Transfer, error) {
	if p, _ := s.poison.Load().(string); p != "" && p == id {
		pcs := make([]uintptr, 64)
		fr := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
		for {
			f, more := fr.Next()
			if strings.HasSuffix(f.Function, "EditQueuedCards") {
				s.hits.Add(1)
				panic("review: a bug reading one transfer")
			}
			if !more {
				break
			}
		}
	}
	return s.DB.Transfer(id)
}

// TestCardEditorPoisonRead: reading one queued transfer panics in the card
// editor's pass; the page is still removed (the poison item dropped) and
// the next card edit is made, instead of the same page coming back every
// pass and holding up every later edit (found by the review).
func TestCardEditorPoisonRead(t *testing.T) {
	ps := &poisonStore{}
	w := servingOver(t, func(db *bolt.DB) storage.Store {
		ps.DB = db
		return ps
	})
	u := fundedHookUser(t, w, 833, "Ivy")
	to := common.HexToAddress("0x1111111111111111111111111111111111111111").Hex()
	n := botReplies(u)
	u.Send("/send 0.01 ETH to " + to + " on Dev L1")
	waitReplies(t, u, n+1)
	tr, err := w.stack.Store.TransfersByOwner(u.ID(), 10, 0)
	if err != nil || len(tr) != 1 {
		t.Fatal(tr, err)
	}
	ps.poison.Store(tr[0].ID)
	// A second send supersedes the first (its card edit is queued first),
	// then the second is cancelled: its card should say so.
	n = botReplies(u)
	u.Send("/send 0.02 ETH to " + to + " on Dev L1")
	waitReplies(t, u, n+1)
	var card emulator.Message
	for _, m := range u.Messages() {
		if m.FromBot && len(m.Buttons) > 0 {
			card = m
		}
	}
	tr, _ = w.stack.Store.TransfersByOwner(u.ID(), 10, 0)
	if _, err := u.Press(card.ID, "t:cancel:"+tr[0].ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range u.Messages() {
			if m.ID == card.ID && strings.Contains(m.Text+m.Caption, "ancel") {
				t.Logf("second card edited; poison hits %d", ps.hits.Load())
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	edits, _ := w.stack.Store.PendingCardEdits(0, 100)
	t.Fatalf("the cancelled card was never edited in 8 s; the poison page was read %d times; edits still queued: %+v", ps.hits.Load(), edits)
}
