package parent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// MetaKMSCiphertextBlob is the meta key under which the parent keeps the KMS
// ciphertext of the vault key (docs/kms.md). Losing it loses every wallet.
const MetaKMSCiphertextBlob = "kms_ciphertext_blob"

// MetaStore is the part of storage.DB the unlock needs.
type MetaStore interface {
	Meta(key string) ([]byte, error)
	PutMeta(key string, value []byte) error
}

// Unlock asks the enclave to get its vault key from KMS with the lent
// credentials: blob empty on first boot, else the stored blob. It returns
// the blob of the key the enclave now holds.
func (c *EnclaveClient) Unlock(ctx context.Context, creds protocol.AWSCredentials, blob []byte) ([]byte, error) {
	var out protocol.UnlockResponse
	if err := c.do(ctx, http.MethodPost, protocol.PathUnlock, protocol.UnlockRequest{Credentials: creds, CiphertextBlob: blob}, &out); err != nil {
		return nil, err
	}
	if n := len(out.CiphertextBlob); n == 0 || n > protocol.MaxCiphertextBlob {
		return nil, fmt.Errorf("%w: enclave returned a ciphertext blob of %d bytes", ErrEnclaveUnavailable, n)
	}
	return out.CiphertextBlob, nil
}

// UnlockEnclave unlocks the enclave with KMS: it lends credentials from
// creds (the instance role, through the SDK's default chain, in production)
// and the stored blob; on first boot (no blob stored) it stores the blob of
// the new vault key. An enclave that answers another blob than the stored
// one is an error, and the stored blob is never replaced.
func UnlockEnclave(ctx context.Context, client *EnclaveClient, store MetaStore, creds aws.CredentialsProvider) error {
	blob, err := store.Meta(MetaKMSCiphertextBlob)
	if errors.Is(err, storage.ErrNotFound) {
		blob, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("unlock: reading the stored blob: %w", err)
	}
	cr, err := creds.Retrieve(ctx)
	if err != nil {
		// The SDK's message names the provider that failed, not a secret.
		return fmt.Errorf("unlock: getting AWS credentials: %v", err)
	}
	lent := protocol.AWSCredentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken}
	got, err := client.Unlock(ctx, lent, blob)
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if blob == nil {
		if err := store.PutMeta(MetaKMSCiphertextBlob, got); err != nil {
			return fmt.Errorf("unlock: storing the new blob: %w", err)
		}
		return nil
	}
	if !bytes.Equal(got, blob) {
		return errors.New("unlock: the enclave answered another blob than the stored one")
	}
	return nil
}

// KeepEnclaveUnlocked unlocks the enclave now and again whenever /v1/health
// says it is locked (it restarted), checking every interval, until ctx ends.
// Failures are logged and retried at the next check.
func KeepEnclaveUnlocked(ctx context.Context, client *EnclaveClient, store MetaStore, creds aws.CredentialsProvider, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if h, err := client.Health(ctx); err != nil {
			log.Warn("enclave health", "err", err)
		} else if h.Vault == "locked" {
			if err := UnlockEnclave(ctx, client, store, creds); err != nil {
				log.Error("unlocking the enclave", "err", err)
			} else {
				log.Info("enclave unlocked with KMS")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
