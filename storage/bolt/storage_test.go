package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
	"go.etcd.io/bbolt"
)

func TestOpenCreatesPrivateFileWithSchema(t *testing.T) {
	db, dir := openTestDB(t)
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode %o, want 600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("data folder mode %o, want 700", got)
	}
	err = db.bdb.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		v, err := decodeSchemaVersion(tx.Bucket(bucketMeta).Get(metaSchemaKey))
		if err != nil || v != SchemaVersion {
			t.Errorf("schema version %d, %v; want %d", v, err, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenTightensFileMode(t *testing.T) {
	db, dir := openTestDB(t)
	db.Close()
	path := filepath.Join(dir, FileName)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, _ := os.Stat(path)
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode %o after reopen, want 600", got)
	}
}

func TestLockedFileIsRefused(t *testing.T) {
	db, _ := openTestDB(t)
	_, err := OpenFile(db.Path(), Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "another process") || !strings.Contains(err.Error(), db.Path()) {
		t.Errorf("message does not say who holds what: %q", err)
	}
	// Once the first holder closes, the file opens.
	db.Close()
	db2, err := OpenFile(db.Path(), Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	db2.Close()
}

func TestSchemaTooNewIsRefusedAndFileUntouched(t *testing.T) {
	db, dir := openTestDB(t)
	mustWallet(t, db, 7)
	if err := db.bdb.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaSchemaKey, encodeSchemaVersion(SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	path := filepath.Join(dir, FileName)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Fatalf("open: %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", SchemaVersion+1)) || !strings.Contains(err.Error(), "upgrade") {
		t.Errorf("unclear message: %q", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the refused file was modified")
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	db, dir := openTestDB(t)
	u, err := db.UpsertUser(storage.User{ID: 7, ChatID: 7, FirstName: "Ada", Username: "ada", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	w := mustWallet(t, db, 7)
	tr, err := db.CreateTransfer(newTransfer("t1", 7, 0))
	if err != nil {
		t.Fatal(err)
	}
	tr = moveTo(t, db, "t1", storage.StateSent)
	if err := db.PutMeta("kms_blob", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.User(7); err != nil || !reflect.DeepEqual(got, u) {
		t.Errorf("user %+v, %v; want %+v", got, err, u)
	}
	if got, err := db.WalletByOwner(7); err != nil || !reflect.DeepEqual(got, w) {
		t.Errorf("wallet %+v, %v; want %+v", got, err, w)
	}
	if got, err := db.WalletByAddress(w.Address); err != nil || got.Owner != 7 {
		t.Errorf("wallet by address %+v, %v", got, err)
	}
	if got, err := db.Transfer("t1"); err != nil || !reflect.DeepEqual(got, tr) {
		t.Errorf("transfer %+v, %v;\nwant %+v", got, err, tr)
	}
	if got, err := db.Meta("kms_blob"); err != nil || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("meta %x, %v", got, err)
	}
	if ns, err := db.ActiveNonces(11155111, w.Address); err != nil || !reflect.DeepEqual(ns, []uint64{0}) {
		t.Errorf("active nonces %v, %v", ns, err)
	}
}

func TestMeta(t *testing.T) {
	db, _ := openTestDB(t)
	if _, err := db.Meta("missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if err := db.PutMeta(string(metaSchemaKey), []byte{9}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("schema key is writable: %v", err)
	}
	if err := db.PutMeta("", nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("empty key: %v", err)
	}
	for _, v := range [][]byte{{}, []byte("blob"), []byte("replaced")} {
		if err := db.PutMeta("k", v); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Meta("k"); err != nil || !bytes.Equal(got, v) {
			t.Errorf("meta %q, %v; want %q", got, err, v)
		}
	}
}

func TestUsers(t *testing.T) {
	db, _ := openTestDB(t)
	if _, err := db.User(1); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing user: %v", err)
	}
	u, err := db.UpsertUser(storage.User{ID: 1, ChatID: 1, FirstName: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Created.IsZero() {
		t.Error("created not set")
	}
	u2, err := db.UpdateUser(1, func(u *storage.User) error { u.Settings = storage.Settings{ChainID: 8453, Muted: true}; return nil })
	if err != nil {
		t.Fatal(err)
	}
	// A later /start refreshes the profile but keeps created and settings.
	u3, err := db.UpsertUser(storage.User{ID: 1, ChatID: 1, FirstName: "B", Username: "b", Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	if !u3.Created.Equal(u.Created) || u3.Settings != u2.Settings || u3.FirstName != "B" || u3.Language != "de" {
		t.Errorf("upsert of a known user: %+v", u3)
	}
	if _, err := db.UpdateUser(1, func(u *storage.User) error { u.ID = 2; return nil }); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("id change: %v", err)
	}
	boom := errors.New("boom")
	if _, err := db.UpdateUser(1, func(u *storage.User) error { u.FirstName = "C"; return boom }); err != boom {
		t.Errorf("fn error: %v", err)
	}
	if got, _ := db.User(1); !reflect.DeepEqual(got, u3) {
		t.Errorf("user changed by refused updates: %+v", got)
	}
	if _, err := db.UpsertUser(storage.User{ID: 0}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("user id 0: %v", err)
	}
}

func TestCreateWalletOnePerUser(t *testing.T) {
	db, _ := openTestDB(t)
	w1, created, err := db.CreateWallet(storage.Wallet{Owner: 5, Address: addrOf(5), Record: recordOf(5, 1)})
	if err != nil || !created {
		t.Fatalf("first create: %v, created %v", err, created)
	}
	w2, created, err := db.CreateWallet(storage.Wallet{Owner: 5, Address: addrOf(99), Record: recordOf(5, 2)})
	if err != nil || created || !reflect.DeepEqual(w1, w2) {
		t.Fatalf("second create: %+v, %v, %v", w2, created, err)
	}
	if _, err := db.WalletByAddress(addrOf(99)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the refused address was indexed: %v", err)
	}
	// The address index is unique: another user cannot take that address.
	_, _, err = db.CreateWallet(storage.Wallet{Owner: 6, Address: addrOf(5), Record: recordOf(6, 0)})
	if !errors.Is(err, storage.ErrWalletExists) {
		t.Errorf("address of another user: %v", err)
	}
	if _, err := db.WalletByOwner(6); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("user 6 got a wallet: %v", err)
	}
	for _, bad := range []storage.Wallet{
		{Owner: 0, Address: addrOf(1), Record: []byte{1}},
		{Owner: 1, Record: []byte{1}},
		{Owner: 1, Address: addrOf(1)},
	} {
		if _, _, err := db.CreateWallet(bad); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("CreateWallet(%+v): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCreateWalletConcurrentSameUser(t *testing.T) {
	db, _ := openTestDB(t)
	const n = 100
	results := make([]storage.Wallet, n)
	var created atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			w, c, err := db.CreateWallet(storage.Wallet{Owner: 77, Address: addrOf(77), Record: recordOf(77, i)})
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				created.Add(1)
			}
			results[i] = w
		}()
	}
	close(start)
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d callers created a wallet, want 1", created.Load())
	}
	stored, err := db.WalletByOwner(77)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range results {
		if !reflect.DeepEqual(w, stored) {
			t.Fatalf("caller %d got %+v, stored is %+v", i, w, stored)
		}
	}
	var count int
	db.ForEachWallet(func(storage.Wallet) error { count++; return nil })
	if count != 1 {
		t.Errorf("%d wallets stored, want 1", count)
	}
}

func TestCreateWalletConcurrentDifferentUsers(t *testing.T) {
	db, _ := openTestDB(t)
	const users, tapsPerUser = 40, 3
	var wg sync.WaitGroup
	for u := int64(1); u <= users; u++ {
		for tap := range tapsPerUser {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := db.CreateWallet(storage.Wallet{Owner: u, Address: addrOf(u), Record: recordOf(u, tap)}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	seen := map[int64]bool{}
	err := db.ForEachWallet(func(w storage.Wallet) error {
		if seen[w.Owner] {
			t.Errorf("two wallets for %d", w.Owner)
		}
		seen[w.Owner] = true
		if byAddr, err := db.WalletByAddress(w.Address); err != nil || byAddr.Owner != w.Owner {
			t.Errorf("address index of %d: %+v, %v", w.Owner, byAddr, err)
		}
		return nil
	})
	if err != nil || len(seen) != users {
		t.Fatalf("%d wallets, %v; want %d", len(seen), err, users)
	}
}

// TestBackupWhileWriting takes a backup while wallets are being created,
// restores it into a fresh data folder and opens it.
func TestBackupWhileWriting(t *testing.T) {
	db, _ := openTestDB(t)
	for u := int64(1); u <= 20; u++ {
		mustWallet(t, db, u)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for u := int64(1000); ; u++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := db.CreateWallet(storage.Wallet{Owner: u, Address: addrOf(u), Record: recordOf(u, 0)}); err != nil {
				t.Error(err)
				return
			}
			written.Add(1)
		}
	}()
	for written.Load() < 5 {
		time.Sleep(time.Millisecond)
	}
	var buf bytes.Buffer
	n, err := db.Backup(&buf)
	for written.Load() < 10 { // writes carried on after the snapshot
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("Backup reported %d bytes, wrote %d", n, buf.Len())
	}

	restored := filepath.Join(t.TempDir(), "restored")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, FileName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rdb, err := Open(restored, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.bdb.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("restored file fails the consistency check: %v", err)
	}
	var count int64
	if err := rdb.ForEachWallet(func(w storage.Wallet) error {
		count++
		if byAddr, err := rdb.WalletByAddress(w.Address); err != nil || byAddr.Owner != w.Owner {
			t.Errorf("restored address index of %d: %v", w.Owner, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if count < 25 || count > 20+written.Load() {
		t.Errorf("restored %d wallets; 25..%d expected", count, 20+written.Load())
	}
}

// TestSchema1IsUpgraded: a file of schema 1 with a v1 transfer record opens,
// is upgraded to the current schema, and the old record reads back and updates (rewritten
// as the current format).
func TestSchema1IsUpgraded(t *testing.T) {
	db, dir := openTestDB(t)
	mustWallet(t, db, 1)
	if _, err := db.CreateTransfer(newTransfer("old", 1, 0)); err != nil {
		t.Fatal(err)
	}
	tr, _ := db.Transfer("old")
	if err := db.bdb.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketTransfers).Put([]byte("old"), encodeTransferV1(t, &tr)); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaSchemaKey, encodeSchemaVersion(1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open schema 1: %v", err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(); err != nil || v != SchemaVersion {
		t.Fatalf("schema after upgrade %d, %v", v, err)
	}
	got, err := db.Transfer("old")
	if err != nil || got.ID != "old" || got.Kind != storage.KindTransfer || got.State != storage.StateBuilt {
		t.Fatalf("v1 record: %+v, %v", got, err)
	}
	moveTo(t, db, "old", storage.StateSuperseded)
	raw, _, held := rawTransfer(t, db, got)
	if raw[0] != 3 || held { // format v3
		t.Fatalf("after update: version %d, nonce held %v", raw[0], held)
	}
}
