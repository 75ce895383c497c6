package parent_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	bbolt "go.etcd.io/bbolt"

	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
)

// The database as an attacker against the vault key (review 12, finding
// 1): someone with only the database (a leaked DSN, a DB admin) deletes,
// empties or replaces the meta row kms_ciphertext_blob behind the parents'
// backs. Each attack runs on bbolt and on a real PostgreSQL, with real
// enclaves and the stub KMS of unlock_test.go.

// vaultDB is the parent's store and a database writer's own access to the
// same data: on PostgreSQL its own connection and SQL; on bbolt the file
// (deleting a key needs the file lock, so the store is closed and opened
// again: use s after del).
type vaultDB struct {
	s     storage.Store
	del   func(t *testing.T)
	write func(t *testing.T, v []byte)
	// record rewrites a wallet's sealed record (a row, not the blob).
	record func(t *testing.T, w storage.Wallet)
}

func boltVaultDB(t *testing.T) *vaultDB {
	db, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &vaultDB{s: db}
	t.Cleanup(func() { h.s.Close() })
	h.write = func(t *testing.T, v []byte) {
		if err := h.s.PutMeta(parent.MetaKMSCiphertextBlob, v); err != nil {
			t.Fatal(err)
		}
	}
	// rawUpdate writes the file itself, as someone holding it would.
	rawUpdate := func(t *testing.T, fn func(tx *bbolt.Tx) error) { rawBolt(t, h, fn) }
	h.del = func(t *testing.T) {
		rawUpdate(t, func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("meta")).Delete([]byte(parent.MetaKMSCiphertextBlob))
		})
	}
	h.record = func(t *testing.T, w storage.Wallet) {
		rawUpdate(t, func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("wallets")).Put(binary.BigEndian.AppendUint64(nil, uint64(w.Owner)), storage.EncodeWallet(&w))
		})
	}
	return h
}

func pgVaultDB(srv *pgtest.Server) func(t *testing.T) *vaultDB {
	return func(t *testing.T) *vaultDB {
		dsn := srv.NewDatabase(t)
		db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		exec := func(t *testing.T, sql string, args ...any) {
			if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
				t.Fatal(err)
			}
		}
		return &vaultDB{s: db,
			del: func(t *testing.T) { exec(t, `DELETE FROM meta WHERE key = $1`, parent.MetaKMSCiphertextBlob) },
			write: func(t *testing.T, v []byte) {
				exec(t, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, parent.MetaKMSCiphertextBlob, v)
			},
			record: func(t *testing.T, w storage.Wallet) {
				exec(t, `UPDATE wallets SET record = $1 WHERE owner = $2`, w.Record, w.Owner)
			},
		}
	}
}

// onBothEngines runs fn on bbolt and on PostgreSQL.
func onBothEngines(t *testing.T, fn func(t *testing.T, open func(t *testing.T) *vaultDB)) {
	srv := pgtest.Start(t)
	t.Run("bbolt", func(t *testing.T) { fn(t, boltVaultDB) })
	t.Run("postgres", func(t *testing.T) { fn(t, pgVaultDB(srv)) })
}

// deployment is the honest parent B before the attack: its enclave
// unlocked with the first key K1 (one GenerateDataKey), three wallets
// sealed under K1.
type deployment struct {
	p        kmsPair
	e        *kmsEnclave
	c        *parent.EnclaveClient
	svc      *parent.Service
	blob     []byte
	identity string
	wallets  []storage.Wallet
}

func deploy(t *testing.T, h *vaultDB) *deployment {
	t.Helper()
	d := &deployment{p: newKMSPair(t)}
	d.e = d.p.enclave(t, d.p.kms)
	d.c = firstBootClient(d.e.addr)
	if err := parent.UnlockEnclave(context.Background(), d.c, h.s, testCreds, "parent-b"); err != nil {
		t.Fatal(err)
	}
	if gen, _ := d.p.kms.counts(); gen != 1 {
		t.Fatalf("a fresh store made %d keys, want 1", gen)
	}
	d.svc = newService(t, h.s, d.c)
	for owner := int64(30); owner > 0; owner -= 10 {
		w, _, err := d.svc.EnsureWallet(context.Background(), owner)
		if err != nil {
			t.Fatal(err)
		}
		d.wallets = append(d.wallets, w)
	}
	var err error
	if d.blob, err = h.s.Meta(parent.MetaKMSCiphertextBlob); err != nil {
		t.Fatal(err)
	}
	hl, err := d.c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.identity = hl.IdentityKey
	return d
}

