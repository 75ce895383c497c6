package attestation_test

import (
	"errors"
	"testing"
	"time"

	"github.com/autowallet/autowallet/attestation"
)

// FuzzVerify feeds the parser arbitrary bytes (seeds in
// testdata/fuzz/FuzzVerify: the AWS document, a dev document, broken
// variants). Verify must never panic, and every refusal must wrap exactly
// one of the package's reasons.
func FuzzVerify(f *testing.F) {
	reasons := []error{attestation.ErrMalformed, attestation.ErrBadSignature, attestation.ErrUntrustedChain,
		attestation.ErrCertificateExpired, attestation.ErrDebugMode, attestation.ErrPCRMismatch, attestation.ErrNonceMismatch}
	at := time.Date(2025, 7, 18, 18, 0, 0, 0, time.UTC)
	// The AWS document's PCR0 is expected, so its seed verifies and the
	// fuzzer reaches every later check (Verify refuses options without PCR0).
	pcrs := map[int][]byte{0: loadVector(f).pcr0}
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := attestation.Verify(doc, attestation.Options{Time: at, PCRs: pcrs})
		if err == nil {
			if d == nil || len(d.PCRs[0]) != 48 || d.Certificate == nil {
				t.Fatalf("accepted without a full document: %+v", d)
			}
			return
		}
		n := 0
		for _, r := range reasons {
			if errors.Is(err, r) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("refusal wraps %d reasons: %v", n, err)
		}
	})
}
