// Package kmsvault gets the enclave's vault key from AWS KMS (docs/kms.md).
//
// First boot: GenerateDataKey (AES_256) on the pinned key ARN with a fixed
// encryption context and a Recipient: an NSM attestation document binding an
// ephemeral RSA-2048 public key. KMS returns the plaintext only as
// CiphertextForRecipient, CMS EnvelopedData that this package opens with the
// ephemeral key (package cms), and CiphertextBlob, which the parent stores.
// Later boots: Decrypt of that blob with the same key ARN, context and a
// fresh Recipient.
//
// The connection to KMS is TLS from inside the enclave, over a byte stream
// the parent relays (vsock-proxy), verified against root certificates
// carried in the image, so the parent can neither read nor forge a reply.
// The parent lends temporary AWS credentials with each unlock; they are used
// for that call only and never appear in an error.
package kmsvault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/autowallet/autowallet/enclave/cms"
	"github.com/autowallet/autowallet/protocol"
)

// EncryptionContext is bound to every vault key: KMS refuses to Decrypt a
// blob under any other context, and it appears in CloudTrail.
func EncryptionContext() map[string]string {
	return map[string]string{"app": "autowallet", "purpose": "vault-key-v1"}
}

// VaultKeySize is the size of the data key: AES-256.
const VaultKeySize = 32

// Attest returns an attestation document binding publicKey (DER
// SubjectPublicKeyInfo) in its public_key field: the NSM in an enclave.
type Attest func(publicKey []byte) ([]byte, error)

// Options configure a Client. All are required.
type Options struct {
	// KeyARN and Region come from the enclave config (enclave.KMSConfig).
	KeyARN string
	Region string
	// Attest makes the Recipient attestation document.
	Attest Attest
	// Dial opens a byte stream to KMS's port 443: vsock to the parent's
	// vsock-proxy in production. TLS runs over it inside the enclave.
	Dial func(ctx context.Context) (net.Conn, error)
}

// Client is the enclave's KMS client; it implements enclave.KeySource.
type Client struct {
	keyARN string
	region string
	attest Attest
	dial   func(context.Context) (net.Conn, error)

	// Test hooks (export_test.go): the root pool, and a plain-HTTP endpoint
	// without Recipient for the local KMS emulator, which has none.
	roots       *x509.CertPool
	endpoint    string
	httpClient  *http.Client
	noRecipient bool
}

// New makes a client for the pinned key.
func New(o Options) (*Client, error) {
	if o.KeyARN == "" || o.Region == "" || o.Attest == nil || o.Dial == nil {
		return nil, errors.New("kmsvault: KeyARN, Region, Attest and Dial are required")
	}
	return &Client{keyARN: o.KeyARN, region: o.Region, attest: o.Attest, dial: o.Dial}, nil
}

func (c *Client) host() string { return "kms." + c.region + ".amazonaws.com" }

// service makes an SDK client with the lent credentials, for one call. The
// SDK does not retry: the parent's unlock loop does.
func (c *Client) service(creds protocol.AWSCredentials) (*kms.Client, error) {
	hc, endpoint := c.httpClient, c.endpoint
	if hc == nil {
		roots := c.roots
		if roots == nil {
			var err error
			if roots, err = Roots(); err != nil {
				return nil, err
			}
		}
		hc = newHTTPClient(c.host(), c.dial, roots)
		endpoint = "https://" + c.host()
	}
	return kms.New(kms.Options{
		Region:       c.region,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		HTTPClient:   hc,
		BaseEndpoint: aws.String(endpoint),
		Retryer:      aws.NopRetryer{},
	}), nil
}

// recipient is the ephemeral key KMS encrypts to, and its attestation.
type recipient struct {
	key  *rsa.PrivateKey
	info *types.RecipientInfo
}

func (c *Client) newRecipient() (*recipient, error) {
	if c.noRecipient {
		return nil, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key: %v", protocol.ErrKMSFailed, err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key: %v", protocol.ErrKMSFailed, err)
	}
	doc, err := c.attest(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: attestation: %v", protocol.ErrKMSFailed, err)
	}
	return &recipient{key: key, info: &types.RecipientInfo{
		AttestationDocument:    doc,
		KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256,
	}}, nil
}

func (r *recipient) recipientInfo() *types.RecipientInfo {
	if r == nil {
		return nil
	}
	return r.info
}

