package cms_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/autowallet/autowallet/enclave/cms"
	"github.com/autowallet/autowallet/enclave/cms/cmstest"
)

// FuzzParseEnvelopedData: any input is parsed or refused with ErrMalformed or
// ErrUnsupportedAlgorithm, without a panic; what parses has the profile's
// sizes; and opening never succeeds for an input not sealed to the key.
// Seeds (testdata/fuzz) are DER and BER envelopes, and damaged ones.
func FuzzParseEnvelopedData(f *testing.F) {
	a, _ := keys(f)
	for _, o := range []cmstest.Options{{}, {BER: true}} {
		env, err := cmstest.Seal(&a.PublicKey, make([]byte, 32), o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := cms.ParseEnvelopedData(b)
		if err != nil {
			if !errors.Is(err, cms.ErrMalformed) && !errors.Is(err, cms.ErrUnsupportedAlgorithm) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if len(env.IV) != 16 || len(env.EncryptedContent)%16 != 0 || len(env.EncryptedContent) == 0 ||
			len(env.SubjectKeyID) == 0 || len(env.EncryptedKey) == 0 {
			t.Fatalf("parsed out of profile: %+v", env)
		}
		plain, err := env.Open(a)
		if err == nil && !bytes.Equal(plain, make([]byte, 32)) {
			// Only a seed (sealed to a) may open, and then to its content.
			t.Fatalf("opened to %x", plain)
		}
	})
}
