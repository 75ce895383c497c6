package parent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/autowallet/autowallet/attestation"
	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// attestingEnclave serves an enclave with a dev NSM on loopback; a nil nsm
// leaves it without one.
func attestingEnclave(t *testing.T, withNSM bool) (*parent.EnclaveClient, *enclave.DevNSM) {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	cfg := &enclave.Config{Dev: true, BotID: 1, TelegramPublicKey: pub, AllowedChainIDs: []uint64{1337}, MaxAuthAge: time.Hour, ClockSkew: time.Minute}
	var nsm *enclave.DevNSM
	opts := enclave.Options{Entropy: rand.Reader}
	if withNSM {
		root, err := enclave.LoadOrCreateDevRoot(filepath.Join(t.TempDir(), "root.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if nsm, err = enclave.NewDevNSM(root, enclave.EncodeConfig(cfg), nil); err != nil {
			t.Fatal(err)
		}
		opts.Attester = nsm
	}
	signer, err := enclave.NewSigner(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := enclave.NewServer(signer, slog.New(slog.DiscardHandler))
	go enclave.Serve(srv, l)
	t.Cleanup(func() { srv.Close() })
	return parent.NewEnclaveClientTCP(l.Addr().String(), 5*time.Second), nsm
}

func TestEnclaveClientAttestation(t *testing.T) {
	c, nsm := attestingEnclave(t, true)
	ctx := context.Background()
	nonce := []byte("0123456789abcdef0123456789abcdef")
	doc, err := c.Attestation(ctx, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attestation.Verify(doc, attestation.Options{Time: time.Now(), RootSHA256: nsm.Root().SHA256(), Nonce: nonce, PCRs: map[int][]byte{0: nsm.PCR0()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Attestation(ctx, nil); !errors.Is(err, protocol.ErrMalformedRequest) {
		t.Fatalf("empty nonce: %v", err)
	}
	bare, _ := attestingEnclave(t, false)
	if _, err := bare.Attestation(ctx, nonce); !errors.Is(err, protocol.ErrAttestationUnavailable) {
		t.Fatalf("enclave without NSM: %v", err)
	}
}

func TestAttestationEndpoint(t *testing.T) {
	c, nsm := attestingEnclave(t, true)
	mux := http.NewServeMux()
	svc, err := parent.NewService(nil, c, nil, parent.ServiceConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	svc.RegisterAPI(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(query string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + parent.PathAttestation + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	nonce := bytes.Repeat([]byte{0x5a}, 32)
	status, body := get("?nonce=" + hex.EncodeToString(nonce))
	var out protocol.AttestationResponse
	if err := json.Unmarshal(body, &out); err != nil || status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	d, err := attestation.Verify(out.Document, attestation.Options{Time: time.Now(), RootSHA256: nsm.Root().SHA256(), Nonce: nonce, PCRs: map[int][]byte{0: nsm.PCR0()}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.PCRs[0], nsm.PCR0()) {
		t.Fatal("PCR0")
	}
	for _, q := range []string{"", "?nonce=", "?nonce=zz", "?nonce=" + hex.EncodeToString(make([]byte, 65)), "?nonce=00&nonce=01", "?nonce=00&x=1"} {
		status, body := get(q)
		resp := &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(body))}
		if err := protocol.ReadError(resp); status != 400 || !errors.Is(err, protocol.ErrMalformedRequest) {
			t.Errorf("%q: %d %v", q, status, err)
		}
	}
	resp, err := http.Post(srv.URL+parent.PathAttestation+"?nonce=00", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}
