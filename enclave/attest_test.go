package enclave

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/attestation"
	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// attestingSigner is a signer with a dev NSM (root in a temp dir) and a
// public key provider.
func attestingSigner(t *testing.T, a Attester) (*Signer, *DevNSM) {
	t.Helper()
	var nsm *DevNSM
	if a == nil {
		root, err := LoadOrCreateDevRoot(filepath.Join(t.TempDir(), "root.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if nsm, err = NewDevNSM(root, EncodeConfig(testConfig()), nil); err != nil {
			t.Fatal(err)
		}
		a = nsm
	}
	s, err := NewSigner(testConfig(), Options{Entropy: strings.NewReader(""), Attester: a})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(testvectors.VaultKey()); err != nil {
		t.Fatal(err)
	}
	return s, nsm
}

func attestationBody(t *testing.T, nonce []byte) []byte {
	b, err := json.Marshal(protocol.AttestationRequest{Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHTTPAttestation(t *testing.T) {
	s, nsm := attestingSigner(t, nil)
	url, _ := startServer(t, s)
	nonce := bytes.Repeat([]byte{0xa5}, 32)
	status, body := call(t, "POST", url+protocol.PathAttestation, attestationBody(t, nonce))
	var resp protocol.AttestationResponse
	decodeStrict(t, body, &resp)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	doc, err := attestation.Verify(resp.Document, attestation.Options{
		Time: time.Now(), RootSHA256: nsm.Root().SHA256(), Nonce: nonce, PCRs: map[int][]byte{0: nsm.PCR0()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := ConfigDigest(EncodeConfig(testConfig())); !bytes.Equal(doc.UserData, want) {
		t.Fatalf("user_data %x, want the config digest %x", doc.UserData, want)
	}
	// The unlocked enclave binds its identity public key: the test vault
	// key's, as the vectors say.
	if want := testvectors.IdentityKey().Public().(ed25519.PublicKey); !bytes.Equal(doc.PublicKey, want) {
		t.Fatalf("public_key %x, want the identity key %x", doc.PublicKey, want)
	}
	// Never trusted as AWS.
	if _, err := attestation.Verify(resp.Document, attestation.Options{Time: time.Now()}); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("dev document against AWS's root: %v", err)
	}
}

func TestHTTPAttestationRefusals(t *testing.T) {
	s, _ := attestingSigner(t, nil)
	url, _ := startServer(t, s)
	for name, c := range map[string]struct {
		method string
		body   []byte
		code   protocol.Code
	}{
		"no nonce":          {"POST", []byte(`{}`), protocol.CodeMalformedRequest},
		"empty nonce":       {"POST", []byte(`{"nonce":""}`), protocol.CodeMalformedRequest},
		"65-byte nonce":     {"POST", attestationBody(t, make([]byte, 65)), protocol.CodeMalformedRequest},
		"nonce not base64":  {"POST", []byte(`{"nonce":"!!"}`), protocol.CodeMalformedRequest},
		"unknown field":     {"POST", []byte(`{"nonce":"AA==","user_data":"AA=="}`), protocol.CodeMalformedRequest},
		"trailing data":     {"POST", []byte(`{"nonce":"AA=="} {}`), protocol.CodeMalformedRequest},
		"too large":         {"POST", append([]byte(`{"nonce":"`), bytes.Repeat([]byte("A"), protocol.MaxRequestBody)...), protocol.CodeTooLarge},
		"GET":               {"GET", nil, protocol.CodeMethodNotAllowed},
		"no nonce, no body": {"POST", nil, protocol.CodeMalformedRequest},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := call(t, c.method, url+protocol.PathAttestation, c.body)
			wantErrorShape(t, status, body, c.code)
		})
	}
	// The largest nonce is fine.
	if status, body := call(t, "POST", url+protocol.PathAttestation, attestationBody(t, make([]byte, protocol.MaxAttestationNonce))); status != 200 {
		t.Fatalf("64-byte nonce: %d %s", status, body)
	}
}

type failingAttester struct{}

func (failingAttester) Attest(_, _, _ []byte) ([]byte, error) {
	return nil, errors.New("nsm: InternalError")
}

func TestAttestationUnavailable(t *testing.T) {
	f := newFixture(t)
	if _, err := f.signer.Attest([]byte{1}); !errors.Is(err, protocol.ErrAttestationUnavailable) {
		t.Fatalf("signer without an attester: %v", err)
	}
	url, _ := startServer(t, f.signer)
	status, body := call(t, "POST", url+protocol.PathAttestation, attestationBody(t, []byte{1}))
	wantErrorShape(t, status, body, protocol.CodeAttestationUnavailable)
	if status != 503 {
		t.Fatalf("status %d", status)
	}

	s, _ := attestingSigner(t, failingAttester{})
	url, _ = startServer(t, s)
	status, body = call(t, "POST", url+protocol.PathAttestation, attestationBody(t, []byte{1}))
	wantErrorShape(t, status, body, protocol.CodeInternal)
}

// TestEncodeConfig: the bytes dev mode hashes are a config file that parses
// back to the same config.
func TestEncodeConfig(t *testing.T) {
	for _, cfg := range []*Config{testConfig(), func() *Config { c := testConfig(); c.Dev, c.HMACBotToken = true, "1:x"; return c }()} {
		got, err := ParseConfig(EncodeConfig(cfg))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, cfg) {
			t.Fatalf("%+v != %+v", got, cfg)
		}
		if !bytes.Equal(EncodeConfig(got), EncodeConfig(cfg)) || len(ConfigDigest(EncodeConfig(cfg))) != 32 {
			t.Fatal("not stable")
		}
	}
}