func newService(t *testing.T, s storage.Store, c *parent.EnclaveClient) *parent.Service {
	t.Helper()
	svc, err := parent.NewService(s, c, nil, parent.ServiceConfig{RequireVaultBlob: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// restartEnclave stops the enclave and starts it again, locked, on the
// same address and with the same KMS.
func (d *deployment) restartEnclave(t *testing.T) {
	d.e.stop()
	d.e.startWith(d.p.kms)
	waitVault(t, d.c, "locked")
}

// walletsOpen: every K1 wallet opens under the key c's enclave holds, and
// the first one signs.
func (d *deployment) walletsOpen(t *testing.T, c *parent.EnclaveClient) {
	t.Helper()
	for _, w := range d.wallets {
		st, err := c.Statement(context.Background(), w.Record)
		if err != nil || st.Owner != w.Owner || common.HexToAddress(st.Address) != w.Address {
			t.Fatalf("wallet of %d: %+v, %v", w.Owner, st, err)
		}
	}
	approveOnce(t, c, d.p.tg, d.wallets[0])
}

// newWalletRefused: no wallet can be made (under whatever key the enclave
// holds) and none is stored.
func newWalletRefused(t *testing.T, svc *parent.Service, s storage.Store, want error) {
	t.Helper()
	if _, _, err := svc.EnsureWallet(context.Background(), 99); !errors.Is(err, parent.ErrEnclaveUnavailable) || !errors.Is(err, want) {
		t.Fatalf("a new wallet: %v, want %v", err, want)
	}
	if _, err := s.WalletByOwner(99); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a wallet was stored: %v", err)
	}
}

// loop runs B's unlock loop until it logs want, then stops it; it returns
// the log.
func loop(t *testing.T, c *parent.EnclaveClient, s storage.Store, want string) string {
	t.Helper()
	var logs syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		parent.KeepEnclaveUnlocked(ctx, c, s, testCreds, "parent-b", 5*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
		close(done)
	}()
	defer func() { cancel(); <-done }()
	for i := 0; !strings.Contains(logs.String(), want); i++ {
		if i == 3000 {
			t.Fatalf("no %q in the log:\n%s", want, logs.String())
		}
		time.Sleep(time.Millisecond)
	}
	return logs.String()
}

// noRestartAdvice: the log or error does not tell the operator to restart
// the enclave (which moved the parent to another key before the fix).
func noRestartAdvice(t *testing.T, s string) {
	t.Helper()
	rest := strings.ReplaceAll(s, "do not restart the enclave", "")
	for _, bad := range []string{"MUST BE RESTARTED", "restart this parent's enclave", "restart the enclave"} {
		if strings.Contains(rest, bad) {
			t.Fatalf("restart advice %q in:\n%s", bad, s)
		}
	}
}

func lent() protocol.AWSCredentials {
	return protocol.AWSCredentials{AccessKeyID: lentCreds.AccessKeyID, SecretAccessKey: lentCreds.SecretAccessKey, SessionToken: lentCreds.SessionToken}
}

// TestVaultBlobDeleted (attack 1a): the row is deleted and the attacker
// holds the first-unlock lease. The running parent refuses at once
// (ErrVaultKeyChanged, an error log, not "waiting for another parent");
// after its enclave restarts it does not unlock; restarted as well (a
// fresh process, no memory of the blob) it finds wallets and no blob:
// ErrVaultKeyMissing, no GenerateDataKey, nothing stored. Restoring the
// blob from a backup brings every wallet back.
func TestVaultBlobDeleted(t *testing.T) {
	onBothEngines(t, func(t *testing.T, open func(t *testing.T) *vaultDB) {
		h := open(t)
		d := deploy(t, h)
		h.del(t)
		if _, held, err := h.s.AcquireLease(parent.FirstUnlockLease, "attacker", time.Hour); err != nil || !held {
			t.Fatalf("the attacker's lease: %v, %v", held, err)
		}
		logs := loop(t, d.c, h.s, "THE STORED VAULT KEY BLOB CHANGED")
		noRestartAdvice(t, logs)
		if strings.Contains(logs, "waiting for another parent") {
			t.Fatalf("logged as a wait:\n%s", logs)
		}
		if err := d.svc.VaultKeyCheck(); !errors.Is(err, parent.ErrVaultKeyChanged) {
			t.Fatalf("VaultKeyCheck after the delete: %v", err)
		}

		d.restartEnclave(t)
		if err := unlockRestarted(d.c, h.s, "parent-b"); !errors.Is(err, parent.ErrVaultKeyChanged) {
			t.Fatalf("same process, enclave restarted: %v", err)
		}
		if err := h.s.ReleaseLease(parent.FirstUnlockLease, "attacker"); err != nil {
			t.Fatal(err)
		}
		fresh := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second)
		err := unlockRestarted(fresh, h.s, "parent-b")
		if !errors.Is(err, parent.ErrVaultKeyMissing) || !strings.Contains(err.Error(), parent.MetaKMSCiphertextBlob) {
			t.Fatalf("parent restarted, wallets and no blob: %v", err)
		}
		noRestartAdvice(t, err.Error())
		if gen, _ := d.p.kms.counts(); gen != 1 {
			t.Fatalf("%d GenerateDataKey, want 1 (no new key)", gen)
		}
		if _, err := h.s.Meta(parent.MetaKMSCiphertextBlob); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a blob was stored: %v", err)
		}
		waitVault(t, fresh, "locked")
		svc := newService(t, h.s, fresh)
		if err := svc.VaultKeyCheck(); !errors.Is(err, parent.ErrVaultKeyMissing) {
			t.Fatalf("VaultKeyCheck: %v", err)
		}
		newWalletRefused(t, svc, h.s, parent.ErrVaultKeyMissing)

		h.write(t, d.blob) // restored from a backup
		if err := unlockRestarted(fresh, h.s, "parent-b"); err != nil {
			t.Fatal(err)
		}
		if err := svc.VaultKeyCheck(); err != nil {
			t.Fatal(err)
		}
		d.walletsOpen(t, fresh)
		// The process that saw the blob before takes it back too.
		if err := parent.UnlockEnclave(context.Background(), d.c, h.s, testCreds, "parent-b"); err != nil {
			t.Fatal(err)
		}
		if err := d.svc.VaultKeyCheck(); err != nil {
			t.Fatal(err)
		}
		if gen, _ := d.p.kms.counts(); gen != 1 {
			t.Fatalf("%d GenerateDataKey after the restore", gen)
		}
	})
}

