package parent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
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

	// The refusals below mean the database was written by someone else
	// (review 12, finding 1). Restarting the enclave cannot help and, before
	// these checks, moved the parent to another vault key: the operator
	// restores kms_ciphertext_blob from a backup instead (docs/kms.md).

	// ErrVaultKeyMissing: no blob is stored, but wallets are: they were
	// sealed under a key whose blob was deleted. A new key would freeze
	// every one of them, so none is made.
	ErrVaultKeyMissing = errors.New("the vault key blob (meta kms_ciphertext_blob) is missing although this deployment has a vault key (wallets are stored, or its identity key is pinned): restore it from a backup; do not restart the enclave")
	// ErrVaultKeyMismatch: the enclave unlocked with the stored blob, but
	// the key it got does not open a stored wallet, or its identity key is
	// not the pinned one (-identity-key): the stored blob was replaced by
	// another genuine one of this deployment's KMS key.
	ErrVaultKeyMismatch = errors.New("the stored vault key does not open the stored wallets (or is not the pinned identity key): the database was written; do not restart the enclave; restore kms_ciphertext_blob from a backup")
	// ErrVaultKeyChanged: the stored blob is not (or no longer) the one
	// this parent checked before: deleted, emptied or replaced under it.
	ErrVaultKeyChanged = errors.New("the stored vault key blob CHANGED after this parent read it: the database was written; do not restart the enclave; restore kms_ciphertext_blob from a backup")
)

// UnlockStore is the part of storage.Store the unlock needs.
type UnlockStore interface {
	Meta(key string) ([]byte, error)
	FirstWallet() (storage.Wallet, error)
	Update(fn func(tx storage.Tx) error) error
	AcquireLease(name, holder string, ttl time.Duration) (storage.Lease, bool, error)
	ReleaseLease(name, holder string) error
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
// and the stored blob. On first boot (no blob and no wallet stored, this
// parent started with -init-vault-key: AllowNewVaultKey, no identity key
// pinned) only the parent that holds the store lease FirstUnlockLease (holder: this
// parent's instance name) asks for a new key, and stores its blob only if
// none is stored by then, in one transaction; the others answer
// ErrVaultKeyPending and unlock with the blob once it is there. The stored
// blob is never replaced: an enclave holding another key is
// ErrVaultKeyNotStored (or ErrVaultKeyRaceLost when it just made it), and
// wallet work stays refused on this parent until the enclave restarts
// (Service.VaultKeyCheck).
//
// The database is not trusted to say which key is the deployment's
// (unlockcheck.go): no key is made while wallets are stored
// (ErrVaultKeyMissing), an empty blob is storage.ErrCorrupt, a blob that
// differs from the one this parent checked before is ErrVaultKeyChanged
// and is not unlocked with, and after every unlock the key must give the
// pinned identity key or, with none pinned, open the lowest owner's wallet
// (ErrVaultKeyMismatch). Each of these stands as this parent's refusal of
// wallet work until a later unlock passes.
func UnlockEnclave(ctx context.Context, client *EnclaveClient, store UnlockStore, creds aws.CredentialsProvider, holder string) error {
	err := unlockEnclave(ctx, client, store, creds, holder)
	client.noteUnlock(err)
	return err
}

func unlockEnclave(ctx context.Context, client *EnclaveClient, store UnlockStore, creds aws.CredentialsProvider, holder string) error {
	blob, err := readStored(client, store)
	if err != nil {
		return err
	}
	if blob == nil {
		// Security decision: the absent row is "first boot" only for a
		// parent the operator started to make the first key
		// (-init-vault-key), with no identity key pinned (a pinned
		// deployment has its key) and no wallet stored; otherwise it was
		// deleted, and a new key would only hand whoever deleted it a
		// second genuine blob (review 13).
		if blob, err = firstBootAllowed(client, store); err != nil {
			return err
		}
	}
	var lent protocol.AWSCredentials
	if lent, err = lend(ctx, creds); err != nil {
		return err
	}
	if blob != nil {
		return unlockStored(ctx, client, store, lent, blob)
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
		return unlockStored(ctx, client, store, lent, blob)
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
	return checkUnlocked(ctx, client, store, got)
}

// storedBlob reads the stored blob, nil when there is none. An empty value
// is not "none" (that would make a new key): it is storage.ErrCorrupt.
func storedBlob(store UnlockStore) ([]byte, error) {
	blob, err := store.Meta(MetaKMSCiphertextBlob)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unlock: reading the stored blob: %w", err)
	}
	if len(blob) == 0 {
		return nil, fmt.Errorf("unlock: the stored vault key blob (meta %s) is empty: %w: the database was written; restore it from a backup", MetaKMSCiphertextBlob, storage.ErrCorrupt)
	}
	return blob, nil
}

// firstBootAllowed is called when no blob is stored: nil, nil when this
// parent may make the first key (AllowNewVaultKey, no pinned identity key)
// and the store holds no wallet; the blob when one was stored meanwhile by
// the parent that made the first key (wallets come only after it);
// otherwise ErrVaultKeyMissing (a pin, or wallets: the deployment has a
// key) or ErrVaultKeyPending (a new deployment whose first key another
// parent, started with -init-vault-key, is to make).
func firstBootAllowed(client *EnclaveClient, store UnlockStore) ([]byte, error) {
	w, err := store.FirstWallet()
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("unlock: looking for stored wallets: %w", rowError(err))
	}
	wallets := err == nil
	// Read again: the first key's parent stores its blob before any wallet.
	if blob, err := storedBlob(store); err != nil || blob != nil {
		return blob, err
	}
	switch {
	case client.pinned() != "":
		return nil, fmt.Errorf("unlock: %w (-identity-key is pinned: no new key is made)", ErrVaultKeyMissing)
	case wallets:
		return nil, fmt.Errorf("unlock: %w (user %d's wallet, and maybe more)", ErrVaultKeyMissing, w.Owner)
	case !client.mayGenerate():
		return nil, fmt.Errorf("unlock: no vault key blob is stored, and this parent makes none without -init-vault-key: %w (a new deployment), or restore kms_ciphertext_blob from a backup (an existing one)", ErrVaultKeyPending)
	}
	return nil, nil
}

