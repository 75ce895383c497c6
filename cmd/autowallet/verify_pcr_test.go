package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/attestation"
)

// TestVerifyPCR1And2: -pcr1 and -pcr2 are checked when given (a wrong one
// fails with ErrPCRMismatch, each on its own), reported as unchecked when
// not, and a malformed one is a usage error, never skipped.
func TestVerifyPCR1And2(t *testing.T) {
	b64, err := os.ReadFile(awsDocument)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64)))
	if err != nil {
		t.Fatal(err)
	}
	pcr0, _ := hex.DecodeString(awsPCR0)
	d, err := attestation.Verify(raw, attestation.Options{Time: time.Date(2025, 7, 18, 18, 0, 0, 0, time.UTC), PCRs: map[int][]byte{0: pcr0}})
	if err != nil {
		t.Fatal(err)
	}
	pcr1, pcr2 := hex.EncodeToString(d.PCRs[1]), hex.EncodeToString(d.PCRs[2])
	at := []string{"-file", awsDocument, "-pcr0", awsPCR0, "-at", "2025-07-18T18:00:00Z"}

	out, err := verify(t, append(at, "-pcr1", pcr1, "-pcr2", pcr2)...)
	if err != nil || !strings.Contains(out, "PCR1         "+pcr1+" matches") || !strings.Contains(out, "PCR2         "+pcr2+" matches") {
		t.Fatalf("all three PCRs: %v\n%s", err, out)
	}
	out, err = verify(t, at...)
	if err != nil || !strings.Contains(out, "(not checked: give -pcr1)") || !strings.Contains(out, "(not checked: give -pcr2)") {
		t.Fatalf("PCR0 only: %v\n%s", err, out)
	}
	flipped := func(h string) string { // last hex digit changed
		last := "0"
		if h[len(h)-1] == '0' {
			last = "1"
		}
		return h[:len(h)-1] + last
	}
	for name, args := range map[string][]string{
		"wrong PCR1":             {"-pcr1", flipped(pcr1)},
		"wrong PCR2":             {"-pcr2", flipped(pcr2)},
		"right PCR1, wrong PCR2": {"-pcr1", pcr1, "-pcr2", flipped(pcr2)},
		"PCR1 given as PCR2's":   {"-pcr1", pcr2},
		"wrong PCR1, right PCR2": {"-pcr1", flipped(pcr1), "-pcr2", pcr2},
	} {
		if _, err := verify(t, append(at, args...)...); !errors.Is(err, attestation.ErrPCRMismatch) {
			t.Errorf("%s: %v, want ErrPCRMismatch", name, err)
		}
	}
	for _, args := range [][]string{{"-pcr1", "abcd"}, {"-pcr2", "zz"}, {"-pcr1", strings.Repeat("ab", 32)}} {
		m := NewVerifyMain(&strings.Builder{})
		if err := m.ParseFlags(append(at, args...)); err == nil || !strings.Contains(err.Error(), "96 hex") {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
