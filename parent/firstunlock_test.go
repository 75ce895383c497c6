package parent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
)

// hookKMS is the stub KMS with a hook run after each new key is made,
// before the enclave answers it: the moment another parent may win.
type hookKMS struct {
	*stubKMS
	afterGenerate func()
}

func (k *hookKMS) GenerateVaultKey(ctx context.Context, c protocol.AWSCredentials) ([]byte, []byte, error) {
	key, blob, err := k.stubKMS.GenerateVaultKey(ctx, c)
	if err == nil && k.afterGenerate != nil {
		k.afterGenerate()
	}
	return key, blob, err
}

// kmsPair is what the race tests share: one KMS (one key for the whole
// deployment, as in production) and Telegram's key.
type kmsPair struct {
	kms *stubKMS
	pub ed25519.PublicKey
	tg  ed25519.PrivateKey
}

func newKMSPair(t *testing.T) kmsPair {
	pub, tg, _ := ed25519.GenerateKey(rand.Reader)
	return kmsPair{kms: newStubKMS(t), pub: pub, tg: tg}
}

// enclave starts a locked KMS enclave with source as its key service.
func (p kmsPair) enclave(t *testing.T, source enclave.KeySource) *kmsEnclave {
	e := &kmsEnclave{t: t, addr: "127.0.0.1:0", tg: p.tg, kms: p.kms, cfg: &enclave.Config{
		BotID: testenv.BotID, TelegramPublicKey: p.pub, AllowedChainIDs: []uint64{1337},
		MaxAuthAge: time.Hour, ClockSkew: time.Minute, KMS: testKMSConfig,
	}}
	e.startWith(source)
	t.Cleanup(e.stop)
	return e
}

var testCreds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return lentCreds, nil })

// raceStore opens the store of the two parents: the same bbolt file (one
// handle: the file lock allows no second), or one PostgreSQL database with
// a pool per parent.
type raceStore func(t *testing.T) (a, b storage.Store)

func boltStores(t *testing.T) (storage.Store, storage.Store) {
	db, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, db
}

func pgStores(srv *pgtest.Server) raceStore {
	return func(t *testing.T) (storage.Store, storage.Store) {
		dsn := srv.NewDatabase(t)
		var s [2]storage.Store
		for i := range s {
			db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s[i] = db
		}
		return s[0], s[1]
	}
}

// TestFirstUnlockRace: two parents, each with its own real enclave, start
// at once on one store with no vault key yet, and create wallets from the
// first moment. Every round: exactly one key is made and stored, both
// enclaves end up holding it, and no wallet is sealed under any other key:
// after restarting both enclaves from the stored blob, every wallet opens
// in either one.
func TestFirstUnlockRace(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { raceRounds(t, 10, boltStores) })
	t.Run("postgres", func(t *testing.T) { raceRounds(t, 5, pgStores(pgtest.Start(t))) })
}

func raceRounds(t *testing.T, rounds int, open raceStore) {
	for r := range rounds {
		t.Run(fmt.Sprint(r), func(t *testing.T) { raceRound(t, open) })
	}
}

