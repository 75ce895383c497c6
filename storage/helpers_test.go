package storage

import (
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// clock is a test clock that moves 1ms forward on every reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func openTestDB(tb testing.TB) (*DB, string) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "data")
	db, err := Open(dir, Options{Now: newClock().Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, dir
}

func addrOf(owner int64) common.Address {
	return common.BigToAddress(big.NewInt(0x1000 + owner))
}

func recordOf(owner int64, variant int) []byte {
	return []byte(fmt.Sprintf("sealed-record-owner-%d-variant-%d", owner, variant))
}

func mustWallet(tb testing.TB, db *DB, owner int64) Wallet {
	tb.Helper()
	w, _, err := db.CreateWallet(Wallet{Owner: owner, Address: addrOf(owner), Record: recordOf(owner, 0)})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func newTransfer(id string, owner int64, nonce uint64) Transfer {
	return Transfer{
		ID:         id,
		Owner:      owner,
		ChatID:     owner,
		MessageID:  42,
		ChainID:    11155111,
		From:       addrOf(owner),
		To:         common.HexToAddress("0x00000000000000000000000000000000000000aa"),
		Amount:     big.NewInt(50_000_000_000_000_000),
		Nonce:      nonce,
		MaxFee:     big.NewInt(21000 * 30_000_000_000),
		Intent:     []byte{0x01, 0x01, byte(nonce)},
		StartParam: "AQE" + id,
		Expiry:     time.Date(2025, 3, 1, 12, 15, 0, 0, time.UTC),
	}
}

// advance sets what state s requires and moves t to s.
func advance(t *Transfer, s State) {
	t.State = s
	switch s {
	case StateApproved:
		t.SignedTx = []byte{0x02, 0xf8, 0x70, byte(t.Nonce)}
		t.TxHash = common.BytesToHash([]byte("hash-" + t.ID))
	case StateConfirmed:
		t.Block = 1234
	case StateFailed:
		t.Block = 1234
		t.Reason = "reverted"
	case StateReplaced:
		t.Reason = "another transaction at its nonce was mined"
	case StateSuperseded:
		t.Reason = "replaced by a newer request"
	case StateExpired:
		t.Reason = "intent expired"
	case StateCancelled:
		t.Reason = "cancelled by user"
	}
}

// pathTo lists the states to pass through from built to reach s.
func pathTo(s State) []State {
	switch s {
	case StateApproved:
		return []State{StateApproved}
	case StateSent:
		return []State{StateApproved, StateSent}
	case StateConfirmed:
		return []State{StateApproved, StateSent, StateConfirmed}
	case StateFailed, StateReplaced:
		return []State{StateApproved, s}
	case StateCancelled, StateExpired, StateSuperseded:
		return []State{s}
	}
	return nil
}

func moveTo(tb testing.TB, db *DB, id string, s State) Transfer {
	tb.Helper()
	var t Transfer
	for _, step := range pathTo(s) {
		var err error
		t, err = db.UpdateTransfer(id, func(t *Transfer) error { advance(t, step); return nil })
		if err != nil {
			tb.Fatalf("move %s to %s: %v", id, step, err)
		}
	}
	return t
}
