package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/internal/testvectors"
)

// TestVerifyIdentityKey: against a running `autowallet dev` (dev NSM),
// verify prints the identity key the fresh document binds, which is the
// HKDF of the dev vault key and the page's config.json identity_key;
// -identity-key with that key passes, with another key fails (exit 1), and
// a malformed one is a flag error (exit 2). The AWS document, which binds
// no key, fails with -identity-key.
func TestVerifyIdentityKey(t *testing.T) {
	dir := t.TempDir()
	m := startDev(t, dir)
	defer m.Close()
	base := "http://" + m.Addr().String()
	pcr0 := hex.EncodeToString(m.DevNSM().PCR0())
	root := m.DevNSM().Root().SHA256()
	vault, err := os.ReadFile(filepath.Join(dir, "vault.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := hex.EncodeToString(testvectors.IdentityKeyFor(vault).Public().(ed25519.PublicKey))
	if page := getConfigJSON(t, base); page != key {
		t.Fatalf("config.json %s, want %s", page, key)
	}

	out, err := verify(t, "-url", base, "-pcr0", pcr0, "-root-sha256", root)
	if err != nil || !strings.Contains(out, "identity key "+key) || !strings.Contains(out, "config.json") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = verify(t, "-url", base, "-pcr0", pcr0, "-root-sha256", root, "-identity-key", key)
	if err != nil || !strings.Contains(out, "matches -identity-key") {
		t.Fatalf("%v\n%s", err, out)
	}
	other := hex.EncodeToString(testvectors.IdentityKey().Public().(ed25519.PublicKey))
	if out, err := verify(t, "-url", base, "-pcr0", pcr0, "-root-sha256", root, "--identity-key", other); !errors.Is(err, ErrIdentityKeyMismatch) || strings.Contains(out, "OK") {
		t.Fatalf("another key: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"verify", "-url", base, "-pcr0", pcr0, "-root-sha256", root, "--identity-key", other}, &stdout, &stderr); code != 1 {
		t.Fatalf("another key: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"verify", "-url", base, "-pcr0", pcr0, "-root-sha256", root, "-identity-key", "0x" + key}, &stdout, &stderr); code != 2 {
		t.Fatalf("malformed key: exit %d", code)
	}
	// A document that binds no key (AWS's sample) cannot match one.
	if out, err := verify(t, "-file", awsDocument, "-pcr0", awsPCR0, "-at", "2025-07-18T18:00:00Z", "-identity-key", key); err == nil || !strings.Contains(err.Error(), "identity key") {
		t.Fatalf("AWS document with -identity-key: %v\n%s", err, out)
	}
}