// rowError keeps a stored row's corruption from reading as the blob's
// (isRefusal takes storage.ErrCorrupt as an emptied blob): a wallet row
// that does not decode is named, without the sentinel; unavailability
// stays storage.ErrUnavailable.
func rowError(err error) error {
	if errors.Is(err, storage.ErrCorrupt) {
		return fmt.Errorf("a stored wallet row does not decode (%v): restore the wallets table from a backup", err)
	}
	return err
}

func lend(ctx context.Context, creds aws.CredentialsProvider) (protocol.AWSCredentials, error) {
	cr, err := creds.Retrieve(ctx)
	if err != nil {
		// The SDK's message names the provider that failed, not a secret.
		return protocol.AWSCredentials{}, fmt.Errorf("unlock: getting AWS credentials: %v", err)
	}
	return protocol.AWSCredentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken}, nil
}

// unlockStored unlocks the enclave with the stored blob and checks the key.
func unlockStored(ctx context.Context, client *EnclaveClient, store UnlockStore, lent protocol.AWSCredentials, blob []byte) error {
	got, err := client.Unlock(ctx, lent, blob)
	if errors.Is(err, protocol.ErrAlreadyUnlocked) {
		// The enclave kept a key from before this parent started (a
		// parent restarted beside it). If that key is the pinned one, the
		// stored blob is what is wrong: restarting the enclave would load
		// the stored blob's key (review 13, finding 3).
		if pin := client.pinned(); pin != "" {
			if h, herr := client.Health(ctx); herr == nil && h.IdentityKey == pin {
				return fmt.Errorf("unlock: %w: the enclave already holds the pinned identity key's vault key, and the stored blob is another", ErrVaultKeyChanged)
			}
		}
		return fmt.Errorf("unlock: %w (%w); restart this parent's enclave, the parent then unlocks it with the stored key", ErrVaultKeyNotStored, err)
	}
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if !bytes.Equal(got, blob) {
		client.recordBlob(nil)
		return fmt.Errorf("unlock: %w: the enclave answered another blob than the stored one", ErrVaultKeyNotStored)
	}
	return checkUnlocked(ctx, client, store, blob)
}
