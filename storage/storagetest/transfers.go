package storagetest

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

var allStates = []storage.State{
	storage.StateBuilt, storage.StateApproved, storage.StateSent, storage.StateConfirmed, storage.StateFailed,
	storage.StateCancelled, storage.StateExpired, storage.StateReplaced, storage.StateSuperseded,
}

func testCreateTransferChecks(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	mustWallet(t, s, 2)
	_, err := s.CreateTransfer(NewTransfer("no-wallet", 3, 0))
	wantErr(t, err, storage.ErrNotFound, "owner without a wallet")
	bad := NewTransfer("other-wallet", 1, 0)
	bad.From = Addr(2)
	_, err = s.CreateTransfer(bad)
	wantErr(t, err, storage.ErrInvalid, "from another user's wallet")
	bad = NewTransfer("approved", 1, 0)
	Advance(&bad, storage.StateApproved)
	_, err = s.CreateTransfer(bad)
	wantErr(t, err, storage.ErrInvalidTransition, "created approved")
	bad = NewTransfer("signed", 1, 0)
	bad.SignedTx = []byte{1}
	_, err = s.CreateTransfer(bad)
	wantErr(t, err, storage.ErrInvalid, "created with a transaction")
	for name, mut := range map[string]func(*storage.Transfer){
		"empty id":        func(tr *storage.Transfer) { tr.ID = "" },
		"long id":         func(tr *storage.Transfer) { tr.ID = string(make([]byte, 129)) },
		"no intent":       func(tr *storage.Transfer) { tr.Intent = nil },
		"negative amount": func(tr *storage.Transfer) { tr.Amount = big.NewInt(-1) },
		"wide amount":     func(tr *storage.Transfer) { tr.Amount = new(big.Int).Lsh(big.NewInt(1), 256) },
		"bad kind":        func(tr *storage.Transfer) { tr.Kind = 7 },
		"replaces":        func(tr *storage.Transfer) { tr.Replaces = "x" },
	} {
		tr := NewTransfer("bad", 1, 0)
		mut(&tr)
		_, err := s.CreateTransfer(tr)
		wantErr(t, err, storage.ErrInvalid, name)
	}
	tr, err := s.CreateTransfer(NewTransfer("t1", 1, 0))
	if err != nil || tr.State != storage.StateBuilt || tr.Created.IsZero() || !tr.Updated.Equal(tr.Created) {
		t.Fatal(tr, err)
	}
	_, err = s.CreateTransfer(NewTransfer("t1", 1, 1))
	wantErr(t, err, storage.ErrTransferExists, "same id")
	got, err := s.Transfer("t1")
	if err != nil || got.Amount.Cmp(tr.Amount) != 0 || !got.Expiry.Equal(tr.Expiry) || got.StartParam != tr.StartParam {
		t.Fatal(got, err)
	}
	_, err = s.Transfer("nope")
	wantErr(t, err, storage.ErrNotFound, "unknown transfer")
}

