package parent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// This file is what the parent knows of the vault key its enclave holds,
// and the checks that keep the database from choosing it (review 12,
// finding 1): a database writer can delete, empty or replace the stored
// blob, and a replaced blob made by any attested enclave of the deployment
// is genuine to KMS. So the parent believes the stored blob only while it
// is the one it checked before, and checks every key its enclave unlocks
// against a stored wallet and the pinned identity key.

// vaultRecord is this process's one view of the vault key, shared by the
// unlock loop and Service.VaultKeyCheck.
type vaultRecord struct {
	mu sync.Mutex
	// blob is what the enclave answered at its last unlock by this client,
	// nil while unknown (no unlock answered yet, the enclave restarted, or
	// it answered that it holds another key).
	blob []byte
	// checked: blob is the stored blob, its key opens the lowest owner's
	// stored wallet and gives the pinned identity key (checkUnlocked).
	// Reset with every new answer.
	checked bool
	// seen is the first blob this process checked. It is never forgotten:
	// the stored blob never changes legitimately once stored (CreateMeta),
	// so a stored blob other than seen means the database was written
	// (ErrVaultKeyChanged), and is never unlocked with.
	seen []byte
	// refusal is why wallet work is refused although the enclave may be
	// unlocked (ErrVaultKeyMissing, ErrVaultKeyMismatch,
	// ErrVaultKeyChanged, an empty blob: storage.ErrCorrupt), nil when none.
	refusal error
	// pin is the deployment identity key the enclave must show (64 hex,
	// -identity-key), "" when none is pinned.
	pin string
	// generate: this parent may make the first vault key
	// (AllowNewVaultKey, -init-vault-key).
	generate bool
}

func (c *EnclaveClient) recordBlob(b []byte) {
	c.vault.mu.Lock()
	c.vault.blob = bytes.Clone(b)
	c.vault.checked = false
	c.vault.mu.Unlock()
}

// UnlockedBlob returns the blob the enclave answered at its last unlock by
// this client, or nil when unknown.
func (c *EnclaveClient) UnlockedBlob() []byte {
	c.vault.mu.Lock()
	defer c.vault.mu.Unlock()
	return bytes.Clone(c.vault.blob)
}

// PinIdentityKey makes every unlock check that the enclave's identity key
// (/v1/health, 64 lowercase hex) is key: the one the Mini App page pins
// (-identity-key). A key made from another blob is ErrVaultKeyMismatch even
// when no wallet is stored yet to show it. Call it before use.
func (c *EnclaveClient) PinIdentityKey(key string) {
	c.vault.mu.Lock()
	c.vault.pin = key
	c.vault.mu.Unlock()
}

// AllowNewVaultKey lets UnlockEnclave make the deployment's first vault
// key when no blob and no wallet is stored and no identity key is pinned
// (-init-vault-key, a new deployment's first start). Without it no key is
// ever made: an absent blob is waited for or refused, never replaced, so
// a database writer who deletes it cannot get a parent to make a second
// genuine one. Call it before use.
func (c *EnclaveClient) AllowNewVaultKey() {
	c.vault.mu.Lock()
	c.vault.generate = true
	c.vault.mu.Unlock()
}

func (c *EnclaveClient) mayGenerate() bool {
	c.vault.mu.Lock()
	defer c.vault.mu.Unlock()
	return c.vault.generate
}

func (c *EnclaveClient) seenBlob() []byte {
	c.vault.mu.Lock()
	defer c.vault.mu.Unlock()
	return bytes.Clone(c.vault.seen)
}

func (c *EnclaveClient) pinned() string {
	c.vault.mu.Lock()
	defer c.vault.mu.Unlock()
	return c.vault.pin
}

// holdsChecked reports whether the enclave's last answer passed the checks.
func (c *EnclaveClient) holdsChecked() bool {
	c.vault.mu.Lock()
	defer c.vault.mu.Unlock()
	return c.vault.checked
}

// accept marks blob as checked, if it is still the enclave's last answer.
func (c *EnclaveClient) accept(blob []byte) {
	c.vault.mu.Lock()
	defer c.vault.mu.Unlock()
	if bytes.Equal(c.vault.blob, blob) {
		c.vault.checked = true
		if c.vault.seen == nil {
			c.vault.seen = bytes.Clone(blob)
		}
	}
}

// isRefusal: err says the database holds no usable blob of the
// deployment's key; it stands until an unlock passes.
func isRefusal(err error) bool {
	return errors.Is(err, ErrVaultKeyMissing) || errors.Is(err, ErrVaultKeyMismatch) ||
		errors.Is(err, ErrVaultKeyChanged) || errors.Is(err, storage.ErrCorrupt)
}