// TestVaultBlobEmptied (attack 1b): the value is emptied. It is corrupt,
// not "no key": the running parent refuses with ErrVaultKeyChanged and
// storage.ErrCorrupt and no restart advice, a fresh one with
// storage.ErrCorrupt, before and after an enclave restart, and no key is
// made; restoring the blob brings every wallet back.
func TestVaultBlobEmptied(t *testing.T) {
	onBothEngines(t, func(t *testing.T, open func(t *testing.T) *vaultDB) {
		h := open(t)
		d := deploy(t, h)
		h.write(t, []byte{})
		logs := loop(t, d.c, h.s, "THE STORED VAULT KEY BLOB CHANGED")
		noRestartAdvice(t, logs)
		if err := d.svc.VaultKeyCheck(); !errors.Is(err, parent.ErrVaultKeyChanged) || !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("VaultKeyCheck after the value was emptied: %v", err)
		}

		fresh := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second) // the parent restarted beside its running enclave
		err := parent.UnlockEnclave(context.Background(), fresh, h.s, testCreds, "parent-b")
		if !errors.Is(err, storage.ErrCorrupt) || errors.Is(err, parent.ErrVaultKeyNotStored) || errors.Is(err, parent.ErrVaultKeyRaceLost) {
			t.Fatalf("fresh parent, empty blob: %v", err)
		}
		noRestartAdvice(t, err.Error())
		svc := newService(t, h.s, fresh)
		if err := svc.VaultKeyCheck(); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("VaultKeyCheck: %v", err)
		}
		newWalletRefused(t, svc, h.s, storage.ErrCorrupt)
		d.restartEnclave(t) // what the old advice made the operator do
		if err := unlockRestarted(fresh, h.s, "parent-b"); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("after the enclave restart: %v", err)
		}
		if gen, _ := d.p.kms.counts(); gen != 1 {
			t.Fatalf("%d GenerateDataKey, want 1", gen)
		}
		if b, err := h.s.Meta(parent.MetaKMSCiphertextBlob); err != nil || len(b) != 0 {
			t.Fatalf("the empty row was rewritten: %d bytes, %v", len(b), err)
		}

		h.write(t, d.blob)
		if err := unlockRestarted(fresh, h.s, "parent-b"); err != nil {
			t.Fatal(err)
		}
		if err := svc.VaultKeyCheck(); err != nil {
			t.Fatal(err)
		}
		d.walletsOpen(t, fresh)
	})
}

