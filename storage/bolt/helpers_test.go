package bolt

import (
	"bytes"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
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

func mustWallet(tb testing.TB, db *DB, owner int64) storage.Wallet {
	tb.Helper()
	w, _, err := db.CreateWallet(storage.Wallet{Owner: owner, Address: addrOf(owner), Record: recordOf(owner, 0)})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func newTransfer(id string, owner int64, nonce uint64) storage.Transfer {
	return storage.Transfer{
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
func advance(t *storage.Transfer, s storage.State) {
	t.State = s
	switch s {
	case storage.StateApproved:
		t.SignedTx = []byte{0x02, 0xf8, 0x70, byte(t.Nonce)}
		t.TxHash = common.BytesToHash([]byte("hash-" + t.ID))
	case storage.StateConfirmed:
		t.Block = 1234
	case storage.StateFailed:
		t.Block = 1234
		t.Reason = "reverted"
	case storage.StateReplaced:
		t.Reason = "another transaction at its nonce was mined"
	case storage.StateSuperseded:
		t.Reason = "replaced by a newer request"
	case storage.StateExpired:
		t.Reason = "intent expired"
	case storage.StateCancelled:
		t.Reason = "cancelled by user"
	}
}

// pathTo lists the states to pass through from built to reach s.
func pathTo(s storage.State) []storage.State {
	switch s {
	case storage.StateApproved:
		return []storage.State{storage.StateApproved}
	case storage.StateSent:
		return []storage.State{storage.StateApproved, storage.StateSent}
	case storage.StateConfirmed:
		return []storage.State{storage.StateApproved, storage.StateSent, storage.StateConfirmed}
	case storage.StateFailed, storage.StateReplaced:
		return []storage.State{storage.StateApproved, s}
	case storage.StateCancelled, storage.StateExpired, storage.StateSuperseded:
		return []storage.State{s}
	}
	return nil
}

func moveTo(tb testing.TB, db *DB, id string, s storage.State) storage.Transfer {
	tb.Helper()
	var t storage.Transfer
	for _, step := range pathTo(s) {
		var err error
		t, err = db.UpdateTransfer(id, func(t *storage.Transfer) error { advance(t, step); return nil })
		if err != nil {
			tb.Fatalf("move %s to %s: %v", id, step, err)
		}
	}
	return t
}

// encodeTransferV1 writes t as a v1 record (before replacements and fees):
// the current (v3) encoding of an ordinary transfer without fees ends with
// kind 0, replaces "", L1 fee and fee paid, one zero byte each; v1 is the
// rest under version 1. The result must decode back to t.
func encodeTransferV1(tb testing.TB, t *storage.Transfer) []byte {
	tb.Helper()
	v3 := storage.EncodeTransfer(t)
	if v3[0] != 3 || !bytes.HasSuffix(v3, []byte{0, 0, 0, 0}) {
		tb.Fatalf("transfer %q has no v1 form: %x", t.ID, v3)
	}
	v1 := append([]byte{1}, v3[1:len(v3)-4]...)
	if back, err := storage.DecodeTransfer(v1); err != nil || back.ID != t.ID {
		tb.Fatalf("v1 form of %q: %v", t.ID, err)
	}
	return v1
}