// noteUnlock keeps UnlockEnclave's outcome: a refusal stands; a passed
// unlock, or the definite answer that the enclave holds another key than
// the stored one, ends any earlier refusal. Other failures (a store or an
// enclave that does not answer) leave it as it was.
func (c *EnclaveClient) noteUnlock(err error) {
	c.vault.mu.Lock()
	defer c.vault.mu.Unlock()
	switch {
	case err == nil, errors.Is(err, ErrVaultKeyNotStored):
		c.vault.refusal = nil
	case isRefusal(err):
		c.vault.refusal = err
	}
}

// readStored reads the stored blob (nil when there is none) and holds it
// against the one this process checked before: any difference, an absent
// or empty row included, is ErrVaultKeyChanged.
func readStored(client *EnclaveClient, store UnlockStore) ([]byte, error) {
	blob, err := storedBlob(store)
	seen := client.seenBlob()
	if seen == nil || (err != nil && !errors.Is(err, storage.ErrCorrupt)) {
		return blob, err
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("unlock: %w (emptied): %w", ErrVaultKeyChanged, err)
	case blob == nil:
		return nil, fmt.Errorf("unlock: %w (deleted)", ErrVaultKeyChanged)
	case !bytes.Equal(blob, seen):
		return nil, fmt.Errorf("unlock: %w (replaced by another blob)", ErrVaultKeyChanged)
	}
	return blob, nil
}

// checkUnlocked checks the key the enclave now holds, whose blob is blob.
// With a pinned identity key, the enclave's identity key must be it: the
// identity key is derived from the vault key, so this proves the key, and a
// rewritten wallet row cannot make the check fail. Without a pin, the key
// must open the stored wallet of the lowest owner (one /v1/statement): a
// record_tampered answer means the wallets are sealed under another key
// than the stored blob's, so the blob was replaced. On a refusal the
// enclave's key is recorded as unknown, so VaultKeyCheck refuses wallet
// work and no wallet is sealed under the wrong key.
func checkUnlocked(ctx context.Context, client *EnclaveClient, store UnlockStore, blob []byte) error {
	if pin := client.pinned(); pin != "" {
		h, err := client.Health(ctx)
		if err != nil {
			return fmt.Errorf("unlock: reading the identity key to compare with -identity-key: %w", err)
		}
		if err := checkPin(client, h, pin); err != nil {
			return err
		}
		client.accept(blob)
		return nil
	}
	w, err := store.FirstWallet()
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// No wallet yet (first boot): nothing to check the key against.
	case err != nil:
		return fmt.Errorf("unlock: reading a stored wallet to check the vault key: %w", rowError(err))
	default:
		st, err := client.Statement(ctx, w.Record)
		if errors.Is(err, protocol.ErrRecordTampered) {
			client.recordBlob(nil)
			return fmt.Errorf("unlock: %w: user %d's wallet does not open under the key of the stored blob", ErrVaultKeyMismatch, w.Owner)
		}
		if err != nil {
			return fmt.Errorf("unlock: checking the vault key against a stored wallet: %w", err)
		}
		// The record must be the row's own: a record sealed under another
		// key for another user, put under the lowest owner, would
		// otherwise vouch for that key (review 13, finding 1).
		if st.Owner != w.Owner || common.HexToAddress(st.Address) != w.Address {
			client.recordBlob(nil)
			return fmt.Errorf("unlock: %w: the lowest owner's wallet row (user %d) holds a record of user %d", ErrVaultKeyMismatch, w.Owner, st.Owner)
		}
	}
	client.accept(blob)
	return nil
}

// checkPin refuses an identity key other than the pinned one. Identity
// keys are public: they are named in the error.
func checkPin(client *EnclaveClient, h *protocol.HealthResponse, pin string) error {
	if h.IdentityKey == pin {
		return nil
	}
	client.recordBlob(nil)
	return fmt.Errorf("unlock: %w: the enclave's identity key %q is not the pinned -identity-key %s", ErrVaultKeyMismatch, h.IdentityKey, pin)
}

// watch checks, while the enclave holds the checked key, that the stored
// blob is still the one checked (a fresh read at every check of the loop)
// and that the identity key is still the pinned one. A changed blob is a
// refusal until it is restored; the enclave keeps its key.
func watch(client *EnclaveClient, store UnlockStore, h *protocol.HealthResponse) error {
	_, err := readStored(client, store)
	client.vault.mu.Lock()
	switch {
	case errors.Is(err, ErrVaultKeyChanged):
		client.vault.refusal = err
	case err == nil && errors.Is(client.vault.refusal, ErrVaultKeyChanged):
		client.vault.refusal = nil // restored
	}
	client.vault.mu.Unlock()
	if err != nil {
		return err
	}
	if pin := client.pinned(); pin != "" {
		if err := checkPin(client, h, pin); err != nil {
			client.noteUnlock(err)
			return err
		}
	}
	return nil
}