// TestVaultBlobReplaced (attack 1c): a compromised parent A unlocks its
// own attested enclave of the same deployment with no blob (a genuine new
// key K2, which KMS opens for any of the deployment's enclaves) and writes
// its blob over B's. B refuses while running (ErrVaultKeyChanged, no
// restart advice), and does not unlock its restarted enclave with the new
// blob; a fresh B process unlocks with it but the key does not open B's
// wallets: ErrVaultKeyMismatch, no wallet made under K2. Once the blob is
// restored, the enclave holding K2 must be restarted (now the right
// advice), and every K1 wallet opens again, with the identity key of before.
func TestVaultBlobReplaced(t *testing.T) {
	onBothEngines(t, func(t *testing.T, open func(t *testing.T) *vaultDB) {
		h := open(t)
		d := deploy(t, h)
		a := d.p.enclave(t, d.p.kms)
		blob2, err := parent.NewEnclaveClientTCP(a.addr, 10*time.Second).Unlock(context.Background(), lent(), nil)
		if err != nil {
			t.Fatal(err)
		}
		h.write(t, blob2)
		logs := loop(t, d.c, h.s, "THE STORED VAULT KEY BLOB CHANGED")
		noRestartAdvice(t, logs)
		if err := d.svc.VaultKeyCheck(); !errors.Is(err, parent.ErrVaultKeyChanged) {
			t.Fatalf("VaultKeyCheck after the blob was replaced: %v", err)
		}
		if bytes.Contains([]byte(logs), blob2) || bytes.Contains([]byte(logs), d.blob) {
			t.Fatal("a blob in the log")
		}

		d.restartEnclave(t)
		_, decBefore := d.p.kms.counts()
		if err := unlockRestarted(d.c, h.s, "parent-b"); !errors.Is(err, parent.ErrVaultKeyChanged) {
			t.Fatalf("same process, enclave restarted: %v", err)
		}
		if _, dec := d.p.kms.counts(); dec != decBefore {
			t.Fatal("the enclave was unlocked with the replaced blob")
		}
		waitVault(t, d.c, "locked")

		fresh := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second)
		err = unlockRestarted(fresh, h.s, "parent-b")
		if !errors.Is(err, parent.ErrVaultKeyMismatch) {
			t.Fatalf("fresh parent, replaced blob: %v", err)
		}
		noRestartAdvice(t, err.Error())
		svc := newService(t, h.s, fresh)
		if err := svc.VaultKeyCheck(); !errors.Is(err, parent.ErrVaultKeyMismatch) {
			t.Fatalf("VaultKeyCheck: %v", err)
		}
		newWalletRefused(t, svc, h.s, parent.ErrVaultKeyMismatch)
		// The loop keeps refusing, with the error log, at every check.
		logs = loop(t, fresh, h.s, "THE STORED VAULT KEY DOES NOT OPEN THE STORED WALLETS")
		noRestartAdvice(t, logs)

		h.write(t, d.blob)
		if err := parent.UnlockEnclave(context.Background(), fresh, h.s, testCreds, "parent-b"); !errors.Is(err, parent.ErrVaultKeyNotStored) {
			t.Fatalf("blob restored, the enclave holds K2: %v", err)
		}
		d.restartEnclave(t)
		if err := unlockRestarted(fresh, h.s, "parent-b"); err != nil {
			t.Fatal(err)
		}
		if err := svc.VaultKeyCheck(); err != nil {
			t.Fatal(err)
		}
		if hl, err := fresh.Health(context.Background()); err != nil || hl.IdentityKey != d.identity {
			t.Fatalf("identity key %+v, %v; want %s", hl, err, d.identity)
		}
		d.walletsOpen(t, fresh)
		if gen, _ := d.p.kms.counts(); gen != 2 {
			t.Fatalf("%d GenerateDataKey, want 2 (K1, and A's K2)", gen)
		}
	})
}

