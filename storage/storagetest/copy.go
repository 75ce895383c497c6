package storagetest

import (
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// Fill stores a bit of everything in s: users (with usernames, one stale),
// wallets, transfers in every kind of state and a replacement, deposits
// with their alerts (one delivered), a watch cursor and meta values.
func Fill(t testing.TB, s storage.Store) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for id := int64(1); id <= 5; id++ {
		_, err := s.UpsertUser(storage.User{ID: id, ChatID: id * 10, FirstName: fmt.Sprint("User ", id), Username: fmt.Sprint("user", id), Language: "en", Created: T0.Add(time.Duration(id))})
		must(err)
		_, _, err = s.CreateWallet(storage.Wallet{Owner: id, Address: Addr(id), Record: Record(id), Created: T0.Add(time.Duration(id) * time.Second)})
		must(err)
	}
	_, err := s.UpsertUser(storage.User{ID: 5, Username: "user1"}) // user 1's name now points to 5
	must(err)
	_, err = s.UpdateUser(2, func(u *storage.User) error { u.Settings = storage.Settings{ChainID: 8453, Muted: true}; return nil })
	must(err)
	for i, st := range allStates {
		tr := NewTransfer(fmt.Sprint("t", i), 1+int64(i%3), uint64(i))
		tr.Created = T0.Add(time.Duration(i) * time.Minute)
		tr.L1Fee = big.NewInt(int64(i))
		_, err := s.CreateTransfer(tr)
		must(err)
		if st != storage.StateBuilt {
			var last storage.Transfer
			for _, step := range PathTo(st) {
				last, err = s.UpdateTransfer(tr.ID, func(tr *storage.Transfer) error { Advance(tr, step); return nil })
				must(err)
			}
			_ = last
		}
	}
	orig, err := s.Transfer("t2") // sent
	must(err)
	r := NewTransfer("r2", orig.Owner, orig.Nonce)
	r.Kind, r.Replaces, r.To, r.Amount = storage.KindReplacement, orig.ID, orig.From, nil
	_, err = s.CreateTransfer(r)
	must(err)
	_, err = s.StoreWatchedBlocks(cursor(20), []storage.Deposit{deposit(1, 1, 10, T0), deposit(2, 2, 11, T0.Add(time.Minute)), deposit(3, 3, 12, T0.Add(2*time.Minute))})
	must(err)
	alerts, err := s.PendingAlerts(1)
	must(err)
	must(s.AlertDelivered(alerts[0].Seq))
	must(s.PutMeta("vault", []byte("kms-ciphertext")))
	must(s.PutMeta("identity", []byte{0, 1, 2}))
	// Cards: two users' wallet cards; of the card edits the state changes
	// above queued (NewTransfer has a card), all but the last two made.
	must(s.SetWalletCard(1, storage.Card{ChatID: 10, MessageID: 100}))
	must(s.SetWalletCard(3, storage.Card{ChatID: 30, MessageID: 300}))
	edits, err := s.PendingCardEdits(0, 100)
	must(err)
	if len(edits) < 3 {
		t.Fatalf("card edits queued: %+v", edits)
	}
	for _, e := range edits[:len(edits)-2] {
		must(s.CardEditsDone(e.Seq))
	}
}

