package parent_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage/bolt"
)

// TestEnclaveClient: the client against the real enclave server on loopback;
// refusals arrive as the protocol's sentinels, an absent enclave as
// ErrEnclaveUnavailable.
func TestEnclaveClient(t *testing.T) {
	enc := testenv.StartEnclave(t, 1337)
	c := parent.NewEnclaveClientTCP(enc.Addr, 5*time.Second)
	ctx := context.Background()
	h, err := c.Health(ctx)
	if err != nil || h.Vault != "unlocked" || h.Protocol != protocol.ProtocolVersion {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	addr, rec, err := c.CreateWallet(ctx, 77)
	if err != nil || len(rec) == 0 || addr == ([20]byte{}) {
		t.Fatalf("CreateWallet = %s, %d bytes, %v", addr.Hex(), len(rec), err)
	}
	if _, _, err := c.CreateWallet(ctx, 0); !errors.Is(err, protocol.ErrMalformedRequest) {
		t.Fatalf("CreateWallet(0) = %v, want ErrMalformedRequest", err)
	}
	if _, _, err := c.Approve(ctx, enc.InitData(78, ""), rec); !errors.Is(err, protocol.ErrMalformedIntent) {
		t.Fatalf("Approve without start_param = %v, want ErrMalformedIntent", err)
	}
	if _, _, err := c.Approve(ctx, "auth_date=1&user=%7B%22id%22%3A1%7D", rec); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("Approve unsigned = %v, want ErrBadSignature", err)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := l.Addr().String()
	l.Close()
	if _, err := parent.NewEnclaveClientTCP(gone, time.Second).Health(ctx); !errors.Is(err, parent.ErrEnclaveUnavailable) {
		t.Fatalf("Health of a closed port = %v, want ErrEnclaveUnavailable", err)
	}
}

// TestWalletsWaitForTheVaultBlob: with KMS, no wallet is created before the
// vault key's ciphertext blob is stored and the enclave answered it, so no
// key can be sealed under a vault key that a crash would lose.
func TestWalletsWaitForTheVaultBlob(t *testing.T) {
	enc := testenv.StartEnclave(t, 1337)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc, err := parent.NewService(store, parent.NewEnclaveClientTCP(enc.Addr, 5*time.Second), nil,
		parent.ServiceConfig{RequireVaultBlob: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.EnsureWallet(context.Background(), 5); !errors.Is(err, parent.ErrEnclaveUnavailable) {
		t.Fatalf("EnsureWallet before the blob = %v, want ErrEnclaveUnavailable", err)
	}
	if err := store.PutMeta(parent.MetaKMSCiphertextBlob, []byte("blob")); err != nil {
		t.Fatal(err)
	}
	// A stored blob is not enough: this parent's enclave never answered it
	// (it unlocked from a key file), so it may hold any key
	// (TestFirstUnlockRace has the KMS enclaves that do).
	if _, _, err := svc.EnsureWallet(context.Background(), 5); !errors.Is(err, parent.ErrEnclaveUnavailable) {
		t.Fatalf("EnsureWallet with a blob the enclave never answered = %v, want ErrEnclaveUnavailable", err)
	}
	if err := svc.VaultKeyCheck(); !errors.Is(err, parent.ErrEnclaveUnavailable) {
		t.Fatalf("VaultKeyCheck = %v", err)
	}
}