// testTransitionTable tries every state change from every reachable state:
// the allowed ones succeed, the others fail with ErrInvalidTransition and
// leave the transfer as it was.
func testTransitionTable(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	nonce := uint64(0)
	for _, from := range allStates {
		for _, to := range allStates {
			if to == from {
				continue
			}
			id := fmt.Sprintf("%s-%s", from, to)
			if _, err := s.CreateTransfer(NewTransfer(id, 1, nonce)); err != nil {
				t.Fatal(err)
			}
			nonce++
			moveTo(t, s, id, from)
			before, err := s.Transfer(id)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.UpdateTransfer(id, func(tr *storage.Transfer) error { Advance(tr, to); return nil })
			if from.CanBecome(to) {
				if err != nil {
					t.Errorf("%s -> %s: %v", from, to, err)
				}
			} else {
				if !errors.Is(err, storage.ErrInvalidTransition) {
					t.Errorf("%s -> %s: got %v, want ErrInvalidTransition", from, to, err)
				}
				if got, _ := s.Transfer(id); got.State != before.State {
					t.Errorf("%s -> %s: a refused change was stored (%s)", from, to, got.State)
				}
			}
			// Leave the nonce free for the next transfer.
			if got, _ := s.Transfer(id); got.State.Active() {
				end := storage.StateCancelled
				if got.State.Signed() {
					end = storage.StateReplaced
				}
				if _, err := s.UpdateTransfer(id, func(tr *storage.Transfer) error { Advance(tr, end); return nil }); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func testTransitionRequirements(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	if _, err := s.CreateTransfer(NewTransfer("t", 1, 0)); err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func(*storage.Transfer){
		"approved without a signed tx": func(tr *storage.Transfer) { tr.State = storage.StateApproved },
		"amount changes":               func(tr *storage.Transfer) { tr.Amount = big.NewInt(1) },
		"to changes":                   func(tr *storage.Transfer) { tr.To = Addr(5) },
		"nonce changes":                func(tr *storage.Transfer) { tr.Nonce = 9 },
		"expiry changes":               func(tr *storage.Transfer) { tr.Expiry = tr.Expiry.Add(time.Second) },
		"signed tx while built":        func(tr *storage.Transfer) { tr.SignedTx = []byte{1} },
		"cancelled without a reason":   func(tr *storage.Transfer) { tr.State = storage.StateSuperseded },
	} {
		_, err := s.UpdateTransfer("t", func(tr *storage.Transfer) error { fn(tr); return nil })
		wantErr(t, err, storage.ErrInvalidTransition, name)
	}
	moveTo(t, s, "t", storage.StateSent)
	for name, fn := range map[string]func(*storage.Transfer){
		"signed tx changes":    func(tr *storage.Transfer) { tr.SignedTx = []byte{9} },
		"hash changes":         func(tr *storage.Transfer) { tr.TxHash = common.Hash{1} },
		"failed without block": func(tr *storage.Transfer) { tr.State, tr.Reason = storage.StateFailed, "rpc said no" },
	} {
		_, err := s.UpdateTransfer("t", func(tr *storage.Transfer) error { fn(tr); return nil })
		wantErr(t, err, storage.ErrInvalidTransition, name)
	}
	// Mutable fields change in place; Updated moves.
	before, _ := s.Transfer("t")
	got, err := s.UpdateTransfer("t", func(tr *storage.Transfer) error { tr.Reason = "node busy"; tr.MessageID = 77; return nil })
	if err != nil || got.Reason != "node busy" || got.MessageID != 77 || got.Updated.Before(before.Updated) {
		t.Fatal(got, err)
	}
	boom := errors.New("boom")
	_, err = s.UpdateTransfer("t", func(tr *storage.Transfer) error { tr.Reason = "x"; return boom })
	wantErr(t, err, boom, "fn's error")
	_, err = s.UpdateTransfer("nope", func(tr *storage.Transfer) error { return nil })
	wantErr(t, err, storage.ErrNotFound, "unknown transfer")
	// The fee paid is set once.
	got, err = s.UpdateTransfer("t", func(tr *storage.Transfer) error {
		Advance(tr, storage.StateConfirmed)
		tr.FeePaid = big.NewInt(21000)
		return nil
	})
	if err != nil || got.FeePaid.Int64() != 21000 {
		t.Fatal(got, err)
	}
	_, err = s.UpdateTransfer("t", func(tr *storage.Transfer) error { tr.FeePaid = big.NewInt(1); return nil })
	wantErr(t, err, storage.ErrInvalidTransition, "fee paid changes")
}

func testNonceDiscipline(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	for i, n := range []uint64{7, 5, 6} {
		if _, err := s.CreateTransfer(NewTransfer(fmt.Sprint("n", i), 1, n)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.CreateTransfer(NewTransfer("dup", 1, 5))
	wantErr(t, err, storage.ErrNonceInUse, "held nonce")
	// Another chain has its own nonces.
	other := NewTransfer("other-chain", 1, 5)
	other.ChainID = 8453
	if _, err := s.CreateTransfer(other); err != nil {
		t.Fatal(err)
	}
	nonces, err := s.ActiveNonces(11155111, Addr(1))
	if err != nil || fmt.Sprint(nonces) != "[5 6 7]" {
		t.Fatal(nonces, err)
	}
	holders, err := s.NonceHolders(11155111, Addr(1))
	if err != nil || len(holders) != 3 || holders[0].ID != "n1" || holders[1].ID != "n2" || holders[2].ID != "n0" {
		t.Fatal(holders, err)
	}
	// Leaving the active states frees the nonce.
	moveTo(t, s, "n1", storage.StateCancelled)
	moveTo(t, s, "n2", storage.StateConfirmed)
	if nonces, _ := s.ActiveNonces(11155111, Addr(1)); fmt.Sprint(nonces) != "[7]" {
		t.Fatal(nonces)
	}
	if _, err := s.CreateTransfer(NewTransfer("again", 1, 5)); err != nil {
		t.Fatal(err)
	}
	// A signed one keeps it until the chain decides.
	moveTo(t, s, "again", storage.StateSent)
	_, err = s.CreateTransfer(NewTransfer("dup2", 1, 5))
	wantErr(t, err, storage.ErrNonceInUse, "signed holder")
	if nonces, _ := s.ActiveNonces(8453, Addr(1)); fmt.Sprint(nonces) != "[5]" {
		t.Fatal(nonces)
	}
	if nonces, _ := s.ActiveNonces(11155111, Addr(2)); len(nonces) != 0 {
		t.Fatal(nonces)
	}
}

// testNonceConcurrent: many builds at one nonce at once: one holds it.
func testNonceConcurrent(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	const n = 12
	var mu sync.Mutex
	ok, inUse := 0, 0
	parallel(n, func(i int) {
		_, err := s.CreateTransfer(NewTransfer(fmt.Sprint("c", i), 1, 3))
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			ok++
		case errors.Is(err, storage.ErrNonceInUse):
			inUse++
		default:
			t.Error(err)
		}
	})
	if ok != 1 || inUse != n-1 {
		t.Fatalf("%d stored, %d refused", ok, inUse)
	}
	if holders, _ := s.NonceHolders(11155111, Addr(1)); len(holders) != 1 {
		t.Fatal(holders)
	}
}

func replacementOf(id string, orig storage.Transfer) storage.Transfer {
	r := NewTransfer(id, orig.Owner, orig.Nonce)
	r.Kind, r.Replaces, r.To, r.Amount = storage.KindReplacement, orig.ID, orig.From, nil
	return r
}

func testReplacement(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	orig, err := s.CreateTransfer(NewTransfer("orig", 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateTransfer(replacementOf("r0", orig))
	wantErr(t, err, storage.ErrInvalid, "replacing an unsigned transfer")
	bad := replacementOf("r-bad", orig)
	bad.Amount = big.NewInt(1)
	_, err = s.CreateTransfer(bad)
	wantErr(t, err, storage.ErrInvalid, "replacement with value")
	orig = moveTo(t, s, "orig", storage.StateSent)
	r, err := s.CreateTransfer(replacementOf("r1", orig))
	if err != nil || r.Kind != storage.KindReplacement {
		t.Fatal(r, err)
	}
	missing := replacementOf("r2", orig)
	missing.Replaces = "nope"
	_, err = s.CreateTransfer(missing)
	wantErr(t, err, storage.ErrNotFound, "replacing an unknown transfer")
	// The original keeps holding the nonce; the replacement holds none.
	holders, _ := s.NonceHolders(11155111, Addr(1))
	if len(holders) != 1 || holders[0].ID != "orig" {
		t.Fatal(holders)
	}
	// The replacement mined: the original is replaced, the nonce freed.
	moveTo(t, s, "r1", storage.StateConfirmed)
	if _, err := s.UpdateTransfer("orig", func(tr *storage.Transfer) error { Advance(tr, storage.StateReplaced); return nil }); err != nil {
		t.Fatal(err)
	}
	if nonces, _ := s.ActiveNonces(11155111, Addr(1)); len(nonces) != 0 {
		t.Fatal(nonces)
	}
}

func testTransfersByOwnerPaging(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	mustWallet(t, s, 2)
	var ids []string
	for i := range 7 {
		tr := NewTransfer(fmt.Sprint("p", i), 1, uint64(i))
		tr.Created = T0.Add(time.Duration(i) * time.Second)
		if i == 6 {
			tr.Created = T0.Add(5 * time.Second) // same time as p5: the id orders them
		}
		if _, err := s.CreateTransfer(tr); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tr.ID)
	}
	if _, err := s.CreateTransfer(NewTransfer("other", 2, 0)); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ids) // newest first: p6 (p6 > p5 at the same time), p5, p4, ...
	page := func(limit, offset int) string {
		got, err := s.TransfersByOwner(1, limit, offset)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tr := range got {
			out = append(out, tr.ID)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct{ limit, offset int }{{3, 0}, {3, 3}, {3, 6}, {10, 0}, {2, 7}, {1, 1}} {
		want := fmt.Sprint(ids[min(c.offset, len(ids)):min(c.offset+c.limit, len(ids))])
		if want == "[]" {
			want = "[]"
		}
		if got := page(c.limit, c.offset); got != want {
			t.Errorf("limit %d offset %d: %s, want %s", c.limit, c.offset, got, want)
		}
	}
	if got, _ := s.TransfersByOwner(3, 10, 0); len(got) != 0 {
		t.Fatal(got)
	}
	_, err := s.TransfersByOwner(1, 0, 0)
	wantErr(t, err, storage.ErrInvalid, "limit 0")
	_, err = s.TransfersByOwner(1, 1, -1)
	wantErr(t, err, storage.ErrInvalid, "negative offset")
}

func testTransfersInState(t *testing.T, open Open) {
	s := open(t)
	mustWallet(t, s, 1)
	for i, st := range []storage.State{storage.StateSent, storage.StateBuilt, storage.StateApproved, storage.StateConfirmed} {
		tr := NewTransfer(fmt.Sprint("s", i), 1, uint64(i))
		tr.Created = T0.Add(time.Duration(10-i) * time.Second) // s3 oldest
		if _, err := s.CreateTransfer(tr); err != nil {
			t.Fatal(err)
		}
		moveTo(t, s, tr.ID, st)
	}
	got, err := s.TransfersInState(storage.StateBuilt, storage.StateApproved, storage.StateSent, storage.StateBuilt)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tr := range got {
		ids = append(ids, tr.ID)
	}
	if fmt.Sprint(ids) != "[s2 s1 s0]" {
		t.Fatalf("open transfers oldest first: %v", ids)
	}
	if got, _ := s.TransfersInState(storage.StateConfirmed); len(got) != 1 || got[0].ID != "s3" {
		t.Fatal(got)
	}
	if got, _ := s.TransfersInState(); len(got) != 0 {
		t.Fatal(got)
	}
	_, err = s.TransfersInState(storage.State(0))
	wantErr(t, err, storage.ErrInvalid, "state 0")
	_, err = s.TransfersInState(storage.State(10))
	wantErr(t, err, storage.ErrInvalid, "state 10")
}

// testUpdateAtomic: Update's writes commit together or not at all, and its
// reads see its own writes.
func testUpdateAtomic(t *testing.T, open Open) {
	s := open(t)
	boom := errors.New("boom")
	err := s.Update(func(tx storage.Tx) error {
		if _, err := tx.UpsertUser(storage.User{ID: 1, Username: "x"}); err != nil {
			return err
		}
		if _, _, err := tx.CreateWallet(storage.Wallet{Owner: 1, Address: Addr(1), Record: Record(1)}); err != nil {
			return err
		}
		if _, err := tx.WalletByOwner(1); err != nil {
			return err
		}
		if err := tx.PutMeta("k", []byte("v")); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, err, boom, "fn's error")
	_, err = s.User(1)
	wantErr(t, err, storage.ErrNotFound, "rolled-back user")
	_, err = s.WalletByOwner(1)
	wantErr(t, err, storage.ErrNotFound, "rolled-back wallet")
	_, err = s.Meta("k")
	wantErr(t, err, storage.ErrNotFound, "rolled-back meta")

	err = s.Update(func(tx storage.Tx) error {
		if _, _, err := tx.CreateWallet(storage.Wallet{Owner: 1, Address: Addr(1), Record: Record(1)}); err != nil {
			return err
		}
		if _, err := tx.CreateTransfer(NewTransfer("a", 1, 0)); err != nil {
			return err
		}
		// A refusal inside the transaction leaves it usable, as in bbolt.
		if _, err := tx.CreateTransfer(NewTransfer("b", 1, 0)); !errors.Is(err, storage.ErrNonceInUse) {
			return fmt.Errorf("second build at nonce 0: %v", err)
		}
		if _, err := tx.UpdateTransfer("a", func(tr *storage.Transfer) error { Advance(tr, storage.StateCancelled); return nil }); err != nil {
			return err
		}
		if n, err := tx.ActiveNonces(11155111, Addr(1)); err != nil || len(n) != 0 {
			return fmt.Errorf("nonces %v, %v", n, err)
		}
		if _, err := tx.Transfer("a"); err != nil {
			return err
		}
		if got, err := tx.TransfersInState(storage.StateCancelled); err != nil || len(got) != 1 {
			return fmt.Errorf("cancelled %v, %v", got, err)
		}
		if h, err := tx.NonceHolders(11155111, Addr(1)); err != nil || len(h) != 0 {
			return fmt.Errorf("holders %v, %v", h, err)
		}
		if _, err := tx.User(1); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("user: %v", err)
		}
		if _, err := tx.UpsertUser(storage.User{ID: 1}); err != nil {
			return err
		}
		if _, err := tx.UpdateUser(1, func(u *storage.User) error { u.FirstName = "In tx"; return nil }); err != nil {
			return err
		}
		if err := tx.PutMeta("k", []byte("v")); err != nil {
			return err
		}
		v, err := tx.Meta("k")
		if err != nil || string(v) != "v" {
			return fmt.Errorf("meta %q %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := s.Transfer("a"); err != nil || tr.State != storage.StateCancelled {
		t.Fatal(tr, err)
	}
	if u, err := s.User(1); err != nil || u.FirstName != "In tx" {
		t.Fatal(u, err)
	}
}
