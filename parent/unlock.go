package parent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// MetaKMSCiphertextBlob is the meta key under which the parent keeps the KMS
// ciphertext of the vault key (docs/kms.md). Losing it loses every wallet.
const MetaKMSCiphertextBlob = "kms_ciphertext_blob"

// FirstUnlockLease is the store lease a parent holds while it asks its
// enclave for the first vault key and stores its blob: of several parents
// starting at once on one database, one generates; the others wait for the
// blob and unlock with it.
const FirstUnlockLease = "vault-key/first-unlock"

// firstUnlockTTL bounds how long a parent that died in the middle of a
// first unlock keeps the others waiting. It covers one /v1/unlock (the
// enclave's 12 s KMS bound, the client's 15 s timeout) and the store.
const firstUnlockTTL = time.Minute

var (
	// ErrVaultKeyRaceLost: this parent's enclave made a vault key, but
	// another parent's blob was stored first. The stored blob is kept; this
	// enclave holds a key nobody can get back and must be restarted.
	ErrVaultKeyRaceLost = errors.New("another parent stored the first vault key first")
	// ErrVaultKeyNotStored: the enclave holds a vault key other than the
	// stored blob's (it lost the first-key race, or made a key whose blob
	// was never stored before another parent stored its own). It must be
	// restarted; the parent then unlocks it with the stored blob.
	ErrVaultKeyNotStored = errors.New("the enclave holds a vault key that is not the stored one")
	// ErrVaultKeyPending: no blob is stored yet and another parent holds
	// the first-unlock lease: wait for its blob.
	ErrVaultKeyPending = errors.New("another parent is making the first vault key")
)

// UnlockStore is the part of storage.Store the unlock needs.
type UnlockStore interface {
	Meta(key string) ([]byte, error)
	Update(fn func(tx storage.Tx) error) error
	AcquireLease(name, holder string, ttl time.Duration) (storage.Lease, bool, error)
	ReleaseLease(name, holder string) error
}

// vaultRecord is what the parent knows of the key its enclave holds: the
// blob the enclave last answered to /v1/unlock, nil while unknown (no
// unlock answered yet, or the enclave answered that it holds another key).
type vaultRecord struct {
	mu   sync.Mutex
	blob []byte
}

func (c *EnclaveClient) recordBlob(b []byte) {
	c.vault.mu.Lock()
	c.vault.blob = bytes.Clone(b)
	c.vault.mu.Unlock()
}

// UnlockedBlob returns the blob the enclave answered at its last unlock by
// this client, or nil when unknown.
func (c *EnclaveClient) UnlockedBlob() []byte {
	c.vault.mu.Lock()
	defer c.vault.mu.Unlock()
	return bytes.Clone(c.vault.blob)
}

// Unlock asks the enclave to get its vault key from KMS with the lent
// credentials: blob empty on first boot, else the stored blob. It returns
// the blob of the key the enclave now holds, and records it (UnlockedBlob);
// an enclave that says it holds another key is recorded as unknown.
func (c *EnclaveClient) Unlock(ctx context.Context, creds protocol.AWSCredentials, blob []byte) ([]byte, error) {
	var out protocol.UnlockResponse
	if err := c.do(ctx, http.MethodPost, protocol.PathUnlock, protocol.UnlockRequest{Credentials: creds, CiphertextBlob: blob}, &out); err != nil {
		if errors.Is(err, protocol.ErrAlreadyUnlocked) {
			c.recordBlob(nil)
		}
		return nil, err
	}
	if n := len(out.CiphertextBlob); n == 0 || n > protocol.MaxCiphertextBlob {
		return nil, fmt.Errorf("%w: enclave returned a ciphertext blob of %d bytes", ErrEnclaveUnavailable, n)
	}
	c.recordBlob(out.CiphertextBlob)
	return out.CiphertextBlob, nil
}

// UnlockEnclave unlocks the enclave with KMS: it lends credentials from
// creds (the instance role, through the SDK's default chain, in production)
// and the stored blob. On first boot (no blob stored) only the parent that
// holds the store lease FirstUnlockLease (holder: this parent's instance
// name) asks for a new key, and stores its blob only if none is stored by
// then, in one transaction; the others answer ErrVaultKeyPending and unlock
// with the blob once it is there. The stored blob is never replaced: an
// enclave holding another key is ErrVaultKeyNotStored (or
// ErrVaultKeyRaceLost when it just made it), and wallet work stays refused
// on this parent until the enclave restarts (Service.VaultKeyCheck).
func UnlockEnclave(ctx context.Context, client *EnclaveClient, store UnlockStore, creds aws.CredentialsProvider, holder string) error {
	blob, err := storedBlob(store)
	if err != nil {
		return err
	}
	var lent protocol.AWSCredentials
	if lent, err = lend(ctx, creds); err != nil {
		return err
	}
	if blob != nil {
		return unlockStored(ctx, client, lent, blob)
	}
	lease, held, err := store.AcquireLease(FirstUnlockLease, holder, firstUnlockTTL)
	if err != nil {
		return fmt.Errorf("unlock: taking the first-unlock lease: %w", err)
	}
	if !held {
		return fmt.Errorf("unlock: %w (%s holds the first-unlock lease): waiting for its blob", ErrVaultKeyPending, lease.Holder)
	}
	defer store.ReleaseLease(FirstUnlockLease, holder)
	// The holder before us may have stored the blob and let the lease go
	// between our read and our lease: read again under the lease.
	if blob, err = storedBlob(store); err != nil {
		return err
	} else if blob != nil {
		return unlockStored(ctx, client, lent, blob)
	}
	// An enclave that made a key whose blob never reached the store (this
	// parent died in between) answers that blob again without calling KMS
	// (enclave.UnlockWithKMS), so it is stored now.
	got, err := client.Unlock(ctx, lent, nil)
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	// Create-if-absent in one transaction: the lease keeps the other
	// parents from generating, but a lease can run out under a slow KMS
	// call, so the store, not the lease, decides whose blob is the first.
	var stored []byte
	var created bool
	if err := store.Update(func(tx storage.Tx) error {
		stored, created, err = tx.CreateMeta(MetaKMSCiphertextBlob, got)
		return err
	}); err != nil {
		return fmt.Errorf("unlock: storing the new blob: %w", err)
	}
	if !created && !bytes.Equal(stored, got) {
		client.recordBlob(nil)
		return fmt.Errorf("unlock: %w: %w; restart this parent's enclave, the parent then unlocks it with the stored key", ErrVaultKeyRaceLost, ErrVaultKeyNotStored)
	}
	return nil
}

