package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// TestProductionNeedsNSMForKMS: a production config names a KMS key, and
// without an NSM to attest with the enclave does not start (KMS would
// never release the key).
func TestProductionNeedsNSMForKMS(t *testing.T) {
	if _, err := os.Stat("/dev/nsm"); err == nil {
		t.Skip("this machine has an NSM")
	}
	m := NewMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.ParseFlags([]string{"-config", writeConfig(t, "production"), "-tcp", "127.0.0.1:0", "-entropy", "os"}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("a production enclave started without an NSM")
	}
	if !strings.Contains(err.Error(), "NSM") || m.listener != nil {
		t.Fatalf("refused for another reason: %v", err)
	}
}
