package kmsvault_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	localkms "github.com/nsmithuk/local-kms/src"
	lkconfig "github.com/nsmithuk/local-kms/src/config"
	lkdata "github.com/nsmithuk/local-kms/src/data"
	"github.com/sirupsen/logrus"

	"github.com/autowallet/autowallet/enclave/kmsvault"
	"github.com/autowallet/autowallet/protocol"
)

var localKMSOnce sync.Mutex

// startLocalKMS runs local-kms (github.com/nsmithuk/local-kms, pinned in
// go.mod) in process, on 127.0.0.1: its binary can only listen on every
// interface. Region and account are its KMS_REGION and KMS_ACCOUNT_ID, its
// database (KMS_DATA_PATH) a temporary folder.
func startLocalKMS(t *testing.T) string {
	t.Helper()
	localKMSOnce.Lock()
	t.Cleanup(localKMSOnce.Unlock)
	lkconfig.AWSRegion, lkconfig.AWSAccountId = testRegion, "111122223333"
	logrus.SetOutput(io.Discard)
	db := lkdata.NewDatabase(t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { localkms.HandleRequest(w, r, db) }))
	t.Cleanup(func() { srv.Close(); db.Close() })
	return srv.URL
}

func sdk(endpoint string) *kms.Client {
	return kms.New(kms.Options{Region: testRegion, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, testCreds.SessionToken)})
}

func createKey(t *testing.T, endpoint string) string {
	t.Helper()
	out, err := sdk(endpoint).CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: types.KeySpecSymmetricDefault, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// TestLocalKMS runs the client's SDK calls (without Recipient, which
// local-kms lacks) against local-kms: a new key, its decryption, and the
// refusals KMS itself makes.
func TestLocalKMS(t *testing.T) {
	endpoint := startLocalKMS(t)
	arn := createKey(t, endpoint)
	client := func(arn string) *kmsvault.Client {
		c, err := kmsvault.New(kmsvault.Options{KeyARN: arn, Region: testRegion, Attest: attestStub, Dial: noDial})
		if err != nil {
			t.Fatal(err)
		}
		c.UseEmulator(endpoint)
		return c
	}
	c := client(arn)
	ctx := context.Background()
	key, blob, err := c.GenerateVaultKey(ctx, testCreds)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 || len(blob) == 0 {
		t.Fatalf("key %d bytes, blob %d", len(key), len(blob))
	}
	again, err := c.DecryptVaultKey(ctx, testCreds, blob)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("Decrypt: %v", err)
	}
	// A second GenerateVaultKey is another key.
	if k2, _, err := c.GenerateVaultKey(ctx, testCreds); err != nil || bytes.Equal(k2, key) {
		t.Fatalf("second key: %v", err)
	}

	// A blob under another encryption context is refused by KMS.
	other, err := sdk(endpoint).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(arn), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"app": "autowallet", "purpose": "something-else"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DecryptVaultKey(ctx, testCreds, other.CiphertextBlob); !errors.Is(err, protocol.ErrKMSRefused) {
		t.Fatalf("context mismatch: %v", err)
	}
	// A blob of the pinned key, decrypted by a client pinned to another key.
	if _, err := client(createKey(t, endpoint)).DecryptVaultKey(ctx, testCreds, blob); !errors.Is(err, protocol.ErrKMSRefused) {
		t.Fatalf("other key: %v", err)
	}
	// Garbage is refused.
	if _, err := c.DecryptVaultKey(ctx, testCreds, []byte("garbage")); !errors.Is(err, protocol.ErrKMSRefused) {
		t.Fatalf("garbage: %v", err)
	}
	// A key that does not exist.
	missing := client("arn:aws:kms:eu-west-2:111122223333:key/00000000-0000-0000-0000-000000000000")
	if _, _, err := missing.GenerateVaultKey(ctx, testCreds); !errors.Is(err, protocol.ErrKMSRefused) {
		t.Fatalf("missing key: %v", err)
	}
}

// noDial: the emulator path uses plain HTTP, never the TLS dialer.
func noDial(context.Context) (net.Conn, error) { return nil, errors.New("unused") }
