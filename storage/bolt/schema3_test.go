package bolt

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/autowallet/autowallet/storage"
	"github.com/ethereum/go-ethereum/common"
	"go.etcd.io/bbolt"
)

// schema2NonceKey is the nonce index key of schema 2: from (20) + nonce (8 BE).
func schema2NonceKey(from common.Address, nonce uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, from[:]...), nonce)
}

// makeSchema2 turns db's file into what schema 2 wrote: the nonce index keyed
// by from + nonce, schema version 2, and (like a file written before a
// bucket was added) without the extra buckets named in drop.
func makeSchema2(t *testing.T, db *DB, drop ...[]byte) {
	t.Helper()
	if err := db.bdb.Update(func(tx *bbolt.Tx) error {
		active, err := (&boltTx{tx: tx}).TransfersInState(storage.StateBuilt, storage.StateApproved, storage.StateSent)
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketTransferNonces); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketTransferNonces)
		if err != nil {
			return err
		}
		for _, tr := range active {
			if tr.Kind == storage.KindReplacement {
				continue
			}
			if err := b.Put(schema2NonceKey(tr.From, tr.Nonce), encodeIDRef(tr.ID)); err != nil {
				return err
			}
		}
		for _, name := range drop {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchemaKey, encodeSchemaVersion(2))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSchema2IsUpgraded: a schema 2 file (nonce index by from + nonce, a
// bucket missing) opens as schema 3 with the index rebuilt by chain id +
// from + nonce, every bucket present, and closed transfers holding nothing.
// After the upgrade the same nonce is free on another chain.
func TestSchema2IsUpgraded(t *testing.T) {
	db, dir := openTestDB(t)
	w := mustWallet(t, db, 1)
	for i, id := range []string{"a", "b", "c"} {
		if _, err := db.CreateTransfer(newTransfer(id, 1, uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	moveTo(t, db, "a", storage.StateSent)
	moveTo(t, db, "b", storage.StateApproved)
	moveTo(t, db, "c", storage.StateExpired) // frees nonce 2
	makeSchema2(t, db, bucketUsers)
	db.Close()

	db, err := Open(dir, Options{Now: newClock().Now})
	if err != nil {
		t.Fatalf("open schema 2: %v", err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(); err != nil || v != 3 {
		t.Fatalf("schema after upgrade %d, %v; want 3", v, err)
	}
	if err := db.bdb.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %q missing after the upgrade", name)
			}
		}
		if n := tx.Bucket(bucketTransferNonces).Stats().KeyN; n != 2 {
			t.Errorf("nonce index has %d keys, want 2", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ns, err := db.ActiveNonces(11155111, w.Address); err != nil || !reflect.DeepEqual(ns, []uint64{0, 1}) {
		t.Fatalf("active nonces after upgrade %v, %v; want [0 1]", ns, err)
	}
	if ns, err := db.ActiveNonces(8453, w.Address); err != nil || len(ns) != 0 {
		t.Fatalf("active nonces on another chain %v, %v; want none", ns, err)
	}
	// Nonce 0 stays held on its chain, and is free on another one.
	dup := newTransfer("dup", 1, 0)
	if _, err := db.CreateTransfer(dup); !errors.Is(err, storage.ErrNonceInUse) {
		t.Fatalf("nonce 0 on the same chain: %v, want ErrNonceInUse", err)
	}
	other := newTransfer("base", 1, 0)
	other.ChainID = 8453
	if _, err := db.CreateTransfer(other); err != nil {
		t.Fatalf("nonce 0 on another chain: %v", err)
	}
	if hs, err := db.NonceHolders(8453, w.Address); err != nil || len(hs) != 1 || hs[0].ID != "base" {
		t.Fatalf("holders on chain 8453: %v, %v", hs, err)
	}
	// Freeing a nonce after the upgrade removes the rebuilt entry.
	moveTo(t, db, "b", storage.StateReplaced)
	if ns, _ := db.ActiveNonces(11155111, w.Address); !reflect.DeepEqual(ns, []uint64{0}) {
		t.Fatalf("after replacing b: %v", ns)
	}
}

// TestSchema3AddsMissingBuckets: a schema 3 file without a bucket of
// allBuckets (written before that bucket was added) gets it at open, with
// its data untouched.
func TestSchema3AddsMissingBuckets(t *testing.T) {
	db, dir := openTestDB(t)
	mustWallet(t, db, 1)
	if _, err := db.CreateTransfer(newTransfer("a", 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := db.bdb.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketUsers) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.bdb.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers) == nil {
			t.Error("users bucket not created")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ns, _ := db.ActiveNonces(11155111, addrOf(1)); !reflect.DeepEqual(ns, []uint64{0}) {
		t.Fatalf("nonce index changed: %v", ns)
	}
}

// TestSchema2UpgradeRefusesDoubleHolder: two active transfers at one chain,
// wallet and nonce cannot be indexed: the upgrade fails with ErrCorrupt and
// the file stays schema 2.
func TestSchema2UpgradeRefusesDoubleHolder(t *testing.T) {
	db, dir := openTestDB(t)
	mustWallet(t, db, 1)
	if _, err := db.CreateTransfer(newTransfer("a", 1, 5)); err != nil {
		t.Fatal(err)
	}
	b := newTransfer("b", 1, 5)
	b.ChainID = 1
	b, err := db.CreateTransfer(b)
	if err != nil {
		t.Fatal(err)
	}
	// Make b look like a's chain: the file now has two holders of one key.
	b.ChainID = 11155111
	if err := db.bdb.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTransfers).Put([]byte("b"), storage.EncodeTransfer(&b))
	}); err != nil {
		t.Fatal(err)
	}
	makeSchema2(t, db)
	db.Close()
	if _, err := Open(dir, Options{}); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("open: %v, want ErrCorrupt", err)
	}
	bdb, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.View(func(tx *bbolt.Tx) error {
		v, err := decodeSchemaVersion(tx.Bucket(bucketMeta).Get(metaSchemaKey))
		if err != nil || v != 2 {
			t.Errorf("schema %d, %v after a failed upgrade; want 2", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSchema2FileUpgrades: a file written by the schema 2 code itself
// (testdata/schema2) opens as schema 3: its v2 records read back, the three
// active transfers hold their nonces on chain 8453 (and nothing on another
// chain), the confirmed one holds nothing, and every bucket exists.
func TestSchema2FileUpgrades(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "schema2", FileName))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open the schema 2 file: %v", err)
	}
	defer db.Close()
	if v, _ := db.SchemaVersion(); v != 3 {
		t.Fatalf("schema %d after open, want 3", v)
	}
	alice := common.HexToAddress("0x00000000000000000000000000000000000a11ce")
	if ns, err := db.ActiveNonces(8453, alice); err != nil || !reflect.DeepEqual(ns, []uint64{1, 2, 3}) {
		t.Fatalf("active nonces on 8453: %v, %v; want [1 2 3]", ns, err)
	}
	if ns, _ := db.ActiveNonces(1, alice); len(ns) != 0 {
		t.Fatalf("active nonces on chain 1: %v", ns)
	}
	hs, err := db.NonceHolders(8453, alice)
	if err != nil || len(hs) != 3 || hs[0].ID != "sent-1" || hs[1].ID != "approved-2" || hs[2].ID != "built-3" {
		t.Fatalf("holders %v, %v", hs, err)
	}
	if c, err := db.Transfer("confirmed-0"); err != nil || c.State != storage.StateConfirmed || c.Block != 100 || c.FeePaid != nil {
		t.Fatalf("confirmed v2 record: %+v, %v", c, err)
	}
	if err := db.bdb.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %q missing", name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The upgraded index works as schema 3's: nonce 1 is taken on 8453,
	// free on Optimism.
	tr := newTransfer("new-1", 1, 1)
	tr.From, tr.ChainID = alice, 8453
	if _, err := db.CreateTransfer(tr); !errors.Is(err, storage.ErrNonceInUse) {
		t.Fatalf("nonce 1 on 8453: %v, want ErrNonceInUse", err)
	}
	tr.ChainID = 10
	if _, err := db.CreateTransfer(tr); err != nil {
		t.Fatalf("nonce 1 on chain 10: %v", err)
	}
}
