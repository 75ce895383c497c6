// Package storagetest is the conformance suite of storage.Store: one set of
// tests that every engine (bbolt in package storage, PostgreSQL in
// storage/postgres) passes, so both behave the same way. Refusals are
// checked by their sentinel errors (errors.Is), concurrency with real
// goroutines against the real engine.
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { ... a fresh, empty store ... })
//	}
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// Open returns a fresh, empty store for one test; the test closes it (or
// registers its closing with t.Cleanup).
type Open func(t *testing.T) storage.Store

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Open)
	}{
		{"Meta", testMeta},
		{"MetaCreateOnce", testMetaCreateOnce},
		{"Users", testUsers},
		{"Usernames", testUsernames},
		{"WalletOnePerOwner", testWalletOnePerOwner},
		{"WalletConcurrentSameOwner", testWalletConcurrentSameOwner},
		{"WalletConcurrentSameAddress", testWalletConcurrentSameAddress},
		{"FirstWallet", testFirstWallet},
		{"CreateTransferChecks", testCreateTransferChecks},
		{"TransitionTable", testTransitionTable},
		{"TransitionRequirements", testTransitionRequirements},
		{"NonceDiscipline", testNonceDiscipline},
		{"NonceConcurrent", testNonceConcurrent},
		{"Replacement", testReplacement},
		{"TransfersByOwnerPaging", testTransfersByOwnerPaging},
		{"TransfersInState", testTransfersInState},
		{"UpdateAtomic", testUpdateAtomic},
		{"DepositsOnceAndOutbox", testDeposits},
		{"DepositsRefuseBadInput", testDepositsRefuse},
		{"UpdateClaims", testUpdateClaims},
		{"UpdateClaimConcurrent", testUpdateClaimConcurrent},
		{"Leases", testLeases},
		{"LeaseConcurrent", testLeaseConcurrent},
		{"Flows", testFlows},
		{"FlowConcurrent", testFlowConcurrent},
		{"CopyRoundTrip", testCopyRoundTrip},
		{"CardEdits", testCardEdits},
		{"WalletCards", testWalletCards},
		{"SendSlots", testSendSlots},
		{"PruneSendSlots", testPruneSendSlots},
		{"PruneSendSlotsConcurrent", testPruneSendSlotsConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// ---- fixtures ----

// T0 is the time the fixtures' transfers are created around.
var T0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Addr is owner's wallet address in the fixtures.
func Addr(owner int64) common.Address { return common.BigToAddress(big.NewInt(0x1000 + owner)) }

// Record is a sealed record of a real record's size (89 bytes).
func Record(owner int64) []byte {
	r := make([]byte, 89)
	r[0] = 1
	copy(r[1:], fmt.Sprintf("sealed-record-owner-%d", owner))
	return r
}

func mustWallet(t *testing.T, s storage.Store, owner int64) storage.Wallet {
	t.Helper()
	w, _, err := s.CreateWallet(storage.Wallet{Owner: owner, Address: Addr(owner), Record: Record(owner)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// NewTransfer is a valid new transfer of owner at nonce.
func NewTransfer(id string, owner int64, nonce uint64) storage.Transfer {
	return storage.Transfer{
		ID: id, Owner: owner, ChatID: owner, MessageID: 42, ChainID: 11155111,
		From: Addr(owner), To: common.HexToAddress("0x00000000000000000000000000000000000000aa"),
		Amount: big.NewInt(50_000_000_000_000_000), Nonce: nonce, MaxFee: big.NewInt(21000 * 30_000_000_000),
		Intent: []byte{0x01, 0x01, byte(nonce)}, StartParam: "AQE" + id,
		Expiry: T0.Add(15 * time.Minute),
	}
}

// Advance sets what state s requires and moves t to s.
func Advance(t *storage.Transfer, s storage.State) {
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

// PathTo lists the states to pass through from built to reach s.
func PathTo(s storage.State) []storage.State {
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

func moveTo(t *testing.T, s storage.Store, id string, to storage.State) storage.Transfer {
	t.Helper()
	var tr storage.Transfer
	for _, step := range PathTo(to) {
		var err error
		tr, err = s.UpdateTransfer(id, func(tr *storage.Transfer) error { Advance(tr, step); return nil })
		if err != nil {
			t.Fatalf("move %s to %s: %v", id, step, err)
		}
	}
	return tr
}

func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// parallel runs fn(i) for i in [0, n) on n goroutines at once.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; fn(i) }()
	}
	close(start)
	wg.Wait()
}

// ---- meta, users ----

func testMeta(t *testing.T, open Open) {
	s := open(t)
	_, err := s.Meta("vault")
	wantErr(t, err, storage.ErrNotFound, "missing meta")
	for _, v := range [][]byte{[]byte("blob-1"), []byte("blob-2"), {}} {
		if err := s.PutMeta("vault", v); err != nil {
			t.Fatal(err)
		}
		got, err := s.Meta("vault")
		if err != nil || string(got) != string(v) {
			t.Fatalf("meta = %q, %v; want %q", got, err, v)
		}
	}
	for _, k := range []string{"", "schema_version", string(make([]byte, 256))} {
		wantErr(t, s.PutMeta(k, []byte("x")), storage.ErrInvalid, fmt.Sprintf("put meta %q", k))
		_, err := s.Meta(k)
		wantErr(t, err, storage.ErrInvalid, "get meta with a bad key")
	}
	if v, err := s.SchemaVersion(); err != nil || v == 0 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping an open store: %v", err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	wantErr(t, s.Ping(done), context.Canceled, "ping with a cancelled context")
}

// testMetaCreateOnce: of many concurrent create-if-absent transactions
// on one key exactly one stores, every other one reads its value, and no
// later create replaces it (the first vault key's blob, parent/unlock.go).
func testMetaCreateOnce(t *testing.T, open Open) {
	s := open(t)
	for round := range 5 {
		key := fmt.Sprintf("vault-%d", round)
		const n = 8
		stored := make([][]byte, n)
		created := make([]bool, n)
		errs := make([]error, n)
		parallel(n, func(i int) {
			errs[i] = s.Update(func(tx storage.Tx) error {
				var err error
				stored[i], created[i], err = tx.CreateMeta(key, []byte(fmt.Sprintf("blob-%d", i)))
				return err
			})
		})
		winners := 0
		got, err := s.Meta(key)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("create %d: %v", i, errs[i])
			}
			if created[i] {
				winners++
				if string(got) != fmt.Sprintf("blob-%d", i) {
					t.Fatalf("round %d: %d created but %q is stored", round, i, got)
				}
			}
			if string(stored[i]) != string(got) {
				t.Fatalf("round %d: create %d answered %q, stored is %q", round, i, stored[i], got)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d creates stored", round, winners)
		}
		if err := s.Update(func(tx storage.Tx) error {
			v, c, err := tx.CreateMeta(key, []byte("late"))
			if err == nil && (c || string(v) != string(got)) {
				t.Fatalf("a late create replaced or misread: %q, %v", v, c)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Update(func(tx storage.Tx) error { _, _, err := tx.CreateMeta("", []byte("x")); return err })
	wantErr(t, err, storage.ErrInvalid, "create meta with an empty key")
}

func testUsers(t *testing.T, open Open) {
	s := open(t)
	_, err := s.User(1)
	wantErr(t, err, storage.ErrNotFound, "unknown user")
	u, err := s.UpsertUser(storage.User{ID: 1, ChatID: 10, FirstName: "Ann", Username: "ann", Language: "en"})
	if err != nil || u.Created.IsZero() {
		t.Fatalf("upsert: %+v, %v", u, err)
	}
	u2, err := s.UpdateUser(1, func(u *storage.User) error { u.Settings = storage.Settings{ChainID: 8453, Muted: true}; return nil })
	if err != nil || u2.Settings.ChainID != 8453 {
		t.Fatal(u2, err)
	}
	// A second upsert refreshes the profile, keeps Created and Settings.
	u3, err := s.UpsertUser(storage.User{ID: 1, ChatID: 11, FirstName: "Anna", Created: T0})
	if err != nil || !u3.Created.Equal(u.Created) || u3.Settings != u2.Settings || u3.FirstName != "Anna" || u3.ChatID != 11 {
		t.Fatalf("second upsert: %+v, %v", u3, err)
	}
	got, err := s.User(1)
	if err != nil || got.FirstName != "Anna" || !got.Created.Equal(u.Created) || got.Settings != u2.Settings || got.Username != "" {
		t.Fatalf("stored %+v, %v", got, err)
	}
	_, err = s.UpsertUser(storage.User{ID: 0})
	wantErr(t, err, storage.ErrInvalid, "user id 0")
	_, err = s.UpsertUser(storage.User{ID: 2, Language: string(make([]byte, 65))})
	wantErr(t, err, storage.ErrInvalid, "long language")
	_, err = s.UpdateUser(1, func(u *storage.User) error { u.ID = 3; return nil })
	wantErr(t, err, storage.ErrInvalid, "changing the id")
	_, err = s.UpdateUser(1, func(u *storage.User) error { u.Created = u.Created.Add(time.Second); return nil })
	wantErr(t, err, storage.ErrInvalid, "changing created")
	boom := errors.New("boom")
	_, err = s.UpdateUser(1, func(u *storage.User) error { u.FirstName = "X"; return boom })
	wantErr(t, err, boom, "fn's error")
	_, err = s.UpdateUser(9, func(u *storage.User) error { return nil })
	wantErr(t, err, storage.ErrNotFound, "update unknown user")
	if got, _ := s.User(1); got.FirstName != "Anna" {
		t.Fatalf("a failed update changed the user: %+v", got)
	}
	// Times keep their nanoseconds.
	ns := T0.Add(123456789 * time.Nanosecond)
	if u, err := s.UpsertUser(storage.User{ID: 5, Created: ns}); err != nil || !u.Created.Equal(ns) {
		t.Fatal(u, err)
	}
	if u, err := s.User(5); err != nil || !u.Created.Equal(ns) {
		t.Fatalf("created %v, want %v (%v)", u.Created, ns, err)
	}
}

func testUsernames(t *testing.T, open Open) {
	s := open(t)
	if _, err := s.UpsertUser(storage.User{ID: 1, Username: "Bob"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"bob", "@BOB", "Bob"} {
		if u, err := s.UserByUsername(q); err != nil || u.ID != 1 {
			t.Fatalf("%q: %+v, %v", q, u, err)
		}
	}
	_, err := s.UserByUsername("")
	wantErr(t, err, storage.ErrNotFound, "empty name")
	// User 1 renames: the old name finds no one.
	if _, err := s.UpsertUser(storage.User{ID: 1, Username: "robert"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UserByUsername("bob")
	wantErr(t, err, storage.ErrNotFound, "old name")
	// User 2 takes "robert" while user 1's stored profile still says so:
	// the latest profile seen wins.
	if _, err := s.UpsertUser(storage.User{ID: 2, Username: "Robert"}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.UserByUsername("robert"); err != nil || u.ID != 2 {
		t.Fatalf("robert: %+v, %v", u, err)
	}
	u1, _ := s.User(1)
	u2, _ := s.User(2)
	if s.UsernameIndexed(u1) || !s.UsernameIndexed(u2) || !s.UsernameIndexed(storage.User{ID: 3}) {
		t.Fatal("UsernameIndexed")
	}
	// User 2 drops the name: nobody is found under it.
	if _, err := s.UpsertUser(storage.User{ID: 2}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UserByUsername("robert")
	wantErr(t, err, storage.ErrNotFound, "dropped name")
}

// ---- wallets ----

func testWalletOnePerOwner(t *testing.T, open Open) {
	s := open(t)
	_, err := s.WalletByOwner(1)
	wantErr(t, err, storage.ErrNotFound, "no wallet")
	w, created, err := s.CreateWallet(storage.Wallet{Owner: 1, Address: Addr(1), Record: Record(1)})
	if err != nil || !created || w.Created.IsZero() {
		t.Fatal(w, created, err)
	}
	// A second wallet for the owner is not stored: the first comes back.
	w2, created, err := s.CreateWallet(storage.Wallet{Owner: 1, Address: Addr(99), Record: Record(99)})
	if err != nil || created || w2.Address != Addr(1) || string(w2.Record) != string(Record(1)) || !w2.Created.Equal(w.Created) {
		t.Fatal(w2, created, err)
	}
	_, _, err = s.CreateWallet(storage.Wallet{Owner: 2, Address: Addr(1), Record: Record(2)})
	wantErr(t, err, storage.ErrWalletExists, "another owner's address")
	if got, err := s.WalletByAddress(Addr(1)); err != nil || got.Owner != 1 {
		t.Fatal(got, err)
	}
	_, err = s.WalletByAddress(Addr(99))
	wantErr(t, err, storage.ErrNotFound, "unused address")
	for name, bad := range map[string]storage.Wallet{
		"owner 0":      {Owner: 0, Address: Addr(3), Record: Record(3)},
		"zero address": {Owner: 3, Record: Record(3)},
		"no record":    {Owner: 3, Address: Addr(3)},
		"huge record":  {Owner: 3, Address: Addr(3), Record: make([]byte, 4097)},
	} {
		_, _, err := s.CreateWallet(bad)
		wantErr(t, err, storage.ErrInvalid, name)
	}
	// The record is kept byte for byte, and so is the time.
	rec := []byte{0, 1, 2, 0xff, 0}
	at := T0.Add(987654321)
	if _, _, err := s.CreateWallet(storage.Wallet{Owner: 4, Address: Addr(4), Record: rec, Created: at}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.WalletByOwner(4); err != nil || string(got.Record) != string(rec) || !got.Created.Equal(at) {
		t.Fatal(got, err)
	}
	var owners []int64
	if err := s.ForEachWallet(func(w storage.Wallet) error { owners = append(owners, w.Owner); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(owners) != "[1 4]" {
		t.Fatalf("ForEachWallet owners %v", owners)
	}
	n := 0
	if err := s.ForEachWalletAddress(func(a common.Address, owner int64) error {
		if a != Addr(owner) && owner != 4 {
			t.Errorf("%s -> %d", a, owner)
		}
		n++
		return nil
	}); err != nil || n != 2 {
		t.Fatal(n, err)
	}
	stop := errors.New("stop")
	wantErr(t, s.ForEachWallet(func(storage.Wallet) error { return stop }), stop, "ForEachWallet stops")
}

// testFirstWallet: ErrNotFound on an empty store (the parent may then make
// the first vault key), else the wallet of the lowest owner, whatever the
// order of creation, with its record byte for byte (the parent checks the
// vault key against it: parent/unlock.go).
func testFirstWallet(t *testing.T, open Open) {
	s := open(t)
	_, err := s.FirstWallet()
	wantErr(t, err, storage.ErrNotFound, "first wallet of an empty store")
	want := int64(1 << 62)
	for _, owner := range []int64{500, 1 << 40, 7, 300} {
		mustWallet(t, s, owner)
		want = min(want, owner)
		w, err := s.FirstWallet()
		if err != nil || w.Owner != want || w.Address != Addr(want) || string(w.Record) != string(Record(want)) {
			t.Fatalf("after creating %d: first wallet %d %s, %v; want %d", owner, w.Owner, w.Address, err, want)
		}
	}
}

// testWalletConcurrentSameOwner: many taps on "Create wallet" at once
// leave exactly one wallet, and every caller gets it.
func testWalletConcurrentSameOwner(t *testing.T, open Open) {
	s := open(t)
	const n = 16
	var mu sync.Mutex
	created := 0
	addrs := map[common.Address]int{}
	parallel(n, func(i int) {
		w, c, err := s.CreateWallet(storage.Wallet{Owner: 7, Address: Addr(int64(100 + i)), Record: Record(int64(100 + i))})
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if c {
			created++
		}
		addrs[w.Address]++
	})
	if created != 1 || len(addrs) != 1 {
		t.Fatalf("created %d, addresses %v", created, addrs)
	}
	w, err := s.WalletByOwner(7)
	if err != nil || addrs[w.Address] != n {
		t.Fatal(w, err)
	}
}

// testWalletConcurrentSameAddress: one address, many owners at once: one
// gets it, the others ErrWalletExists.
func testWalletConcurrentSameAddress(t *testing.T, open Open) {
	s := open(t)
	const n = 8
	var mu sync.Mutex
	ok, exists := 0, 0
	parallel(n, func(i int) {
		_, _, err := s.CreateWallet(storage.Wallet{Owner: int64(200 + i), Address: Addr(1), Record: Record(1)})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			ok++
		case errors.Is(err, storage.ErrWalletExists):
			exists++
		default:
			t.Error(err)
		}
	})
	if ok != 1 || exists != n-1 {
		t.Fatalf("%d stored, %d refused", ok, exists)
	}
}
