package cms_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/autowallet/autowallet/enclave/cms"
	"github.com/autowallet/autowallet/enclave/cms/cmstest"
)

var (
	keysOnce sync.Once
	keyA     *rsa.PrivateKey
	keyB     *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if keyA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keyB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

func seal(t *testing.T, pub *rsa.PublicKey, plain []byte, o cmstest.Options) []byte {
	t.Helper()
	b, err := cmstest.Seal(pub, plain, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecryptDERAndBER(t *testing.T) {
	a, _ := keys(t)
	for _, size := range []int{0, 1, 15, 16, 32, 100} {
		plain := bytes.Repeat([]byte{0x5a}, size)
		der := seal(t, &a.PublicKey, plain, cmstest.Options{})
		if !cmstest.IsDER(der) {
			t.Fatal("the DER envelope is not DER")
		}
		ber := seal(t, &a.PublicKey, plain, cmstest.Options{BER: true})
		if cmstest.IsDER(ber) {
			t.Fatal("the BER envelope parses as DER: it does not test indefinite lengths")
		}
		for name, env := range map[string][]byte{"DER": der, "BER": ber} {
			got, err := cms.Decrypt(env, a)
			if err != nil {
				t.Fatalf("%s, %d bytes: %v", name, size, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("%s, %d bytes: got %x", name, size, got)
			}
		}
	}
}

func TestParseFields(t *testing.T) {
	a, _ := keys(t)
	env, err := cms.ParseEnvelopedData(seal(t, &a.PublicKey, make([]byte, 32), cmstest.Options{BER: true}))
	if err != nil {
		t.Fatal(err)
	}
	ski, _ := cms.SubjectKeyID(&a.PublicKey)
	if !bytes.Equal(env.SubjectKeyID, ski) || len(env.IV) != 16 || len(env.EncryptedKey) != 256 || len(env.EncryptedContent) != 48 {
		t.Fatalf("parsed %d-byte SKI, %d-byte IV, %d-byte key, %d-byte content", len(env.SubjectKeyID), len(env.IV), len(env.EncryptedKey), len(env.EncryptedContent))
	}
}

func TestRefusals(t *testing.T) {
	a, b := keys(t)
	plain := make([]byte, 32)
	good := seal(t, &a.PublicKey, plain, cmstest.Options{})
	goodBER := seal(t, &a.PublicKey, plain, cmstest.Options{BER: true})
	skiB, _ := cms.SubjectKeyID(&b.PublicKey)
	// Addressed to a's identifier but the key wrapped for b.
	underB := seal(t, &b.PublicKey, plain, cmstest.Options{SubjectKeyID: mustSKI(t, &a.PublicKey)})
	trailing := append(append([]byte{}, good...), 0)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, cms.ErrMalformed},
		{"truncated DER", good[:len(good)-10], cms.ErrMalformed},
		{"truncated BER", goodBER[:len(goodBER)-3], cms.ErrMalformed},
		{"truncated header", good[:1], cms.ErrMalformed},
		{"trailing byte", trailing, cms.ErrMalformed},
		{"not CMS", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, cms.ErrMalformed},
		{"key under another RSA key", underB, cms.ErrDecrypt},
		{"addressed to another key", seal(t, &b.PublicKey, plain, cmstest.Options{}), cms.ErrWrongRecipient},
		{"wrong subjectKeyIdentifier", seal(t, &a.PublicKey, plain, cmstest.Options{SubjectKeyID: skiB}), cms.ErrWrongRecipient},
		{"PKCS #1 v1.5 key transport", seal(t, &a.PublicKey, plain, cmstest.Options{KeyTransportOID: cmstest.OIDRSAPKCS1}), cms.ErrUnsupportedAlgorithm},
		{"OAEP with SHA-1", seal(t, &a.PublicKey, plain, cmstest.Options{OAEPHash: cmstest.OIDSHA1}), cms.ErrUnsupportedAlgorithm},
		{"AES-128-CBC content", seal(t, &a.PublicKey, plain, cmstest.Options{ContentOID: cmstest.OIDAES128CBC}), cms.ErrUnsupportedAlgorithm},
		{"AES-128-CBC content, BER", seal(t, &a.PublicKey, plain, cmstest.Options{BER: true, ContentOID: cmstest.OIDAES128CBC}), cms.ErrUnsupportedAlgorithm},
		{"bad padding", seal(t, &a.PublicKey, plain, cmstest.Options{BadPadding: true}), cms.ErrDecrypt},
		{"bad padding, BER", seal(t, &a.PublicKey, plain, cmstest.Options{BER: true, BadPadding: true}), cms.ErrDecrypt},
		{"indefinite primitive", []byte{0x04, 0x80, 0x01, 0x00, 0x00}, cms.ErrMalformed},
		{"missing end-of-contents", []byte{0x30, 0x80, 0x02, 0x01, 0x01}, cms.ErrMalformed},
		{"high tag number", []byte{0x1f, 0x81, 0x00, 0x00}, cms.ErrMalformed},
		{"length past the end", []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, cms.ErrMalformed},
		{"five length bytes", []byte{0x30, 0x85, 0, 0, 0, 0, 1, 0}, cms.ErrMalformed},
		{"too deep", deep(40), cms.ErrMalformed},
		{"too large", make([]byte, cms.MaxInput+1), cms.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := cms.Decrypt(c.in, a)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %x, %v; want %v", got, err, c.want)
			}
			for _, other := range []error{cms.ErrMalformed, cms.ErrUnsupportedAlgorithm, cms.ErrWrongRecipient, cms.ErrDecrypt} {
				if other != c.want && errors.Is(err, other) {
					t.Fatalf("%v also matches %v", err, other)
				}
			}
		})
	}
}

// TestTruncatedEverywhere cuts a good envelope at every length: each prefix
// is refused as malformed, never accepted, never a panic.
func TestTruncatedEverywhere(t *testing.T) {
	a, _ := keys(t)
	for _, o := range []cmstest.Options{{}, {BER: true}} {
		env := seal(t, &a.PublicKey, make([]byte, 32), o)
		for n := range len(env) {
			if _, err := cms.ParseEnvelopedData(env[:n]); !errors.Is(err, cms.ErrMalformed) {
				t.Fatalf("BER=%v, prefix of %d/%d bytes: %v", o.BER, n, len(env), err)
			}
		}
	}
}

func mustSKI(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	s, err := cms.SubjectKeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// deep is n nested indefinite-length SEQUENCEs.
func deep(n int) []byte {
	return []byte(strings.Repeat("\x30\x80", n) + strings.Repeat("\x00\x00", n))
}
