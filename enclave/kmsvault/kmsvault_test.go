package kmsvault_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/enclave/cms"
	"github.com/autowallet/autowallet/enclave/kmsvault"
	"github.com/autowallet/autowallet/protocol"
)

func mustSKI(pub *rsa.PublicKey) []byte {
	s, err := cms.SubjectKeyID(pub)
	if err != nil {
		panic(err)
	}
	return s
}

func newClient(t *testing.T, f *fakeKMS, region string) *kmsvault.Client {
	t.Helper()
	c, err := kmsvault.New(kmsvault.Options{KeyARN: testARN, Region: region, Attest: attestStub, Dial: f.dial})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noSecrets fails if err's text shows a lent credential.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{testCreds.AccessKeyID, testCreds.SecretAccessKey, testCreds.SessionToken} {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Fatalf("error shows a credential: %v", err)
		}
	}
}

// TestRecipientPath: GenerateDataKey then Decrypt with a Recipient, over
// TLS to the fake KMS, opening real CMS envelopes (DER and BER).
func TestRecipientPath(t *testing.T) {
	f := startFakeKMS(t, "kms."+testRegion+".amazonaws.com")
	c := newClient(t, f, testRegion)
	c.SetRoots(f.pool)
	ctx := context.Background()
	for _, mode := range []string{"", "ber"} {
		f.setMode(mode)
		key, blob, err := c.GenerateVaultKey(ctx, testCreds)
		if err != nil {
			t.Fatalf("mode %q: %v", mode, err)
		}
		if len(key) != 32 || len(blob) == 0 {
			t.Fatalf("key %d bytes, blob %d bytes", len(key), len(blob))
		}
		again, err := c.DecryptVaultKey(ctx, testCreds, blob)
		if err != nil || !bytes.Equal(again, key) {
			t.Fatalf("mode %q: Decrypt gave another key: %v", mode, err)
		}
	}
}

// TestRecipientRefusals: each damaged reply is refused with its reason.
func TestRecipientRefusals(t *testing.T) {
	f := startFakeKMS(t, "kms."+testRegion+".amazonaws.com")
	c := newClient(t, f, testRegion)
	c.SetRoots(f.pool)
	ctx := context.Background()
	_, blob, err := c.GenerateVaultKey(ctx, testCreds)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mode  string
		wants []error
	}{
		{"another RSA key", []error{protocol.ErrKMSFailed, cms.ErrDecrypt}},
		{"truncated", []error{protocol.ErrKMSFailed, cms.ErrMalformed}},
		{"wrong key transport", []error{protocol.ErrKMSFailed, cms.ErrUnsupportedAlgorithm}},
		{"wrong content encryption", []error{protocol.ErrKMSFailed, cms.ErrUnsupportedAlgorithm}},
		{"wrong subjectKeyIdentifier", []error{protocol.ErrKMSFailed, cms.ErrWrongRecipient}},
		{"bad padding", []error{protocol.ErrKMSFailed, cms.ErrDecrypt}},
		{"short key", []error{protocol.ErrKMSFailed}},
		{"plaintext too", []error{protocol.ErrKMSFailed}},
		{"other key id", []error{protocol.ErrKMSFailed}},
		{"denied", []error{protocol.ErrKMSRefused}},
		{"internal", []error{protocol.ErrKMSFailed}},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			f.setMode(tc.mode)
			for op, call := range map[string]func() ([]byte, error){
				"GenerateDataKey": func() ([]byte, error) { k, _, err := c.GenerateVaultKey(ctx, testCreds); return k, err },
				"Decrypt":         func() ([]byte, error) { return c.DecryptVaultKey(ctx, testCreds, blob) },
			} {
				key, err := call()
				if key != nil {
					t.Fatalf("%s: got a key", op)
				}
				for _, want := range tc.wants {
					if !errors.Is(err, want) {
						t.Fatalf("%s: %v, want %v", op, err, want)
					}
				}
				if tc.mode != "denied" && errors.Is(err, protocol.ErrKMSRefused) || tc.mode == "denied" && errors.Is(err, protocol.ErrKMSFailed) {
					t.Fatalf("%s: %v is in both classes", op, err)
				}
				noSecrets(t, err)
			}
		})
	}
	f.setMode("")
	if _, err := c.DecryptVaultKey(ctx, testCreds, []byte("not a blob of this KMS")); !errors.Is(err, protocol.ErrKMSRefused) {
		t.Fatalf("unknown blob: %v", err)
	}
}

// TestTLSRefused: the fake's certificate is not under the embedded roots, or
// is for another host: no request is sent.
func TestTLSRefused(t *testing.T) {
	f := startFakeKMS(t, "kms."+testRegion+".amazonaws.com")
	ctx := context.Background()
	c := newClient(t, f, testRegion) // embedded roots only
	_, _, err := c.GenerateVaultKey(ctx, testCreds)
	if !errors.Is(err, kmsvault.ErrUntrustedKMS) || !errors.Is(err, protocol.ErrKMSFailed) {
		t.Fatalf("untrusted CA: %v", err)
	}
	var unknown x509.UnknownAuthorityError
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") && !errors.As(err, &unknown) {
		t.Fatalf("refused for another reason: %v", err)
	}
	noSecrets(t, err)
	// Right CA, wrong name: the client for us-east-1 expects
	// kms.us-east-1.amazonaws.com.
	other, err := kmsvault.New(kmsvault.Options{KeyARN: testARN, Region: "us-east-1", Attest: attestStub, Dial: f.dial})
	if err != nil {
		t.Fatal(err)
	}
	other.SetRoots(f.pool)
	if _, err := other.DecryptVaultKey(ctx, testCreds, []byte("blob")); !errors.Is(err, kmsvault.ErrUntrustedKMS) {
		t.Fatalf("wrong name: %v", err)
	}
	if n := f.callCount(); n != 0 {
		t.Fatalf("%d requests reached the server", n)
	}
}

// TestEmbeddedRoots: the pool holds exactly the five embedded roots.
func TestEmbeddedRoots(t *testing.T) {
	p, err := kmsvault.Roots()
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 Subjects is fine for a pool built from PEMs
	if n := len(p.Subjects()); n != 5 {
		t.Fatalf("%d roots", n)
	}
}

func TestNewRefusesIncomplete(t *testing.T) {
	if _, err := kmsvault.New(kmsvault.Options{KeyARN: testARN, Region: testRegion}); err == nil {
		t.Fatal("accepted no Attest and no Dial")
	}
}
