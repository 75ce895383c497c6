package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"testing"

	"github.com/autowallet/autowallet/storage"
	"github.com/ethereum/go-ethereum/common"
)

var allStates = []storage.State{storage.StateBuilt, storage.StateApproved, storage.StateSent, storage.StateConfirmed, storage.StateFailed, storage.StateCancelled, storage.StateExpired, storage.StateReplaced, storage.StateSuperseded}

// rawTransfer returns the stored bytes of the transfer and the index
// entries that mention it.
func rawTransfer(t *testing.T, db *DB, tr storage.Transfer) (raw []byte, states []storage.State, nonceHeld bool) {
	t.Helper()
	err := db.view(func(tx *boltTx) error {
		raw = bytes.Clone(tx.tx.Bucket(bucketTransfers).Get([]byte(tr.ID)))
		for _, s := range allStates {
			if tx.tx.Bucket(bucketTransfersByState).Get(stateIndexKey(s, tr.ID)) != nil {
				states = append(states, s)
			}
		}
		ref := tx.tx.Bucket(bucketTransferNonces).Get(nonceKey(tr.ChainID, tr.From, tr.Nonce))
		nonceHeld = ref != nil && string(ref[1:]) == tr.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw, states, nonceHeld
}

// TestTransitionTable tries every pair of states: allowed changes are
// stored with their indexes; all others are refused with
// ErrInvalidTransition and leave the stored bytes as they were.
func TestTransitionTable(t *testing.T) {
	db, _ := openTestDB(t)
	mustWallet(t, db, 1)
	allowed := map[[2]storage.State]bool{
		{storage.StateBuilt, storage.StateApproved}: true, {storage.StateBuilt, storage.StateCancelled}: true, {storage.StateBuilt, storage.StateExpired}: true,
		{storage.StateBuilt, storage.StateSuperseded}: true,
		{storage.StateApproved, storage.StateSent}:    true, {storage.StateApproved, storage.StateConfirmed}: true,
		{storage.StateApproved, storage.StateFailed}: true, {storage.StateApproved, storage.StateReplaced}: true,
		{storage.StateSent, storage.StateApproved}: true, {storage.StateSent, storage.StateConfirmed}: true,
		{storage.StateSent, storage.StateFailed}: true, {storage.StateSent, storage.StateReplaced}: true,
	}
	nonce := uint64(0)
	for _, from := range allStates {
		for _, to := range append(allStates, 0, 99) {
			if from == to {
				continue
			}
			t.Run(fmt.Sprintf("%s->%s", from, to), func(t *testing.T) {
				id := fmt.Sprintf("%s-%s", from, to)
				nonce++
				if _, err := db.CreateTransfer(newTransfer(id, 1, nonce)); err != nil {
					t.Fatal(err)
				}
				before := moveTo(t, db, id, from)
				if before.ID == "" {
					before, _ = db.Transfer(id)
				}
				rawBefore, _, _ := rawTransfer(t, db, before)
				if got := from.CanBecome(to); got != allowed[[2]storage.State{from, to}] {
					t.Errorf("CanBecome = %v, table in test says %v", got, !got)
				}
				after, err := db.UpdateTransfer(id, func(tr *storage.Transfer) error { advance(tr, to); return nil })
				raw, states, held := rawTransfer(t, db, before)
				if allowed[[2]storage.State{from, to}] {
					if err != nil {
						t.Fatalf("allowed change refused: %v", err)
					}
					if after.State != to || !reflect.DeepEqual(states, []storage.State{to}) {
						t.Errorf("state %s, state index %v; want %s", after.State, states, to)
					}
					if held != to.Active() {
						t.Errorf("nonce held %v in state %s", held, to)
					}
					return
				}
				if !errors.Is(err, storage.ErrInvalidTransition) {
					t.Fatalf("got %v, want ErrInvalidTransition", err)
				}
				if !bytes.Equal(raw, rawBefore) || !reflect.DeepEqual(states, []storage.State{from}) || held != from.Active() {
					t.Errorf("refused change altered the store: states %v, nonce held %v", states, held)
				}
			})
		}
	}
}

func TestTransitionRequirementsAndFixedFields(t *testing.T) {
	db, _ := openTestDB(t)
	mustWallet(t, db, 1)
	if _, err := db.CreateTransfer(newTransfer("a", 1, 0)); err != nil {
		t.Fatal(err)
	}
	refuse := func(name string, fn func(*storage.Transfer)) {
		t.Helper()
		before, _ := db.Transfer("a")
		_, err := db.UpdateTransfer("a", func(tr *storage.Transfer) error { fn(tr); return nil })
		if !errors.Is(err, storage.ErrInvalidTransition) {
			t.Errorf("%s: %v, want ErrInvalidTransition", name, err)
		}
		if after, _ := db.Transfer("a"); !reflect.DeepEqual(after, before) {
			t.Errorf("%s: the refused update changed the transfer", name)
		}
	}
	refuse("approve without signed tx", func(tr *storage.Transfer) { tr.State = storage.StateApproved })
	refuse("signed tx without approval", func(tr *storage.Transfer) { tr.SignedTx = []byte{1} })
	refuse("amount", func(tr *storage.Transfer) { tr.Amount.Add(tr.Amount, big.NewInt(1)) })
	refuse("max fee", func(tr *storage.Transfer) { tr.MaxFee = big.NewInt(1) })
	refuse("to", func(tr *storage.Transfer) { tr.To = common.Address{1} })
	refuse("nonce", func(tr *storage.Transfer) { tr.Nonce++ })
	refuse("intent", func(tr *storage.Transfer) { tr.Intent[2] ^= 1 })
	refuse("owner", func(tr *storage.Transfer) { tr.Owner = 2 })
	refuse("id", func(tr *storage.Transfer) { tr.ID = "b" })
	refuse("created", func(tr *storage.Transfer) { tr.Created = tr.Created.Add(1) })

	// Mutable fields change without a state change.
	tr, err := db.UpdateTransfer("a", func(tr *storage.Transfer) error { tr.MessageID = 43; return nil })
	if err != nil || tr.MessageID != 43 || tr.State != storage.StateBuilt {
		t.Fatalf("message id update: %+v, %v", tr, err)
	}
	moveTo(t, db, "a", storage.StateApproved)
	refuse("replace signed tx", func(tr *storage.Transfer) { tr.SignedTx = []byte{9, 9} })
	refuse("replace tx hash", func(tr *storage.Transfer) { tr.TxHash = common.Hash{9} })
	refuse("send without hash", func(tr *storage.Transfer) { tr.State = storage.StateSent; tr.TxHash = common.Hash{} })
	moveTo(t, db, "a", storage.StateSent)
	refuse("confirm without block", func(tr *storage.Transfer) { tr.State = storage.StateConfirmed })
	refuse("fail without reason", func(tr *storage.Transfer) { tr.State = storage.StateFailed; tr.Block = 7 })
	// A node's refusal is not a failure: failed needs the block it was mined in.
	refuse("fail without block", func(tr *storage.Transfer) { tr.State = storage.StateFailed; tr.Reason = "node refused" })
	refuse("replace without reason", func(tr *storage.Transfer) { tr.State = storage.StateReplaced })
	refuse("kind", func(tr *storage.Transfer) { tr.Kind = storage.KindReplacement })
	refuse("replaces", func(tr *storage.Transfer) { tr.Replaces = "x" })

	boom := errors.New("boom")
	if _, err := db.UpdateTransfer("a", func(tr *storage.Transfer) error { tr.State = storage.StateConfirmed; tr.Block = 5; return boom }); err != boom {
		t.Errorf("fn error: %v", err)
	}
	if _, err := db.UpdateTransfer("nope", func(*storage.Transfer) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing transfer: %v", err)
	}
}

func TestCreateTransferChecks(t *testing.T) {
	db, _ := openTestDB(t)
	mustWallet(t, db, 1)
	mustWallet(t, db, 2)
	if _, err := db.CreateTransfer(newTransfer("x", 3, 0)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("owner without wallet: %v", err)
	}
	other := newTransfer("x", 1, 0)
	other.From = addrOf(2)
	if _, err := db.CreateTransfer(other); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("from another user's wallet: %v", err)
	}
	approved := newTransfer("x", 1, 0)
	approved.State = storage.StateApproved
	if _, err := db.CreateTransfer(approved); !errors.Is(err, storage.ErrInvalidTransition) {
		t.Errorf("created approved: %v", err)
	}
	noIntent := newTransfer("x", 1, 0)
	noIntent.Intent = nil
	if _, err := db.CreateTransfer(noIntent); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("no intent: %v", err)
	}
	neg := newTransfer("x", 1, 0)
	neg.Amount = big.NewInt(-1)
	if _, err := db.CreateTransfer(neg); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("negative amount: %v", err)
	}
	tr, err := db.CreateTransfer(newTransfer("x", 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if tr.State != storage.StateBuilt || tr.Created.IsZero() || !tr.Updated.Equal(tr.Created) {
		t.Errorf("defaults not applied: %+v", tr)
	}
	if _, err := db.CreateTransfer(newTransfer("x", 1, 1)); !errors.Is(err, storage.ErrTransferExists) {
		t.Errorf("duplicate id: %v", err)
	}
}

func TestNonceDiscipline(t *testing.T) {
	db, _ := openTestDB(t)
	w1 := mustWallet(t, db, 1)
	w2 := mustWallet(t, db, 2)
	nonces := func(w storage.Wallet) []uint64 {
		t.Helper()
		ns, err := db.ActiveNonces(11155111, w.Address)
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	for _, n := range []uint64{5, 3, 4} {
		if _, err := db.CreateTransfer(newTransfer(fmt.Sprint("n", n), 1, n)); err != nil {
			t.Fatal(err)
		}
	}
	if got := nonces(w1); !reflect.DeepEqual(got, []uint64{3, 4, 5}) {
		t.Fatalf("active nonces %v", got)
	}
	// Same nonce, same wallet: refused while n4 is active.
	if _, err := db.CreateTransfer(newTransfer("dup", 1, 4)); !errors.Is(err, storage.ErrNonceInUse) {
		t.Fatalf("duplicate nonce: %v", err)
	}
	// Same nonce on another wallet is fine.
	if _, err := db.CreateTransfer(newTransfer("w2-4", 2, 4)); err != nil {
		t.Fatal(err)
	}
	if got := nonces(w2); !reflect.DeepEqual(got, []uint64{4}) {
		t.Errorf("wallet 2 nonces %v", got)
	}
	// Approved and sent still hold the nonce.
	moveTo(t, db, "n4", storage.StateSent)
	if _, err := db.CreateTransfer(newTransfer("dup", 1, 4)); !errors.Is(err, storage.ErrNonceInUse) {
		t.Fatalf("nonce of a sent transfer: %v", err)
	}
	// Final states free it: cancelled, expired, failed, confirmed.
	moveTo(t, db, "n3", storage.StateCancelled)
	moveTo(t, db, "n5", storage.StateExpired)
	if _, err := db.UpdateTransfer("n4", func(tr *storage.Transfer) error { advance(tr, storage.StateFailed); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := nonces(w1); len(got) != 0 {
		t.Fatalf("nonces still held: %v", got)
	}
	if _, err := db.CreateTransfer(newTransfer("retry4", 1, 4)); err != nil {
		t.Fatalf("reuse freed nonce: %v", err)
	}
	moveTo(t, db, "retry4", storage.StateConfirmed)
	if got := nonces(w1); len(got) != 0 {
		t.Fatalf("confirmed transfer holds its nonce: %v", got)
	}
	// The freed transfer still reads back intact.
	if tr, err := db.Transfer("n4"); err != nil || tr.State != storage.StateFailed || tr.Nonce != 4 {
		t.Errorf("n4: %+v, %v", tr, err)
	}
}

func TestTransfersByOwnerPaging(t *testing.T) {
	db, _ := openTestDB(t)
	// Owners whose keys are neighbours: 255, 256, 257.
	for _, o := range []int64{255, 256, 257} {
		mustWallet(t, db, o)
	}
	var ids []string
	for i := range 25 {
		for _, o := range []int64{255, 256, 257} {
			id := fmt.Sprintf("o%d-%02d", o, i)
			if _, err := db.CreateTransfer(newTransfer(id, o, uint64(i))); err != nil {
				t.Fatal(err)
			}
			if o == 256 {
				ids = append(ids, id)
			}
		}
	}
	newestFirst := make([]string, len(ids))
	for i, id := range ids {
		newestFirst[len(ids)-1-i] = id
	}
	page := func(limit, offset int) []string {
		t.Helper()
		ts, err := db.TransfersByOwner(256, limit, offset)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tr := range ts {
			out = append(out, tr.ID)
		}
		return out
	}
	if got := page(10, 0); !reflect.DeepEqual(got, newestFirst[:10]) {
		t.Errorf("page 1: %v", got)
	}
	if got := page(10, 10); !reflect.DeepEqual(got, newestFirst[10:20]) {
		t.Errorf("page 2: %v", got)
	}
	if got := page(10, 20); !reflect.DeepEqual(got, newestFirst[20:]) {
		t.Errorf("page 3: %v", got)
	}
	if got := page(10, 30); len(got) != 0 {
		t.Errorf("past the end: %v", got)
	}
	if ts, err := db.TransfersByOwner(1<<62, 10, 0); err != nil || len(ts) != 0 {
		t.Errorf("unknown owner: %v, %v", ts, err)
	}
	if _, err := db.TransfersByOwner(256, 0, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("limit 0: %v", err)
	}
}

func TestTransfersInState(t *testing.T) {
	db, _ := openTestDB(t)
	mustWallet(t, db, 1)
	for i, s := range allStates {
		id := fmt.Sprintf("t%d", i)
		if _, err := db.CreateTransfer(newTransfer(id, 1, uint64(i))); err != nil {
			t.Fatal(err)
		}
		moveTo(t, db, id, s)
	}
	ts, err := db.TransfersInState(storage.StateSent, storage.StateApproved, storage.StateSent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].ID != "t1" || ts[1].ID != "t2" {
		t.Errorf("approved+sent, oldest first: %+v", ts)
	}
	if ts, _ := db.TransfersInState(storage.StateBuilt); len(ts) != 1 || ts[0].ID != "t0" {
		t.Errorf("built: %+v", ts)
	}
	if _, err := db.TransfersInState(storage.State(0)); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("state 0: %v", err)
	}
}

// TestReplacementSharesTheNonce: a replacement is created only for a signed
// open transfer of the same wallet and nonce, holds no index entry of its
// own, and the original's nonce stays held until the original is final.
func TestReplacementSharesTheNonce(t *testing.T) {
	db, _ := openTestDB(t)
	w := mustWallet(t, db, 1)
	mustWallet(t, db, 2)
	if _, err := db.CreateTransfer(newTransfer("orig", 1, 4)); err != nil {
		t.Fatal(err)
	}
	repl := func(id, of string, nonce uint64) storage.Transfer {
		r := newTransfer(id, 1, nonce)
		r.Kind, r.Replaces, r.To, r.Amount = storage.KindReplacement, of, w.Address, new(big.Int)
		return r
	}
	// Not yet signed: nothing to replace.
	if _, err := db.CreateTransfer(repl("r0", "orig", 4)); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("replacement of a built transfer: %v", err)
	}
	moveTo(t, db, "orig", storage.StateSent)
	bad := map[string]storage.Transfer{
		"other nonce":     repl("r1", "orig", 5),
		"unknown":         repl("r1", "nope", 4),
		"pays someone":    func() storage.Transfer { r := repl("r1", "orig", 4); r.To = common.Address{9}; return r }(),
		"pays an amount":  func() storage.Transfer { r := repl("r1", "orig", 4); r.Amount = big.NewInt(1); return r }(),
		"names no one":    func() storage.Transfer { r := repl("r1", "", 4); return r }(),
		"ordinary naming": func() storage.Transfer { r := newTransfer("r1", 1, 9); r.Replaces = "orig"; return r }(),
	}
	for name, r := range bad {
		if _, err := db.CreateTransfer(r); !errors.Is(err, storage.ErrInvalid) && !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	if _, err := db.CreateTransfer(repl("r1", "orig", 4)); err != nil {
		t.Fatal(err)
	}
	holders, err := db.NonceHolders(11155111, w.Address)
	if err != nil || len(holders) != 1 || holders[0].ID != "orig" {
		t.Fatalf("nonce holders %+v, %v; want only orig", holders, err)
	}
	moveTo(t, db, "r1", storage.StateApproved)
	// The replacement is mined: the original becomes replaced and frees the nonce.
	if _, err := db.UpdateTransfer("orig", func(tr *storage.Transfer) error { advance(tr, storage.StateReplaced); return nil }); err != nil {
		t.Fatal(err)
	}
	if ns, _ := db.ActiveNonces(11155111, w.Address); len(ns) != 0 {
		t.Fatalf("nonces held after the original was replaced: %v", ns)
	}
	if _, err := db.UpdateTransfer("r1", func(tr *storage.Transfer) error { advance(tr, storage.StateConfirmed); return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := db.Transfer("r1")
	if err != nil || got.Kind != storage.KindReplacement || got.Replaces != "orig" || got.State != storage.StateConfirmed {
		t.Fatalf("replacement read back %+v, %v", got, err)
	}
}
