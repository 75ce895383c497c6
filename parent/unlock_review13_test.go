package parent_test

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	bbolt "go.etcd.io/bbolt"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// Review 13 played a database writer against the vault key checks of
// unlockcheck.go; these tests are its findings, on bbolt (the unlock logic
// is the engine's caller, the same on PostgreSQL: unlock_db_test.go runs
// the first attacks on both).

// rawBolt rewrites h's bbolt file itself, as whoever holds the file would.
func rawBolt(t *testing.T, h *vaultDB, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	path := h.s.(*bolt.DB).Path()
	h.s.Close()
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(fn); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if h.s, err = bolt.OpenFile(path, bolt.Options{}); err != nil {
		t.Fatal(err)
	}
}

// wipeAll deletes the blob and every wallet: a store that looks new.
func wipeAll(t *testing.T, h *vaultDB) {
	rawBolt(t, h, func(tx *bbolt.Tx) error {
		for _, b := range []string{"wallets", "wallet_addresses"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Delete([]byte(parent.MetaKMSCiphertextBlob))
	})
}

// putWallet stores a wallet row as the file's holder would.
func putWallet(t *testing.T, h *vaultDB, w storage.Wallet) {
	rawBolt(t, h, func(tx *bbolt.Tx) error {
		if err := tx.Bucket([]byte("wallet_addresses")).Put(w.Address[:], binary.BigEndian.AppendUint64(nil, uint64(w.Owner))); err != nil {
			return err
		}
		return tx.Bucket([]byte("wallets")).Put(binary.BigEndian.AppendUint64(nil, uint64(w.Owner)), storage.EncodeWallet(&w))
	})
}

// TestVaultKeyNotMadeWithoutInitFlag (finding 1): the writer deletes the
// blob and every wallet while the host reboots, so the store looks new. A
// parent started as every parent is after the first boot (no
// -init-vault-key) makes no key, stores nothing, and says why; the
// wallets put back and the blob restored, it unlocks with the old key.
// On a new deployment the same parent waits, and one started with the
// flag makes the first key.
func TestVaultKeyNotMadeWithoutInitFlag(t *testing.T) {
	h := boltVaultDB(t)
	d := deploy(t, h)
	saved := d.wallets
	wipeAll(t, h)
	d.restartEnclave(t)
	fresh := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second)
	err := unlockRestarted(fresh, h.s, "parent-b")
	if !errors.Is(err, parent.ErrVaultKeyPending) || !strings.Contains(err.Error(), "-init-vault-key") {
		t.Fatalf("a store that looks new, no flag: %v; want ErrVaultKeyPending naming -init-vault-key", err)
	}
	if gen, _ := d.p.kms.counts(); gen != 1 {
		t.Fatalf("%d keys made, want the first one only", gen)
	}
	if _, err := h.s.Meta(parent.MetaKMSCiphertextBlob); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a blob was stored: %v", err)
	}
	for _, w := range saved {
		putWallet(t, h, w)
	}
	h.write(t, d.blob)
	if err := parent.UnlockEnclave(context.Background(), fresh, h.s, testCreds, "parent-b"); err != nil {
		t.Fatalf("after the restore: %v", err)
	}
	d.walletsOpen(t, fresh)

	// A new deployment: a parent without the flag waits, one with it makes
	// the key, and the first then unlocks with its blob.
	h2 := boltVaultDB(t)
	p := newKMSPair(t)
	e1, e2 := p.enclave(t, p.kms), p.enclave(t, p.kms)
	waiting := parent.NewEnclaveClientTCP(e1.addr, 10*time.Second)
	if err := parent.UnlockEnclave(context.Background(), waiting, h2.s, testCreds, "p1"); !errors.Is(err, parent.ErrVaultKeyPending) {
		t.Fatalf("a new deployment without the flag: %v; want ErrVaultKeyPending", err)
	}
	if gen, _ := p.kms.counts(); gen != 0 {
		t.Fatalf("a parent without the flag made a key (%d)", gen)
	}
	if err := parent.UnlockEnclave(context.Background(), firstBootClient(e2.addr), h2.s, testCreds, "p2"); err != nil {
		t.Fatalf("the first boot with the flag: %v", err)
	}
	if err := parent.UnlockEnclave(context.Background(), waiting, h2.s, testCreds, "p1"); err != nil {
		t.Fatalf("the waiting parent after the first key: %v", err)
	}
	if gen, _ := p.kms.counts(); gen != 1 {
		t.Fatalf("%d keys made, want 1", gen)
	}
}

