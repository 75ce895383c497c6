package testenv

import (
	"crypto/rand"
	"log/slog"
	"net"
	"testing"

	"github.com/autowallet/autowallet/enclave"
)

// Sibling starts a second enclave with e's config, unlocked with e's vault
// key: the enclave of a second parent of one deployment (in production
// both unlock the same KMS key). Each opens the other's sealed records.
func (e *Enclave) Sibling(t testing.TB) *Enclave {
	t.Helper()
	signer, err := enclave.NewSigner(e.Config, enclave.Options{Entropy: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Unlock(e.VaultKey); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := enclave.NewServer(signer, slog.New(slog.DiscardHandler))
	go enclave.Serve(srv, l)
	t.Cleanup(func() { srv.Close() })
	return &Enclave{Addr: l.Addr().String(), Key: e.Key, Config: e.Config, Signer: signer, VaultKey: e.VaultKey}
}
