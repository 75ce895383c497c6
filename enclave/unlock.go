package enclave

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/autowallet/autowallet/protocol"
)

// KeySource gets the vault key from a key service: AWS KMS in production
// (package enclave/kmsvault). The plaintext key it returns never leaves the
// enclave; the blob is the service's ciphertext of it, which the parent
// stores.
type KeySource interface {
	// GenerateVaultKey makes a new 32-byte vault key (first boot).
	GenerateVaultKey(ctx context.Context, creds protocol.AWSCredentials) (key, blob []byte, err error)
	// DecryptVaultKey recovers the vault key from its blob (later boots).
	DecryptVaultKey(ctx context.Context, creds protocol.AWSCredentials, blob []byte) (key []byte, err error)
}

// unlockTimeout bounds one /v1/unlock (its KMS call), inside the server's
// 15 s write timeout.
const unlockTimeout = 12 * time.Second

// kmsState is the signer's unlock state; mu serialises unlocks so two
// concurrent first-boot requests cannot make two keys.
type kmsState struct {
	mu     sync.Mutex
	source KeySource
	blob   []byte // blob of the vault key in use; nil while locked or unlocked otherwise
}

// SetKeySource gives the signer its key service. Call it before serving.
func (s *Signer) SetKeySource(ks KeySource) {
	s.kms.mu.Lock()
	s.kms.source = ks
	s.kms.mu.Unlock()
}

// UnlockWithKMS gets the vault key from the key source with the lent
// credentials and unlocks the signer; it returns the blob the parent must
// store. An empty blob asks for a new key (first boot), any other blob is
// decrypted (later boots).
//
// On an unlocked signer it is idempotent: the same blob, or an empty one
// (a first-boot answer that never reached the parent), returns the blob in
// use without calling KMS; another blob is ErrAlreadyUnlocked.
func (s *Signer) UnlockWithKMS(ctx context.Context, creds protocol.AWSCredentials, blob []byte) ([]byte, error) {
	s.kms.mu.Lock()
	defer s.kms.mu.Unlock()
	if s.kms.source == nil {
		return nil, fmt.Errorf("%w: this enclave takes its vault key from a file (dev mode)", protocol.ErrKMSNotConfigured)
	}
	if len(blob) > protocol.MaxCiphertextBlob {
		return nil, fmt.Errorf("%w: ciphertext_blob is over %d bytes", protocol.ErrMalformedRequest, protocol.MaxCiphertextBlob)
	}
	if !s.Locked() {
		if s.kms.blob != nil && (len(blob) == 0 || bytes.Equal(blob, s.kms.blob)) {
			return bytes.Clone(s.kms.blob), nil
		}
		return nil, fmt.Errorf("%w: the enclave is unlocked with the key of another blob", protocol.ErrAlreadyUnlocked)
	}
	if !creds.Valid() {
		return nil, fmt.Errorf("%w: credentials need access_key_id, secret_access_key and session_token", protocol.ErrMalformedRequest)
	}
	var key []byte
	var err error
	if len(blob) == 0 {
		key, blob, err = s.kms.source.GenerateVaultKey(ctx, creds)
	} else {
		key, err = s.kms.source.DecryptVaultKey(ctx, creds, blob)
	}
	defer clear(key)
	if err != nil {
		return nil, err
	}
	if err := s.Unlock(key); err != nil {
		return nil, fmt.Errorf("%w: %v", protocol.ErrKMSFailed, err)
	}
	s.kms.blob = bytes.Clone(blob)
	return bytes.Clone(blob), nil
}