// TestVaultKeyPinnedNeverMade (finding 2): with the identity key pinned,
// the deployment has a key: a missing blob is ErrVaultKeyMissing, even
// with the first-boot flag and a store that looks new, and no key is made
// nor stored (a stored second blob would serve the writer against any
// parent that is not pinned).
func TestVaultKeyPinnedNeverMade(t *testing.T) {
	h := boltVaultDB(t)
	d := deploy(t, h)
	wipeAll(t, h)
	d.restartEnclave(t)
	pinned := firstBootClient(d.e.addr)
	pinned.PinIdentityKey(d.identity)
	if err := unlockRestarted(pinned, h.s, "parent-b"); !errors.Is(err, parent.ErrVaultKeyMissing) {
		t.Fatalf("pinned, blob and wallets deleted: %v; want ErrVaultKeyMissing", err)
	}
	if gen, _ := d.p.kms.counts(); gen != 1 {
		t.Fatalf("%d keys made, want the first one only", gen)
	}
	if _, err := h.s.Meta(parent.MetaKMSCiphertextBlob); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a blob was stored: %v", err)
	}
}

// TestVaultKeyForeignRecordUnderLowestOwner (finding 1): the writer stores
// a second genuine blob and, under the lowest owner, a record sealed under
// that key for another user; the check of an unpinned parent must not take
// it as its wallet.
func TestVaultKeyForeignRecordUnderLowestOwner(t *testing.T) {
	h := boltVaultDB(t)
	d := deploy(t, h)
	a := d.p.enclave(t, d.p.kms)
	ac := parent.NewEnclaveClientTCP(a.addr, 10*time.Second)
	blob2, err := ac.Unlock(context.Background(), lent(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, rec, err := ac.CreateWallet(context.Background(), 777)
	if err != nil {
		t.Fatal(err)
	}
	h.write(t, blob2)
	putWallet(t, h, storage.Wallet{Owner: 1, Address: common.Address{1}, Record: rec, Created: time.Now()})
	d.restartEnclave(t)
	fresh := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second)
	if err := unlockRestarted(fresh, h.s, "parent-b"); !errors.Is(err, parent.ErrVaultKeyMismatch) {
		t.Fatalf("a foreign record under the lowest owner: %v; want ErrVaultKeyMismatch", err)
	}
	newWalletRefused(t, newService(t, h.s, fresh), h.s, parent.ErrVaultKeyMismatch)
}

// TestVaultKeyParentRestartBesideEnclave (finding 3): the parent process
// restarts (a rolling upgrade) beside its running enclave while the
// stored blob is another genuine one. Pinned, the enclave's key is the
// deployment's, so the stored blob is what is wrong: ErrVaultKeyChanged,
// no advice to restart the enclave (which would load the wrong key).
func TestVaultKeyParentRestartBesideEnclave(t *testing.T) {
	h := boltVaultDB(t)
	d := deploy(t, h)
	a := d.p.enclave(t, d.p.kms)
	blob2, err := parent.NewEnclaveClientTCP(a.addr, 10*time.Second).Unlock(context.Background(), lent(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.write(t, blob2)
	pinned := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second)
	pinned.PinIdentityKey(d.identity)
	err = parent.UnlockEnclave(context.Background(), pinned, h.s, testCreds, "parent-b")
	if !errors.Is(err, parent.ErrVaultKeyChanged) || errors.Is(err, parent.ErrVaultKeyNotStored) {
		t.Fatalf("pinned, restarted beside its enclave, blob replaced: %v; want ErrVaultKeyChanged", err)
	}
	noRestartAdvice(t, err.Error())
	newWalletRefused(t, newService(t, h.s, pinned), h.s, parent.ErrVaultKeyChanged)
}

// TestVaultKeyLoopRestore (finding 5): through the unlock loop alone, a
// deleted blob is refused (key changed) and, once restored, the refusal
// ends at the next check.
func TestVaultKeyLoopRestore(t *testing.T) {
	h := boltVaultDB(t)
	d := deploy(t, h)
	h.del(t)
	loop(t, d.c, h.s, "THE STORED VAULT KEY BLOB CHANGED")
	if err := d.svc.VaultKeyCheck(); !errors.Is(err, parent.ErrVaultKeyChanged) {
		t.Fatalf("after the delete: %v", err)
	}
	h.write(t, d.blob)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		parent.KeepEnclaveUnlocked(ctx, d.c, h.s, testCreds, "parent-b", 5*time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()
	defer func() { cancel(); <-done }()
	for i := 0; d.svc.VaultKeyCheck() != nil; i++ {
		if i == 3000 {
			t.Fatalf("the restore did not end the refusal: %v", d.svc.VaultKeyCheck())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestVaultKeyCorruptWalletRowIsNotTheBlob (finding 4): an unreadable
// lowest wallet row is named as a wallet row, never as a corrupt blob
// (storage.ErrCorrupt is the emptied blob's refusal), and gives no advice
// to restart the enclave.
func TestVaultKeyCorruptWalletRowIsNotTheBlob(t *testing.T) {
	h := boltVaultDB(t)
	d := deploy(t, h)
	rawBolt(t, h, func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("wallets")).Put(binary.BigEndian.AppendUint64(nil, 1), []byte{0xff})
	})
	fresh := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second)
	err := parent.UnlockEnclave(context.Background(), fresh, h.s, testCreds, "parent-b")
	if err == nil || errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), "wallet row") {
		t.Fatalf("a corrupt wallet row: %v; want an error naming the wallet row, not ErrCorrupt", err)
	}
	noRestartAdvice(t, err.Error())
}