// KeepEnclaveUnlocked unlocks the enclave now and again whenever /v1/health
// says it is locked (it restarted) or this parent has not checked the key
// it holds (a parent restarted beside a running enclave, a first-key race
// lost, a refusal), checking every interval, until ctx ends; while the
// enclave holds the checked key, it reads the stored blob at every check
// (watch). Failures are logged and retried at the next check: each refusal
// is an error at every check, with what the operator must do.
func KeepEnclaveUnlocked(ctx context.Context, client *EnclaveClient, store UnlockStore, creds aws.CredentialsProvider, holder string, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if h, err := client.Health(ctx); err != nil {
			log.Warn("enclave health", "err", err)
		} else {
			if h.Vault == "locked" {
				client.recordBlob(nil) // it restarted: the key it held is gone
			}
			if h.Vault == "locked" || !client.holdsChecked() {
				logUnlock(log, UnlockEnclave(ctx, client, store, creds, holder))
			} else if err := watch(client, store, h); err != nil {
				logUnlock(log, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logUnlock logs the outcome of an unlock or a watch. The refusals caused
// by a database writer say not to restart the enclave: before these
// checks, that advice moved the parent to another vault key.
func logUnlock(log *slog.Logger, err error) {
	switch {
	case err == nil:
		log.Info("enclave unlocked with KMS")
	case errors.Is(err, ErrVaultKeyPending):
		log.Info("first vault key: waiting for another parent", "err", err)
	case errors.Is(err, ErrVaultKeyChanged):
		log.Error("THE STORED VAULT KEY BLOB CHANGED after this parent read it: the database was written; do not restart the enclave; restore kms_ciphertext_blob from a backup. This parent refuses wallets and approvals until then", "err", err)
	case errors.Is(err, ErrVaultKeyMissing):
		log.Error("THE VAULT KEY BLOB IS MISSING while wallets are stored: the database was written; no new key is made; do not restart the enclave; restore kms_ciphertext_blob from a backup. This parent refuses wallets and approvals until then", "err", err)
	case errors.Is(err, ErrVaultKeyMismatch):
		log.Error("THE STORED VAULT KEY DOES NOT OPEN THE STORED WALLETS (or is not the pinned identity key): the database was written; do not restart the enclave; restore kms_ciphertext_blob from a backup. This parent refuses wallets and approvals until then", "err", err)
	case errors.Is(err, storage.ErrCorrupt):
		log.Error("THE STORED VAULT KEY BLOB IS CORRUPT: the database was written; do not restart the enclave; restore kms_ciphertext_blob from a backup. This parent refuses wallets and approvals until then", "err", err)
	case errors.Is(err, ErrVaultKeyNotStored):
		log.Error("THE ENCLAVE MUST BE RESTARTED: it holds a vault key that is not the stored one; this parent refuses wallets and approvals until then", "err", err)
	default:
		log.Error("unlocking the enclave", "err", err)
	}
}

// VaultKeyCheck says whether wallet work may go to the enclave. With
// RequireVaultBlob (KMS), this parent's enclave must hold the key of the
// stored blob, checked by this parent (checkUnlocked), with no refusal
// standing; otherwise it is ErrEnclaveUnavailable with the reason
// (ErrVaultKeyMissing, ErrVaultKeyMismatch, ErrVaultKeyChanged,
// storage.ErrCorrupt, ErrVaultKeyNotStored). It reads the view the unlock
// loop keeps (one per process, on the client), never the store: the loop
// reads the stored blob at every check. Without RequireVaultBlob (a dev
// key file) it is nil.
func (s *Service) VaultKeyCheck() error {
	if !s.cfg.RequireVaultBlob {
		return nil
	}
	v := &s.enclave.vault
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case v.refusal != nil:
		return fmt.Errorf("%w: %w", ErrEnclaveUnavailable, v.refusal)
	case v.checked:
		return nil
	case v.blob != nil && v.seen != nil && !bytes.Equal(v.blob, v.seen):
		return fmt.Errorf("%w: %w; restart the enclave", ErrEnclaveUnavailable, ErrVaultKeyNotStored)
	}
	return fmt.Errorf("%w: this parent has not checked that its enclave holds the stored vault key (not unlocked by it yet: first unlock in progress, or the enclave holds another key and must be restarted)", ErrEnclaveUnavailable)
}
