package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// runCmd runs `autowallet <args>` in-process, as main would.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestBackupWhileParentRuns: `autowallet parent` with -admin keeps creating
// wallets while `autowallet backup -url` copies the database; the copy opens,
// holds the data written before, and is a consistent snapshot (the wallets of
// the sequential writer form a gapless prefix).
func TestBackupWhileParentRuns(t *testing.T) {
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	data := t.TempDir()
	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	err := m.ParseFlags([]string{
		"-data", data, "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
		"-enclave-tcp", enc.Addr, "-bot-id", strconv.FormatInt(testenv.BotID, 10),
		"-telegram-public-key", hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	admin := "http://" + m.admin.Addr().String()
	tokenFile := filepath.Join(data, AdminTokenFile)
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v, want mode 0600", fi, err)
	}

	// Without the token the admin listener refuses.
	resp, err := http.Get(admin + PathAdminBackup)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), AdminTokenFile) {
		t.Fatalf("backup without token = %d %q, want 401 naming %s", resp.StatusCode, body, AdminTokenFile)
	}

	// Data written before the backup: two wallets and a built transfer.
	svc := m.Service()
	alice, _, err := svc.EnsureWallet(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := svc.EnsureWallet(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	node.Fund(t, alice.Address, big.NewInt(1e18))
	tr, err := svc.Build(ctx, parent.BuildRequest{Owner: 1, To: bob.Address, Amount: big.NewInt(5e15)})
	if err != nil {
		t.Fatal(err)
	}

	// A writer creates wallets for users 1000, 1001, ... one after another
	// until told to stop.
	const first = 1000
	var written atomic.Int64
	stop := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(first); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := svc.EnsureWallet(ctx, i); err != nil {
				writeErr = err
				return
			}
			if written.Add(1) == 3 {
				close(started)
			}
		}
	}()
	<-started
	before := written.Load()

	out := filepath.Join(t.TempDir(), "backup.db")
	code, stdout, stderr := runCmd("backup", "-url", admin, "-token-file", tokenFile, "-o", out)
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	after := written.Load()
	if code != 0 || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("backup exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v, want mode 0600", fi, err)
	}
	assertNoTempFiles(t, filepath.Dir(out))

	db, err := bolt.OpenFile(out, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, w := range []storage.Wallet{alice, bob} {
		got, err := db.WalletByOwner(w.Owner)
		if err != nil || got.Address != w.Address || !bytes.Equal(got.Record, w.Record) {
			t.Fatalf("wallet of %d in the backup = %s, %v; want %s", w.Owner, got.Address.Hex(), err, w.Address.Hex())
		}
	}
	if got, err := db.Transfer(tr.ID); err != nil || got.State != storage.StateBuilt || got.StartParam != tr.StartParam {
		t.Fatalf("transfer in the backup = %+v, %v", got, err)
	}
	var owners []int64
	err = db.ForEachWallet(func(w storage.Wallet) error {
		if w.Owner >= first {
			owners = append(owners, w.Owner)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(owners)
	for i, o := range owners {
		if o != first+int64(i) {
			t.Fatalf("the backup's writer wallets are not a prefix (not a consistent snapshot): %v", owners)
		}
	}
	// Every write finished before the backup began is in it; at most the
	// one in flight when the writer stopped is not counted in after.
	if n := int64(len(owners)); n < before || n > after+1 {
		t.Fatalf("the backup holds %d writer wallets; %d were written before it began, %d by its end", n, before, after)
	}
	t.Logf("backup: %d bytes, %d writer wallets (%d before, %d after)", fi.Size(), len(owners), before, after)

	// The parent still holds its file: a direct copy is refused with a hint.
	code, _, stderr = runCmd("backup", "-data", data, "-o", filepath.Join(t.TempDir(), "x.db"))
	if code != 1 || !strings.Contains(stderr, "locked by another process") || !strings.Contains(stderr, "-url") {
		t.Fatalf("backup -data of a running parent: exit %d, stderr %q", code, stderr)
	}
}

// TestBackupStoppedDataFolder: with -data and no process holding the lock,
// the file is copied directly; the copy replaces an older one atomically.
func TestBackupStoppedDataFolder(t *testing.T) {
	data := t.TempDir()
	db, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpsertUser(storage.User{ID: 7, ChatID: 7, FirstName: "Ada", Created: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutMeta("vault_key_blob", []byte("ciphertext")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(out, []byte("an older backup"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd("backup", "-data", data, "-o", out)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("schema %d", bolt.SchemaVersion)) {
		t.Fatalf("backup exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	assertNoTempFiles(t, dir)
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v, want mode 0600", fi, err)
	}
	b, err := bolt.OpenFile(out, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if u, err := b.User(7); err != nil || u.FirstName != "Ada" {
		t.Fatalf("user in the backup = %+v, %v", u, err)
	}
	if v, err := b.Meta("vault_key_blob"); err != nil || string(v) != "ciphertext" {
		t.Fatalf("meta in the backup = %q, %v", v, err)
	}

	// A folder without a database is an error, not an empty backup.
	code, _, stderr = runCmd("backup", "-data", t.TempDir(), "-o", filepath.Join(dir, "none.db"))
	if code != 1 || !strings.Contains(stderr, "no database") {
		t.Fatalf("backup of an empty folder: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed backup left %s: %v", "none.db", err)
	}
}

// TestBackupLockHeld: when another process holds the database (here: this
// test, through its own open file), -data says so and points to -url.
func TestBackupLockHeld(t *testing.T) {
	data := t.TempDir()
	db, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "backup.db")
	code, _, stderr := runCmd("backup", "-data", data, "-o", out)
	want := []string{"locked by another process", "running autowallet parent", "-admin 127.0.0.1:8081", "autowallet backup -url http://127.0.0.1:8081"}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed backup left %s: %v", out, err)
	}
	assertNoTempFiles(t, dir)
}

// TestParentAdminLoopbackOnly: the admin listener serves the whole database,
// so `autowallet parent` refuses any address that is not a loopback IP.
func TestParentAdminLoopbackOnly(t *testing.T) {
	base := []string{"-rpc", "http://127.0.0.1:1", "-chain-id", "1", "-bot-id", "1"}
	for _, addr := range []string{"0.0.0.0:8081", ":8081", "10.1.2.3:8081", "[::]:8081", "localhost:8081", "example.com:8081", "127.0.0.1"} {
		m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
		err := m.ParseFlags(append([]string{"-admin", addr}, base...))
		if err == nil {
			t.Errorf("-admin %s accepted", addr)
			continue
		}
		if !strings.Contains(err.Error(), "-admin") {
			t.Errorf("-admin %s: error %q does not name the flag", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8081", "[::1]:8081", "127.0.0.2:0", ""} {
		m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
		if err := m.ParseFlags(append([]string{"-admin", addr}, base...)); err != nil {
			t.Errorf("-admin %q refused: %v", addr, err)
		}
	}
	t.Setenv("AUTOWALLET_ADMIN", "0.0.0.0:8081")
	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags(base); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("AUTOWALLET_ADMIN=0.0.0.0:8081: %v, want a loopback refusal", err)
	}
	// Set in code, past ParseFlags: the listener itself refuses too.
	if _, err := startAdmin("0.0.0.0:0", t.TempDir(), nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("startAdmin on 0.0.0.0: %v, want a loopback refusal", err)
	}
}

// TestBackupFlags: exactly one source and an output are required.
func TestBackupFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-o", "x.db"},
		{"-url", "http://127.0.0.1:8081", "-data", "d", "-o", "x.db"},
		{"-url", "http://127.0.0.1:8081"},
	} {
		if code, _, stderr := runCmd(append([]string{"backup"}, args...)...); code != 2 || stderr == "" {
			t.Errorf("backup %v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}
