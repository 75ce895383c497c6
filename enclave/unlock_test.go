package enclave

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// fixedKeySource returns the test vault key; blob "blob-1" decrypts to it.
type fixedKeySource struct{ gen, dec int }

func (f *fixedKeySource) GenerateVaultKey(context.Context, protocol.AWSCredentials) ([]byte, []byte, error) {
	f.gen++
	return testvectors.VaultKey(), []byte("blob-1"), nil
}

func (f *fixedKeySource) DecryptVaultKey(_ context.Context, _ protocol.AWSCredentials, blob []byte) ([]byte, error) {
	f.dec++
	if string(blob) != "blob-1" {
		return nil, protocol.ErrKMSRefused
	}
	return testvectors.VaultKey(), nil
}

var goodCreds = protocol.AWSCredentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: "TOKEN"}

func postUnlock(t *testing.T, url string, req protocol.UnlockRequest) ([]byte, error) {
	t.Helper()
	b, _ := json.Marshal(req)
	resp, err := http.Post(url+protocol.PathUnlock, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, protocol.ReadError(resp)
	}
	var out protocol.UnlockResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.CiphertextBlob, nil
}

func TestUnlockEndpoint(t *testing.T) {
	s, err := NewSigner(testConfig(), Options{Entropy: bytes.NewReader(make([]byte, 1<<10))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(s, slog.New(slog.DiscardHandler)))
	defer srv.Close()

	if _, err := postUnlock(t, srv.URL, protocol.UnlockRequest{Credentials: goodCreds}); !errors.Is(err, protocol.ErrKMSNotConfigured) {
		t.Fatalf("no key source: %v", err)
	}
	ks := &fixedKeySource{}
	s.SetKeySource(ks)
	if _, err := postUnlock(t, srv.URL, protocol.UnlockRequest{Credentials: protocol.AWSCredentials{AccessKeyID: "AKID", SecretAccessKey: "S"}}); !errors.Is(err, protocol.ErrMalformedRequest) {
		t.Fatalf("no session token: %v", err)
	}
	if _, err := postUnlock(t, srv.URL, protocol.UnlockRequest{Credentials: goodCreds, CiphertextBlob: []byte("other")}); !errors.Is(err, protocol.ErrKMSRefused) || !s.Locked() {
		t.Fatalf("refused blob: %v", err)
	}
	if _, err := postUnlock(t, srv.URL, protocol.UnlockRequest{Credentials: goodCreds, CiphertextBlob: make([]byte, protocol.MaxCiphertextBlob+1)}); !errors.Is(err, protocol.ErrMalformedRequest) {
		t.Fatalf("oversized blob: %v", err)
	}
	blob, err := postUnlock(t, srv.URL, protocol.UnlockRequest{Credentials: goodCreds})
	if err != nil || string(blob) != "blob-1" || s.Locked() || ks.gen != 1 {
		t.Fatalf("first boot: %q, %v", blob, err)
	}
	// Idempotent: the same blob, or an empty one (a lost first answer),
	// returns the blob in use without a KMS call.
	for _, again := range [][]byte{blob, nil} {
		got, err := postUnlock(t, srv.URL, protocol.UnlockRequest{Credentials: goodCreds, CiphertextBlob: again})
		if err != nil || !bytes.Equal(got, blob) || ks.gen != 1 || ks.dec != 1 {
			t.Fatalf("again with %q: %q, %v (gen %d, dec %d)", again, got, err, ks.gen, ks.dec)
		}
	}
	if _, err := postUnlock(t, srv.URL, protocol.UnlockRequest{Credentials: goodCreds, CiphertextBlob: []byte("blob-2")}); !errors.Is(err, protocol.ErrAlreadyUnlocked) {
		t.Fatalf("another blob: %v", err)
	}
	resp, err := http.Get(srv.URL + protocol.PathUnlock)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	// A later boot: a fresh signer decrypts the stored blob.
	s2, _ := NewSigner(testConfig(), Options{Entropy: bytes.NewReader(make([]byte, 1<<10))})
	s2.SetKeySource(ks)
	if got, err := s2.UnlockWithKMS(context.Background(), goodCreds, blob); err != nil || !bytes.Equal(got, blob) || s2.Locked() || ks.dec != 2 {
		t.Fatalf("later boot: %v", err)
	}
}