// TestVaultKeyIdentityPin: with no wallet stored yet, a replaced blob
// cannot be caught by a wallet; the pinned identity key (-identity-key)
// catches it after the enclave restarts: ErrVaultKeyMismatch. Unpinned,
// the same unlock passes (the limit docs/kms.md names). The restored blob
// passes the pin.
func TestVaultKeyIdentityPin(t *testing.T) {
	onBothEngines(t, func(t *testing.T, open func(t *testing.T) *vaultDB) {
		h := open(t)
		p := newKMSPair(t)
		e := p.enclave(t, p.kms)
		d := &deployment{p: p, e: e, c: firstBootClient(e.addr)}
		if err := parent.UnlockEnclave(context.Background(), d.c, h.s, testCreds, "parent-b"); err != nil {
			t.Fatal(err)
		}
		blob1, _ := h.s.Meta(parent.MetaKMSCiphertextBlob)
		hl, err := d.c.Health(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		a := p.enclave(t, p.kms)
		blob2, err := parent.NewEnclaveClientTCP(a.addr, 10*time.Second).Unlock(context.Background(), lent(), nil)
		if err != nil {
			t.Fatal(err)
		}
		h.write(t, blob2)
		d.restartEnclave(t)

		pinned := parent.NewEnclaveClientTCP(e.addr, 10*time.Second)
		pinned.PinIdentityKey(hl.IdentityKey)
		err = unlockRestarted(pinned, h.s, "parent-b")
		if !errors.Is(err, parent.ErrVaultKeyMismatch) || !strings.Contains(err.Error(), hl.IdentityKey) {
			t.Fatalf("pinned identity key, replaced blob: %v", err)
		}
		svc := newService(t, h.s, pinned)
		if err := svc.VaultKeyCheck(); !errors.Is(err, parent.ErrVaultKeyMismatch) {
			t.Fatalf("VaultKeyCheck: %v", err)
		}
		newWalletRefused(t, svc, h.s, parent.ErrVaultKeyMismatch)
		if err := parent.UnlockEnclave(context.Background(), firstBootClient(e.addr), h.s, testCreds, "parent-b"); err != nil {
			t.Fatalf("unpinned: %v", err)
		}

		h.write(t, blob1)
		d.restartEnclave(t)
		if err := unlockRestarted(pinned, h.s, "parent-b"); err != nil {
			t.Fatal(err)
		}
		if err := svc.VaultKeyCheck(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestVaultKeyPinOutranksARewrittenRecord: a database writer rewrites only
// the lowest owner's sealed record (another wallet's record in its place).
// Without a pin the parent cannot tell that from a replaced blob and
// refuses (ErrVaultKeyMismatch, naming that user's wallet: the limit
// docs/kms.md names); with the pinned identity key, which proves the key,
// the unlock passes and every other wallet works.
func TestVaultKeyPinOutranksARewrittenRecord(t *testing.T) {
	onBothEngines(t, func(t *testing.T, open func(t *testing.T) *vaultDB) {
		h := open(t)
		d := deploy(t, h)
		lowest := d.wallets[len(d.wallets)-1] // owners 30, 20, 10
		forged := lowest
		forged.Record = bytes.Clone(d.wallets[0].Record)
		forged.Record[len(forged.Record)-1] ^= 1
		h.record(t, forged)
		d.restartEnclave(t)

		unpinned := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second)
		err := unlockRestarted(unpinned, h.s, "parent-b")
		if !errors.Is(err, parent.ErrVaultKeyMismatch) || !strings.Contains(err.Error(), "user 10's wallet") {
			t.Fatalf("unpinned, rewritten record: %v", err)
		}
		pinned := parent.NewEnclaveClientTCP(d.e.addr, 10*time.Second)
		pinned.PinIdentityKey(d.identity)
		if err := unlockRestarted(pinned, h.s, "parent-b"); err != nil {
			t.Fatalf("pinned, rewritten record: %v", err)
		}
		if err := newService(t, h.s, pinned).VaultKeyCheck(); err != nil {
			t.Fatal(err)
		}
		d.wallets = d.wallets[:len(d.wallets)-1]
		d.walletsOpen(t, pinned)
		if _, err := pinned.Statement(context.Background(), forged.Record); !errors.Is(err, protocol.ErrRecordTampered) {
			t.Fatalf("the rewritten record: %v", err)
		}
	})
}
