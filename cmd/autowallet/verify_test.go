package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/attestation"
)

const (
	awsDocument = "../../../shared/testdata/nitro/turnkey-preprod.b64"
	awsPCR0     = "c853a6ace72694c912d934e821f50338e2e3ce99cb3a25d95d734b95614605d761dc4ff04989c2483e6e72818e8d5bd6"
)

// verify runs VerifyMain with args and returns its output and error.
func verify(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	m := NewVerifyMain(&out)
	if err := m.ParseFlags(args); err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	defer m.Close()
	err := m.Run(context.Background())
	if err == nil && !m.Done() {
		t.Fatal("verify succeeded but is not done")
	}
	return out.String(), err
}

func TestVerifySavedAWSDocument(t *testing.T) {
	out, err := verify(t, "-file", awsDocument, "-pcr0", awsPCR0, "-at", "2025-07-18T18:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"attestation document OK", "i-09d5876a85fb74c45-enc019818d6b7784de5", attestation.AWSNitroRootSHA256,
		"AWS Nitro Enclaves root", awsPCR0, "2025-07-18T17:30:22.625Z", "37ef96370730962341148a03754955137884516def11439b5d841809f6f9caac", "public key   130 bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The same document saved raw.
	b64, _ := os.ReadFile(awsDocument)
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64)))
	rawPath := filepath.Join(t.TempDir(), "doc.cose")
	os.WriteFile(rawPath, raw, 0o600)
	if _, err := verify(t, "-file", rawPath, "-pcr0", awsPCR0, "-at", "2025-07-18T18:00:00Z"); err != nil {
		t.Fatalf("raw file: %v", err)
	}

	// Without -at, now: the leaf expired long ago.
	if _, err := verify(t, "-file", awsDocument, "-pcr0", awsPCR0); !errors.Is(err, attestation.ErrCertificateExpired) {
		t.Fatalf("without -at: %v", err)
	}
	// Another PCR0.
	other := strings.Repeat("ab", 48)
	if _, err := verify(t, "-file", awsDocument, "-pcr0", other, "-at", "2025-07-18T18:00:00Z"); !errors.Is(err, attestation.ErrPCRMismatch) {
		t.Fatalf("other PCR0: %v", err)
	}
	// Another root.
	if _, err := verify(t, "-file", awsDocument, "-pcr0", awsPCR0, "-at", "2025-07-18T18:00:00Z", "-root-sha256", strings.Repeat("cd", 32)); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("other root: %v", err)
	}
}

// TestVerifyExitCodes runs the command as main does.
func TestVerifyExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"verify", "-file", awsDocument, "-pcr0", awsPCR0, "-at", "2025-07-18T18:00:00Z"}, 0, "attestation document OK"},
		{[]string{"verify", "-file", awsDocument, "-pcr0", awsPCR0}, 1, "certificate not valid"},
		{[]string{"verify", "-file", awsDocument, "-pcr0", strings.Repeat("00", 48), "-at", "2025-07-18T18:00:00Z"}, 1, "PCR mismatch"},
		{[]string{"verify", "-file", filepath.Join(t.TempDir(), "missing"), "-pcr0", awsPCR0}, 1, "no such file"},
		{[]string{"verify", "-pcr0", awsPCR0}, 2, "exactly one of -url and -file"},
		{[]string{"verify", "-file", awsDocument}, 2, "-pcr0 is required"},
		{[]string{"verify", "-file", awsDocument, "-pcr0", "abcd"}, 2, "96 hex"},
		{[]string{"verify", "-file", awsDocument, "-pcr0", awsPCR0, "-at", "yesterday"}, 2, "-at"},
		{[]string{"verify", "-file", awsDocument, "-pcr0", awsPCR0, "-root-sha256", "x"}, 2, "64 hex"},
		{[]string{"verify", "-url", "ftp://x", "-pcr0", awsPCR0}, 2, "http or https"},
	} {
		var out, errOut bytes.Buffer
		if code := run(c.args, &out, &errOut); code != c.code || !strings.Contains(out.String()+errOut.String(), c.says) {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", c.args, code, c.code, out.String(), errOut.String())
		}
	}
}

// TestVerifyAgainstDev fetches fresh documents from a running `autowallet
// dev` and verifies them against the dev root, and never against AWS's.
func TestVerifyAgainstDev(t *testing.T) {
	dir := t.TempDir()
	var banner bytes.Buffer
	m := NewDevMain(slog.New(slog.DiscardHandler), &banner)
	if err := m.ParseFlags([]string{"-data", dir, "-http", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.Addr().String()
	pcr0 := hex.EncodeToString(m.DevNSM().PCR0())
	devRoot := m.DevNSM().Root().SHA256()
	if !strings.Contains(banner.String(), "-root-sha256 "+devRoot) || !strings.Contains(banner.String(), "-pcr0 "+pcr0) {
		t.Fatalf("the banner does not say how to verify:\n%s", banner.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, "dev-attestation-root.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev root file: %v", err)
	}

	out, err := verify(t, "-url", base, "-pcr0", pcr0, "-root-sha256", devRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NOT AWS's", "matches the one sent", "user data", devRoot} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := verify(t, "-url", base+"/", "-pcr0", pcr0); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("dev document against AWS's root: %v", err)
	}
	if _, err := verify(t, "-url", base, "-pcr0", strings.Repeat("11", 48), "-root-sha256", devRoot); !errors.Is(err, attestation.ErrPCRMismatch) {
		t.Fatalf("other PCR0: %v", err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"verify", "-url", base, "-pcr0", pcr0, "-root-sha256", devRoot}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}

	// A restart on the same data folder keeps the dev root (and so the
	// fingerprint an auditor noted).
	m.Close()
	m2 := NewDevMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m2.ParseFlags([]string{"-data", dir, "-http", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if err := m2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.DevNSM().Root().SHA256() != devRoot || hex.EncodeToString(m2.DevNSM().PCR0()) != pcr0 {
		t.Fatal("restart changed the dev root or PCR0")
	}
}
