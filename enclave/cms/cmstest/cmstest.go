// Package cmstest builds CMS EnvelopedData the way AWS KMS does for a
// Recipient (and, on request, in the ways it must not), from the standard
// library's RSA and AES primitives. It is for tests: the enclave binary does
// not link it.
package cmstest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
)

// Object identifiers, DER contents.
var (
	OIDEnvelopedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}
	OIDData          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}
	OIDRSAESOAEP     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07}
	OIDRSAPKCS1      = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01} // rsaEncryption (PKCS #1 v1.5)
	OIDMGF1          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08}
	OIDSHA256        = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}
	OIDSHA1          = []byte{0x2b, 0x0e, 0x03, 0x02, 0x1a}
	OIDAES256CBC     = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a}
	OIDAES128CBC     = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02}
)

// Options change the envelope; the zero value is what KMS sends, in DER.
type Options struct {
	// BER uses indefinite lengths for every constructed element and splits
	// encryptedContent into a constructed OCTET STRING of two segments, as
	// KMS does.
	BER bool
	// SubjectKeyID overrides the recipient identifier (default: SHA-256 of
	// the recipient's SubjectPublicKeyInfo).
	SubjectKeyID []byte
	// KeyTransportOID and ContentOID override the algorithms.
	KeyTransportOID []byte
	ContentOID      []byte
	// OAEPHash overrides the OAEP hash and MGF1 hash OID (default SHA-256).
	OAEPHash []byte
	// BadPadding makes the last plaintext block's PKCS #7 padding invalid.
	BadPadding bool
}

// Seal encrypts plaintext to pub: a fresh AES-256 key and IV, AES-256-CBC
// over the PKCS #7-padded plaintext, the key wrapped with RSAES-OAEP-SHA256.
func Seal(pub *rsa.PublicKey, plaintext []byte, o Options) ([]byte, error) {
	cek := make([]byte, 32)
	iv := make([]byte, aes.BlockSize)
	rand.Read(cek)
	rand.Read(iv)
	ek, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	padded := append([]byte{}, plaintext...)
	for range n {
		padded = append(padded, byte(n))
	}
	if o.BadPadding {
		padded[len(padded)-1] = 0
	}
	block, _ := aes.NewCipher(cek)
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)

	ski := o.SubjectKeyID
	if ski == nil {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(der)
		ski = sum[:]
	}
	kt, content, hash := OIDRSAESOAEP, OIDAES256CBC, OIDSHA256
	if o.KeyTransportOID != nil {
		kt = o.KeyTransportOID
	}
	if o.ContentOID != nil {
		content = o.ContentOID
	}
	if o.OAEPHash != nil {
		hash = o.OAEPHash
	}
	e := enc{ber: o.BER}
	hashAlg := e.cons(0x30, e.prim(0x06, hash), e.prim(0x05, nil))
	oaep := e.cons(0x30,
		e.prim(0x06, kt),
		e.cons(0x30,
			e.cons(0xa0, hashAlg),
			e.cons(0xa1, e.cons(0x30, e.prim(0x06, OIDMGF1), hashAlg))))
	ktri := e.cons(0x30, e.prim(0x02, []byte{2}), e.prim(0x80, ski), oaep, e.prim(0x04, ek))
	var encContent []byte
	if o.BER {
		half := len(ct) / 2
		encContent = e.cons(0xa0, e.prim(0x04, ct[:half]), e.prim(0x04, ct[half:]))
	} else {
		encContent = e.prim(0x80, ct)
	}
	eci := e.cons(0x30, e.prim(0x06, OIDData), e.cons(0x30, e.prim(0x06, content), e.prim(0x04, iv)), encContent)
	ed := e.cons(0x30, e.prim(0x02, []byte{2}), e.cons(0x31, ktri), eci)
	return e.cons(0x30, e.prim(0x06, OIDEnvelopedData), e.cons(0xa0, ed)), nil
}

// enc writes DER, or BER with indefinite lengths on constructed elements.
type enc struct{ ber bool }

func (e enc) prim(tag byte, content []byte) []byte {
	return append(append([]byte{tag}, derLen(len(content))...), content...)
}

func (e enc) cons(tag byte, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	if e.ber {
		return append(append([]byte{tag, 0x80}, body...), 0, 0)
	}
	return append(append([]byte{tag}, derLen(len(body))...), body...)
}

func derLen(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	var b []byte
	for ; n > 0; n >>= 8 {
		b = append([]byte{byte(n)}, b...)
	}
	return append([]byte{0x80 | byte(len(b))}, b...)
}

// IsDER reports whether b parses as DER with encoding/asn1 (which refuses
// indefinite lengths): a check that the DER form really is DER.
func IsDER(b []byte) bool {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(b, &v)
	return err == nil && len(rest) == 0
}
