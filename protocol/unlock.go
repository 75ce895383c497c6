package protocol

import (
	"errors"
	"log/slog"
)

// PathUnlock is where the parent unlocks the vault with AWS KMS
// (docs/kms.md).
const PathUnlock = "/v1/unlock"

// MaxCiphertextBlob bounds a KMS CiphertextBlob (KMS's own limit is 6144
// bytes).
const MaxCiphertextBlob = 6144

// AWSCredentials are the temporary credentials the parent lends the enclave
// for its KMS calls. They are secret: String, GoString and LogValue never
// show them; only JSON encoding (the wire to the enclave) carries them.
type AWSCredentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token"`
}

func (c AWSCredentials) String() string       { return "AWSCredentials{redacted}" }
func (c AWSCredentials) GoString() string     { return c.String() }
func (c AWSCredentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Valid reports whether the access key and secret are present (a session
// token is required by the enclave too: it only accepts temporary
// credentials).
func (c AWSCredentials) Valid() bool {
	return c.AccessKeyID != "" && c.SecretAccessKey != "" && c.SessionToken != ""
}

// UnlockRequest asks the enclave to get its vault key from KMS: with an
// empty CiphertextBlob a new one (first boot, GenerateDataKey), otherwise by
// decrypting the blob (Decrypt).
type UnlockRequest struct {
	Credentials    AWSCredentials `json:"credentials"`
	CiphertextBlob Bytes          `json:"ciphertext_blob"`
}

// String keeps the credentials out of any %v of a request.
func (r UnlockRequest) String() string { return "UnlockRequest{redacted}" }

// LogValue keeps the credentials out of a structured log of a request.
func (r UnlockRequest) LogValue() slog.Value { return slog.StringValue(r.String()) }

// UnlockResponse carries the KMS ciphertext of the vault key the enclave
// holds: the parent stores it (meta key kms_ciphertext_blob) and sends it
// back on every later unlock.
type UnlockResponse struct {
	CiphertextBlob Bytes `json:"ciphertext_blob"`
}

// Codes of the unlock endpoint.
const (
	CodeKMSFailed        Code = "kms_failed"
	CodeKMSRefused       Code = "kms_refused"
	CodeAlreadyUnlocked  Code = "already_unlocked"
	CodeKMSNotConfigured Code = "kms_not_configured"
)

// Sentinels of the unlock endpoint.
var (
	// ErrKMSFailed: KMS could not be reached, failed, or sent a reply the
	// enclave could not use (bad TLS, bad envelope, wrong key id).
	ErrKMSFailed = errors.New("KMS call failed")
	// ErrKMSRefused: KMS answered with a refusal (access denied by the key
	// policy, invalid ciphertext, encryption context mismatch, ...).
	ErrKMSRefused = errors.New("KMS refused")
	// ErrAlreadyUnlocked: the enclave holds a vault key from another blob.
	ErrAlreadyUnlocked = errors.New("vault is already unlocked with another key")
	// ErrKMSNotConfigured: this enclave's config has no KMS key (dev mode).
	ErrKMSNotConfigured = errors.New("enclave has no KMS configuration")
)

func init() {
	sentinelOf[CodeKMSFailed] = ErrKMSFailed
	sentinelOf[CodeKMSRefused] = ErrKMSRefused
	sentinelOf[CodeAlreadyUnlocked] = ErrAlreadyUnlocked
	sentinelOf[CodeKMSNotConfigured] = ErrKMSNotConfigured
}