// storedBlob reads the stored blob, nil when there is none.
func storedBlob(store UnlockStore) ([]byte, error) {
	blob, err := store.Meta(MetaKMSCiphertextBlob)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && len(blob) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unlock: reading the stored blob: %w", err)
	}
	return blob, nil
}

func lend(ctx context.Context, creds aws.CredentialsProvider) (protocol.AWSCredentials, error) {
	cr, err := creds.Retrieve(ctx)
	if err != nil {
		// The SDK's message names the provider that failed, not a secret.
		return protocol.AWSCredentials{}, fmt.Errorf("unlock: getting AWS credentials: %v", err)
	}
	return protocol.AWSCredentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken}, nil
}

// unlockStored unlocks the enclave with the stored blob.
func unlockStored(ctx context.Context, client *EnclaveClient, lent protocol.AWSCredentials, blob []byte) error {
	got, err := client.Unlock(ctx, lent, blob)
	if errors.Is(err, protocol.ErrAlreadyUnlocked) {
		return fmt.Errorf("unlock: %w (%w); restart this parent's enclave, the parent then unlocks it with the stored key", ErrVaultKeyNotStored, err)
	}
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if !bytes.Equal(got, blob) {
		client.recordBlob(nil)
		return fmt.Errorf("unlock: %w: the enclave answered another blob than the stored one", ErrVaultKeyNotStored)
	}
	return nil
}

// KeepEnclaveUnlocked unlocks the enclave now and again whenever /v1/health
// says it is locked (it restarted) or this parent does not know that it
// holds the stored key (a parent restarted beside a running enclave, a
// first-key race lost), checking every interval, until ctx ends. Failures
// are logged and retried at the next check: an enclave holding a key that
// is not the stored one is an error at every check until it is restarted.
func KeepEnclaveUnlocked(ctx context.Context, client *EnclaveClient, store UnlockStore, creds aws.CredentialsProvider, holder string, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if h, err := client.Health(ctx); err != nil {
			log.Warn("enclave health", "err", err)
		} else if h.Vault == "locked" || !holdsStored(client, store) {
			if h.Vault == "locked" {
				client.recordBlob(nil) // it restarted: the key it held is gone
			}
			switch err := UnlockEnclave(ctx, client, store, creds, holder); {
			case err == nil:
				log.Info("enclave unlocked with KMS")
			case errors.Is(err, ErrVaultKeyPending):
				log.Info("first vault key: waiting for another parent", "err", err)
			case errors.Is(err, ErrVaultKeyNotStored):
				log.Error("THE ENCLAVE MUST BE RESTARTED: it holds a vault key that is not the stored one; this parent refuses wallets and approvals until then", "err", err)
			default:
				log.Error("unlocking the enclave", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// holdsStored reports whether the enclave last answered the stored blob.
func holdsStored(client *EnclaveClient, store UnlockStore) bool {
	got := client.UnlockedBlob()
	if got == nil {
		return false
	}
	blob, err := storedBlob(store)
	return err == nil && bytes.Equal(got, blob)
}

// VaultKeyCheck says whether wallet work may go to the enclave. With
// RequireVaultBlob (KMS), the vault key's blob must be stored and this
// parent's enclave must have answered that very blob at its last unlock;
// otherwise it is ErrEnclaveUnavailable with the reason. Without it (a
// dev key file) it is nil.
func (s *Service) VaultKeyCheck() error {
	if !s.cfg.RequireVaultBlob {
		return nil
	}
	got := s.enclave.UnlockedBlob()
	// The stored blob never changes once stored (CreateMeta), so one
	// read per process is enough after it is there.
	stored, _ := s.vaultBlob.Load().([]byte)
	if stored == nil {
		b, err := storedBlob(s.store)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrEnclaveUnavailable, err)
		}
		if b == nil {
			return fmt.Errorf("%w: the vault key is not stored yet (first unlock in progress)", ErrEnclaveUnavailable)
		}
		s.vaultBlob.Store(b)
		stored = b
	}
	switch {
	case got == nil:
		return fmt.Errorf("%w: this parent does not know that its enclave holds the stored vault key (not unlocked by it yet, or it holds another key and must be restarted)", ErrEnclaveUnavailable)
	case !bytes.Equal(got, stored):
		return fmt.Errorf("%w: %w; restart the enclave", ErrEnclaveUnavailable, ErrVaultKeyNotStored)
	}
	return nil
}
