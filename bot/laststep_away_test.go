package bot_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// putAwayAfterDelete: after a DeleteFlow that succeeded (armed), the next
// PutFlow meets the store away once.
type putAwayAfterDelete struct {
	*bolt.DB
	armed, putAway atomic.Bool
	puts           atomic.Int32
}

func (s *putAwayAfterDelete) DeleteFlow(chatID int64, expect uint64) (bool, error) {
	ok, err := s.DB.DeleteFlow(chatID, expect)
	if err == nil && s.armed.CompareAndSwap(true, false) {
		s.putAway.Store(true)
	}
	return ok, err
}

func (s *putAwayAfterDelete) PutFlow(chatID int64, expect uint64, data []byte, ttl time.Duration) (storage.Flow, error) {
	if s.putAway.CompareAndSwap(true, false) {
		s.puts.Add(1)
		return storage.Flow{}, errAway
	}
	return s.DB.PutFlow(chatID, expect, data, ttl)
}

// TestLastStepRefusalStoreAway: the last step of a guided /send removes the
// flow, Build refuses the amount (more than the balance), and the store is
// away for the write that asks again. Left to the redelivery, the update
// would find no send in progress and the user's send would end without a
// word ("Send /help…"); the user is told instead (found by the review).
func TestLastStepRefusalStoreAway(t *testing.T) {
	away := &putAwayAfterDelete{}
	w := servingOver(t, func(db *bolt.DB) storage.Store {
		away.DB = db
		return away
	})
	u := fundedHookUser(t, w, 832, "Hal")
	to := common.HexToAddress("0x1111111111111111111111111111111111111111").Hex()
	n := botReplies(u)
	u.Send("/send ETH to " + to + " on Dev L1")
	waitReplies(t, u, n+1)
	away.armed.Store(true)
	n = botReplies(u)
	u.Send("100000") // more than the balance: Build refuses, the bot asks again
	waitReplies(t, u, n+1)
	time.Sleep(time.Second)
	if away.puts.Load() != 1 {
		t.Fatalf("%d PutFlow failures injected, want 1", away.puts.Load())
	}
	var said []string
	for _, m := range u.Messages() {
		if m.FromBot {
			said = append(said, m.Text+m.Caption)
		}
	}
	last := said[len(said)-1]
	if !strings.Contains(last, "Try /send again") || strings.Contains(last, "Send /help") {
		t.Fatalf("after the refused amount with the store away the bot's last word was %q", last)
	}
}