// GenerateVaultKey asks KMS for a new AES-256 data key under the pinned key
// and returns it with its CiphertextBlob.
func (c *Client) GenerateVaultKey(ctx context.Context, creds protocol.AWSCredentials) ([]byte, []byte, error) {
	svc, err := c.service(creds)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.newRecipient()
	if err != nil {
		return nil, nil, err
	}
	out, err := svc.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(c.keyARN),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: EncryptionContext(),
		Recipient:         r.recipientInfo(),
	})
	if err != nil {
		return nil, nil, c.callError("GenerateDataKey", err, creds)
	}
	if n := len(out.CiphertextBlob); n == 0 || n > protocol.MaxCiphertextBlob {
		clear(out.Plaintext)
		return nil, nil, fmt.Errorf("%w: GenerateDataKey returned a CiphertextBlob of %d bytes", protocol.ErrKMSFailed, n)
	}
	key, err := c.plaintext("GenerateDataKey", r, out.KeyId, out.Plaintext, out.CiphertextForRecipient)
	if err != nil {
		return nil, nil, err
	}
	return key, bytes.Clone(out.CiphertextBlob), nil
}

// DecryptVaultKey asks KMS to decrypt blob, with the pinned key ARN as
// KeyId and the fixed encryption context.
func (c *Client) DecryptVaultKey(ctx context.Context, creds protocol.AWSCredentials, blob []byte) ([]byte, error) {
	svc, err := c.service(creds)
	if err != nil {
		return nil, err
	}
	r, err := c.newRecipient()
	if err != nil {
		return nil, err
	}
	out, err := svc.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:      blob,
		KeyId:               aws.String(c.keyARN),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
		EncryptionContext:   EncryptionContext(),
		Recipient:           r.recipientInfo(),
	})
	if err != nil {
		return nil, c.callError("Decrypt", err, creds)
	}
	return c.plaintext("Decrypt", r, out.KeyId, out.Plaintext, out.CiphertextForRecipient)
}

// plaintext checks a reply came from the pinned key and takes the data key
// out of it: from CiphertextForRecipient with a Recipient (KMS then sends no
// Plaintext, and one is refused), from Plaintext without.
func (c *Client) plaintext(op string, r *recipient, keyID *string, plain, forRecipient []byte) ([]byte, error) {
	if aws.ToString(keyID) != c.keyARN {
		clear(plain)
		return nil, fmt.Errorf("%w: %s answered for key %q, not the pinned key", protocol.ErrKMSFailed, op, aws.ToString(keyID))
	}
	var key []byte
	if r != nil {
		if len(plain) != 0 {
			clear(plain)
			return nil, fmt.Errorf("%w: %s returned a Plaintext despite the Recipient", protocol.ErrKMSFailed, op)
		}
		var err error
		if key, err = cms.Decrypt(forRecipient, r.key); err != nil {
			return nil, fmt.Errorf("%w: %s: CiphertextForRecipient: %w", protocol.ErrKMSFailed, op, err)
		}
	} else {
		key = plain
	}
	if len(key) != VaultKeySize {
		clear(key)
		return nil, fmt.Errorf("%w: %s returned a %d-byte key, want %d", protocol.ErrKMSFailed, op, len(key), VaultKeySize)
	}
	return key, nil
}

// callError classifies an SDK error: a refusal KMS sent (kms_refused) or any
// other failure (kms_failed, with ErrUntrustedKMS for a TLS failure). The
// SDK's error chain is dropped and its text redacted: nothing of the lent
// credentials survives.
func (c *Client) callError(op string, err error, creds protocol.AWSCredentials) error {
	msg := redact(err.Error(), creds)
	var apiErr smithy.APIError
	switch {
	case errors.Is(err, ErrUntrustedKMS):
		return fmt.Errorf("%w: %s: %w: %s", protocol.ErrKMSFailed, op, ErrUntrustedKMS, msg)
	case errors.As(err, &apiErr) && apiErr.ErrorFault() != smithy.FaultServer:
		return fmt.Errorf("%w: %s: %s: %s", protocol.ErrKMSRefused, op, apiErr.ErrorCode(), redact(apiErr.ErrorMessage(), creds))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %s: %s", protocol.ErrKMSFailed, op, msg)
	default:
		return fmt.Errorf("%w: %s: %s", protocol.ErrKMSFailed, op, msg)
	}
}

// redact removes every credential value from s.
func redact(s string, creds protocol.AWSCredentials) string {
	for _, secret := range []string{creds.SessionToken, creds.SecretAccessKey, creds.AccessKeyID} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