func raceRound(t *testing.T, open raceStore) {
	p := newKMSPair(t)
	stores := [2]storage.Store{}
	stores[0], stores[1] = open(t)
	var encs [2]*kmsEnclave
	var clients [2]*parent.EnclaveClient
	var svcs [2]*parent.Service
	for i := range 2 {
		encs[i] = p.enclave(t, p.kms)
		clients[i] = firstBootClient(encs[i].addr)
		var err error
		if svcs[i], err = parent.NewService(stores[i], clients[i], nil, parent.ServiceConfig{RequireVaultBlob: true}, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg, users sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait(); users.Wait() })
	start := make(chan struct{})
	for i := range 2 {
		wg.Add(1)
		users.Add(1)
		go func() {
			defer wg.Done()
			<-start
			parent.KeepEnclaveUnlocked(ctx, clients[i], stores[i], testCreds, fmt.Sprintf("parent-%d", i), 5*time.Millisecond, slog.New(slog.DiscardHandler))
		}()
		// Users arrive from the first moment: every creation either
		// waits (refused) or is sealed under the stored key.
		go func() {
			defer users.Done()
			<-start
			for u := int64(1); u <= 40 && ctx.Err() == nil; u++ {
				owner := int64(i)*1000 + u
				for try := 0; try < 400; try++ {
					_, _, err := svcs[i].EnsureWallet(ctx, owner)
					if err == nil {
						break
					}
					if !errors.Is(err, parent.ErrEnclaveUnavailable) && !errors.Is(err, protocol.ErrVaultLocked) {
						t.Errorf("parent %d, user %d: %v", i, owner, err)
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
		}()
	}
	close(start)
	for i := range 2 {
		waitReady(t, svcs[i])
	}
	blob, err := stores[0].Meta(parent.MetaKMSCiphertextBlob)
	if err != nil {
		t.Fatal(err)
	}
	if gen, _ := p.kms.counts(); gen != 1 {
		t.Fatalf("%d vault keys made, want 1", gen)
	}
	for i := range 2 {
		if !bytes.Equal(clients[i].UnlockedBlob(), blob) {
			t.Fatalf("enclave %d does not hold the stored key", i)
		}
	}
	users.Wait()
	cancel()
	wg.Wait()

	// Restart both enclaves from the stored blob; every wallet opens in
	// each, with its owner and address, and one of each parent signs.
	var wallets []storage.Wallet
	if err := stores[0].ForEachWallet(func(w storage.Wallet) error { wallets = append(wallets, w); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(wallets) != 80 {
		t.Fatalf("%d wallets, want 80", len(wallets))
	}
	for i := range 2 {
		encs[i].stop()
		encs[i].startWith(p.kms)
		if err := unlockRestarted(clients[i], stores[i], "restart"); err != nil {
			t.Fatal(err)
		}
		for _, w := range wallets {
			st, err := clients[i].Statement(context.Background(), w.Record)
			if err != nil || st.Owner != w.Owner || common.HexToAddress(st.Address) != w.Address {
				t.Fatalf("enclave %d, wallet of %d after restart: %+v, %v", i, w.Owner, st, err)
			}
		}
		approveOnce(t, clients[i], p.tg, wallets[i*40])
	}
	if gen, _ := p.kms.counts(); gen != 1 {
		t.Fatalf("%d vault keys made after restarts", gen)
	}
}

// unlockRestarted unlocks a restarted enclave with the stored blob. The
// client's idle connections to the stopped server fail once each (a POST
// is not retried by net/http): retry, bounded, as the loop would.
func unlockRestarted(c *parent.EnclaveClient, store storage.Store, holder string) error {
	var err error
	for range 40 {
		if err = parent.UnlockEnclave(context.Background(), c, store, testCreds, holder); !errors.Is(err, parent.ErrEnclaveUnavailable) {
			return err
		}
	}
	return err
}

// waitReady waits (bounded) until the service may create wallets.
func waitReady(t *testing.T, s *parent.Service) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s.VaultKeyCheck() == nil {
			return
		}
	}
	t.Fatalf("the service never got the stored key: %v", s.VaultKeyCheck())
}

// approveOnce has the enclave sign one transfer from w.
func approveOnce(t *testing.T, c *parent.EnclaveClient, tg ed25519.PrivateKey, w storage.Wallet) {
	t.Helper()
	ctx := context.Background()
	st, err := c.Statement(ctx, w.Record)
	if err != nil {
		t.Fatal(err)
	}
	in := &protocol.Intent{ChainID: 1337, From: w.Address, To: common.HexToAddress("0x00000000000000000000000000000000000000aa"),
		Amount: big.NewInt(1), GasLimit: 21000, MaxFeePerGas: big.NewInt(2e9), MaxPriorityFeePerGas: big.NewInt(1e9),
		Expiry: uint64(time.Now().Add(time.Hour).Unix()), WalletProof: st.Proof}
	sp, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Approve(ctx, testenv.SignInitData(tg, w.Owner, sp, time.Now()), w.Record); err != nil {
		t.Fatalf("approving from %s: %v", w.Address.Hex(), err)
	}
}

// syncBuf is a log sink the loop writes to while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestFirstUnlockRaceLost: another parent's blob is stored between this
// enclave making its key and the parent storing the blob (the lease ran
// out under a slow KMS call). The stored blob stays, the unlock is refused
// by reason, the parent refuses wallets and approvals and logs that the
// enclave must be restarted, at every check; once the enclave restarts the
// loop unlocks it with the stored key and wallets are made under it.
func TestFirstUnlockRaceLost(t *testing.T) {
	for name, open := range map[string]raceStore{"bbolt": boltStores, "postgres": pgStores(pgtest.Start(t))} {
		t.Run(name, func(t *testing.T) {
			p := newKMSPair(t)
			store, _ := open(t)
			other := make(chan []byte, 1)
			hook := &hookKMS{stubKMS: p.kms}
			hook.afterGenerate = func() {
				hook.afterGenerate = nil // once
				_, b, _ := p.kms.GenerateVaultKey(context.Background(), protocol.AWSCredentials{AccessKeyID: lentCreds.AccessKeyID, SecretAccessKey: lentCreds.SecretAccessKey, SessionToken: lentCreds.SessionToken})
				if err := store.PutMeta(parent.MetaKMSCiphertextBlob, b); err != nil {
					t.Error(err)
				}
				other <- b
			}
			e := p.enclave(t, hook)
			client := firstBootClient(e.addr)
			svc, err := parent.NewService(store, client, nil, parent.ServiceConfig{RequireVaultBlob: true}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			err = parent.UnlockEnclave(context.Background(), client, store, testCreds, "parent-a")
			if !errors.Is(err, parent.ErrVaultKeyRaceLost) || !errors.Is(err, parent.ErrVaultKeyNotStored) {
				t.Fatalf("lost race: %v", err)
			}
			winner := <-other
			if b, _ := store.Meta(parent.MetaKMSCiphertextBlob); !bytes.Equal(b, winner) {
				t.Fatal("the stored blob was replaced")
			}
			if _, _, err := svc.EnsureWallet(context.Background(), 9); !errors.Is(err, parent.ErrEnclaveUnavailable) {
				t.Fatalf("wallet on a parent whose enclave holds an unstored key: %v", err)
			}
			if _, err := svc.Approve(context.Background(), "x"); err == nil {
				t.Fatal("approval accepted")
			}
			// Asked again (the loop), the enclave says it holds another key.
			err = parent.UnlockEnclave(context.Background(), client, store, testCreds, "parent-a")
			if !errors.Is(err, parent.ErrVaultKeyNotStored) || !errors.Is(err, protocol.ErrAlreadyUnlocked) {
				t.Fatalf("second unlock: %v", err)
			}
			if err := svc.VaultKeyCheck(); !errors.Is(err, parent.ErrEnclaveUnavailable) {
				t.Fatalf("VaultKeyCheck: %v", err)
			}

			var logs syncBuf
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				parent.KeepEnclaveUnlocked(ctx, client, store, testCreds, "parent-a", 5*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
				close(done)
			}()
			t.Cleanup(func() { cancel(); <-done })
			for i := 0; !strings.Contains(logs.String(), "THE ENCLAVE MUST BE RESTARTED"); i++ {
				if i == 2000 {
					t.Fatalf("no error log: %s", logs.String())
				}
				time.Sleep(time.Millisecond)
			}
			if strings.Contains(logs.String(), string(winner)) {
				t.Fatal("a blob in the log")
			}
			if svc.VaultKeyCheck() == nil {
				t.Fatal("ready before the enclave restarted")
			}
			e.stop()
			e.startWith(p.kms)
			waitVault(t, client, "unlocked")
			waitReady(t, svc)
			w, created, err := svc.EnsureWallet(context.Background(), 9)
			if err != nil || !created {
				t.Fatalf("wallet after the restart: %v", err)
			}
			e.stop()
			e.startWith(p.kms)
			waitVault(t, client, "unlocked")
			waitReady(t, svc)
			approveOnce(t, client, p.tg, w)
		})
	}
}

// TestFirstUnlockDiedBeforeStoring: a parent's enclave made the first key,
// the parent died before storing its blob. Restarted, it stores that same
// blob (the enclave answers it again without a new key). If another parent
// stored its blob in the meantime, this one refuses until its enclave
// restarts.
func TestFirstUnlockDiedBeforeStoring(t *testing.T) {
	p := newKMSPair(t)
	store, _ := boltStores(t)
	e := p.enclave(t, p.kms)
	client := firstBootClient(e.addr)
	lent := protocol.AWSCredentials{AccessKeyID: lentCreds.AccessKeyID, SecretAccessKey: lentCreds.SecretAccessKey, SessionToken: lentCreds.SessionToken}
	made, err := client.Unlock(context.Background(), lent, nil) // then the parent died
	if err != nil {
		t.Fatal(err)
	}
	restarted := firstBootClient(e.addr)
	svc, err := parent.NewService(store, restarted, nil, parent.ServiceConfig{RequireVaultBlob: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.VaultKeyCheck(); !errors.Is(err, parent.ErrEnclaveUnavailable) {
		t.Fatalf("before the restarted parent's unlock: %v", err)
	}
	if err := parent.UnlockEnclave(context.Background(), restarted, store, testCreds, "parent-a"); err != nil {
		t.Fatal(err)
	}
	if b, _ := store.Meta(parent.MetaKMSCiphertextBlob); !bytes.Equal(b, made) {
		t.Fatal("the restarted parent did not store its enclave's key")
	}
	if gen, _ := p.kms.counts(); gen != 1 {
		t.Fatalf("%d keys made", gen)
	}
	if err := svc.VaultKeyCheck(); err != nil {
		t.Fatal(err)
	}

	// The same death, but another parent stored its key meanwhile.
	e2 := p.enclave(t, p.kms)
	c2 := firstBootClient(e2.addr)
	if _, err := c2.Unlock(context.Background(), lent, nil); err != nil {
		t.Fatal(err)
	}
	c2again := firstBootClient(e2.addr)
	svc2, err := parent.NewService(store, c2again, nil, parent.ServiceConfig{RequireVaultBlob: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.UnlockEnclave(context.Background(), c2again, store, testCreds, "parent-b"); !errors.Is(err, parent.ErrVaultKeyNotStored) {
		t.Fatalf("unstored key beside a stored one: %v", err)
	}
	if _, _, err := svc2.EnsureWallet(context.Background(), 3); !errors.Is(err, parent.ErrEnclaveUnavailable) {
		t.Fatalf("wallet under an unstored key: %v", err)
	}
	e2.stop()
	e2.startWith(p.kms)
	if err := unlockRestarted(c2again, store, "parent-b"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc2.EnsureWallet(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
}