// testCopyRoundTrip copies a filled store into a bbolt file and from there
// into a fresh store of the engine under test: the summaries (counts per
// kind, SHA-256 over every record) agree at each step, the copy answers
// queries as the original does, a second copy changes nothing, and a target
// holding different data is refused by name.
func testCopyRoundTrip(t *testing.T, open Open) {
	src := open(t)
	srcC, ok := src.(storage.Copier)
	if !ok {
		t.Fatalf("%T does not implement storage.Copier", src)
	}
	Fill(t, src)
	file, err := bolt.Open(filepath.Join(t.TempDir(), "data"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sum1, err := storage.Copy(file, srcC)
	if err != nil {
		t.Fatal(err)
	}
	if sum1.Counts[storage.ItemWallet] != 5 || sum1.Counts[storage.ItemTransfer] != 10 || sum1.Counts[storage.ItemAlert] != 2 ||
		sum1.Counts[storage.ItemDeposit] != 3 || sum1.Counts[storage.ItemMeta] != 2 || sum1.Counts[storage.ItemUsername] != 4 || sum1.Counts[storage.ItemCursor] != 1 ||
		sum1.Counts[storage.ItemWalletCard] != 2 || sum1.Counts[storage.ItemCardEdit] != 2 {
		t.Fatalf("summary %s", sum1)
	}
	edits, err := src.PendingCardEdits(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	dst := open(t)
	dstC := dst.(storage.Copier)
	sum2, err := storage.Copy(dstC, file)
	if err != nil {
		t.Fatal(err)
	}
	if !sum2.Equal(sum1) {
		t.Fatalf("round trip: %s != %s", sum2, sum1)
	}
	// Again: nothing changes.
	if sum3, err := storage.Copy(dstC, file); err != nil || !sum3.Equal(sum1) {
		t.Fatal("second copy:", sum3, err)
	}
	// The copy answers as the original.
	for _, s := range []storage.Store{src, dst} {
		if u, err := s.UserByUsername("user1"); err != nil || u.ID != 5 {
			t.Fatal("username", u, err)
		}
		if w, err := s.WalletByAddress(Addr(3)); err != nil || w.Owner != 3 || string(w.Record) != string(Record(3)) {
			t.Fatal(w, err)
		}
		if h, err := s.NonceHolders(11155111, Addr(3)); err != nil || len(h) != 1 || h[0].ID != "t2" {
			t.Fatal("holders", h, err)
		}
		if a, err := s.PendingAlerts(10); err != nil || len(a) != 2 || a[0].Deposit.Owner != 2 {
			t.Fatal("alerts", a, err)
		}
		if tr, err := s.TransfersByOwner(1, 2, 0); err != nil || len(tr) != 2 || tr[0].ID != "t6" {
			t.Fatal("history", tr, err)
		}
		if c, err := s.WalletCard(3); err != nil || c != (storage.Card{ChatID: 30, MessageID: 300}) {
			t.Fatal("wallet card", c, err)
		}
		if e, err := s.PendingCardEdits(0, 10); err != nil || len(e) != 2 || e[0] != edits[0] || e[1] != edits[1] {
			t.Fatal("card edits", e, edits, err)
		}
	}
	// New work continues after the copy: the outbox sequence goes on, a
	// copied nonce is held.
	if _, err := dst.StoreWatchedBlocks(cursor(21), []storage.Deposit{deposit(4, 9, 21, T0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	a, _ := dst.PendingAlerts(10)
	if len(a) != 3 || a[2].Seq <= a[1].Seq {
		t.Fatalf("alerts after the copy: %+v", a)
	}
	_, err = dst.CreateTransfer(NewTransfer("dup", 3, 2))
	wantErr(t, err, storage.ErrNonceInUse, "copied nonce")
	// The card queue goes on after the copied edits too.
	if _, err := dst.UpdateTransfer("t1", func(tr *storage.Transfer) error { Advance(tr, storage.StateSent); return nil }); err != nil {
		t.Fatal(err)
	}
	if e, err := dst.PendingCardEdits(edits[1].Seq, 10); err != nil || len(e) != 1 || e[0].TransferID != "t1" {
		t.Fatalf("card edit after the copy: %+v %v", e, err)
	}
	// The target now differs (the new deposit): a copy into it is refused
	// by the final check; and different data under one key is named.
	if err := dst.PutMeta("vault", []byte("other")); err != nil {
		t.Fatal(err)
	}
	_, err = storage.Copy(dstC, file)
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("copy onto different data: %v", err)
	}
	if got := err.Error(); !strings.Contains(got, `meta "vault"`) {
		t.Fatalf("the error does not name the record: %s", got)
	}
}
