// Package cms opens the CMS EnvelopedData (RFC 5652) that AWS KMS returns as
// CiphertextForRecipient when a request carries a Recipient attestation
// document. It reads exactly that profile and refuses everything else:
//
//	ContentInfo { id-envelopedData, [0] EnvelopedData {
//	    version 2,
//	    recipientInfos SET of exactly one KeyTransRecipientInfo {
//	        version 2, rid [0] subjectKeyIdentifier,
//	        keyEncryptionAlgorithm id-RSAES-OAEP with SHA-256 and MGF1-SHA-256,
//	        encryptedKey },
//	    encryptedContentInfo { id-data, aes256-CBC with a 16-byte IV,
//	        [0] encryptedContent (primitive or constructed) } } }
//
// in BER (definite or indefinite lengths) or DER. No originatorInfo, no
// unprotectedAttrs. The subjectKeyIdentifier KMS uses is the SHA-256 of the
// recipient's DER SubjectPublicKeyInfo (see SubjectKeyID).
package cms

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
)

// Refusals. Every error of this package wraps exactly one of them.
var (
	// ErrMalformed: the input is not BER, or not EnvelopedData in the
	// profile above (wrong structure, version, content type, sizes).
	ErrMalformed = errors.New("cms: malformed EnvelopedData")
	// ErrUnsupportedAlgorithm: a key transport other than RSAES-OAEP with
	// SHA-256, or a content encryption other than AES-256-CBC.
	ErrUnsupportedAlgorithm = errors.New("cms: unsupported algorithm")
	// ErrWrongRecipient: the envelope is addressed to another public key.
	ErrWrongRecipient = errors.New("cms: envelope is for another key")
	// ErrDecrypt: the key or the content does not decrypt (wrong RSA key,
	// corrupted ciphertext, bad padding).
	ErrDecrypt = errors.New("cms: decryption failed")
)

// DER contents of the object identifiers this profile uses.
var (
	oidEnvelopedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03} // 1.2.840.113549.1.7.3
	oidData          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01} // 1.2.840.113549.1.7.1
	oidRSAESOAEP     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07} // 1.2.840.113549.1.1.7
	oidMGF1          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08} // 1.2.840.113549.1.1.8
	oidPSpecified    = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x09} // 1.2.840.113549.1.1.9
	oidSHA256        = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01} // 2.16.840.1.101.3.4.2.1
	oidAES256CBC     = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a} // 2.16.840.1.101.3.4.1.42
)

// EnvelopedData is the parsed envelope: who it is for and what it carries.
type EnvelopedData struct {
	SubjectKeyID     []byte // the recipient's subjectKeyIdentifier
	EncryptedKey     []byte // the AES-256 content key, RSAES-OAEP-SHA256 encrypted
	IV               []byte // 16 bytes
	EncryptedContent []byte // AES-256-CBC with PKCS #7 padding
}

// SubjectKeyID is the identifier KMS puts in the envelope for pub: the
// SHA-256 of its DER SubjectPublicKeyInfo.
func SubjectKeyID(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

// Decrypt parses b and opens it with priv: the usual one-call use.
func Decrypt(b []byte, priv *rsa.PrivateKey) ([]byte, error) {
	env, err := ParseEnvelopedData(b)
	if err != nil {
		return nil, err
	}
	return env.Open(priv)
}

// Open checks the envelope is addressed to priv's public key, unwraps the
// content key and decrypts the content. The returned plaintext is the
// caller's to wipe.
func (env *EnvelopedData) Open(priv *rsa.PrivateKey) ([]byte, error) {
	ski, err := SubjectKeyID(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongRecipient, err)
	}
	if subtle.ConstantTimeCompare(ski, env.SubjectKeyID) != 1 {
		return nil, fmt.Errorf("%w: subjectKeyIdentifier does not match", ErrWrongRecipient)
	}
	cek, err := rsa.DecryptOAEP(sha256.New(), nil, priv, env.EncryptedKey, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: content key: %v", ErrDecrypt, err)
	}
	defer clear(cek)
	if len(cek) != 32 {
		return nil, fmt.Errorf("%w: content key is %d bytes, want 32", ErrDecrypt, len(cek))
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	out := make([]byte, len(env.EncryptedContent))
	cipher.NewCBCDecrypter(block, env.IV).CryptBlocks(out, env.EncryptedContent)
	n := int(out[len(out)-1])
	bad := n == 0 || n > aes.BlockSize
	if !bad {
		for _, c := range out[len(out)-n:] {
			bad = bad || int(c) != n
		}
	}
	if bad {
		clear(out)
		return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	plain := bytes.Clone(out[:len(out)-n])
	clear(out)
	return plain, nil
}

// ParseEnvelopedData reads a ContentInfo holding EnvelopedData in the
// package's profile. It does no cryptography.
func ParseEnvelopedData(b []byte) (*EnvelopedData, error) {
	root, err := parseBER(b)
	if err != nil {
		return nil, err
	}
	// ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
	ci, err := children(root, classUniversal, tagSequence, 2, 2, "ContentInfo")
	if err != nil {
		return nil, err
	}
	if err := expectOID(ci[0], oidEnvelopedData, ErrMalformed, "contentType is not envelopedData"); err != nil {
		return nil, err
	}
	wrapped, err := children(ci[1], classContext, 0, 1, 1, "ContentInfo content")
	if err != nil {
		return nil, err
	}
	// EnvelopedData ::= SEQUENCE { version, [originatorInfo,] recipientInfos,
	// encryptedContentInfo [, unprotectedAttrs] }; this profile has neither
	// optional field.
	ed, err := children(wrapped[0], classUniversal, tagSequence, 3, 3, "EnvelopedData")
	if err != nil {
		return nil, err
	}
	if err := expectVersion(ed[0], 2, "EnvelopedData"); err != nil {
		return nil, err
	}
	ris, err := children(ed[1], classUniversal, tagSet, 1, 1, "recipientInfos (exactly one)")
	if err != nil {
		return nil, err
	}
	env := &EnvelopedData{}
	if err := parseKeyTrans(ris[0], env); err != nil {
		return nil, err
	}
	if err := parseContent(ed[2], env); err != nil {
		return nil, err
	}
	return env, nil
}

// KeyTransRecipientInfo ::= SEQUENCE { version 2, rid [0] SubjectKeyIdentifier,
// keyEncryptionAlgorithm, encryptedKey OCTET STRING }
func parseKeyTrans(e *element, env *EnvelopedData) error {
	kt, err := children(e, classUniversal, tagSequence, 4, 4, "KeyTransRecipientInfo")
	if err != nil {
		return err
	}
	if err := expectVersion(kt[0], 2, "KeyTransRecipientInfo"); err != nil {
		return err
	}
	if kt[1].class != classContext || kt[1].tag != 0 {
		return fmt.Errorf("%w: recipient is not identified by subjectKeyIdentifier", ErrMalformed)
	}
	if env.SubjectKeyID, err = octets(kt[1]); err != nil {
		return err
	}
	if len(env.SubjectKeyID) == 0 || len(env.SubjectKeyID) > 64 {
		return fmt.Errorf("%w: subjectKeyIdentifier of %d bytes", ErrMalformed, len(env.SubjectKeyID))
	}
	if err := parseOAEP(kt[2]); err != nil {
		return err
	}
	if !kt[3].is(classUniversal, tagOctetString, kt[3].constructed) {
		return fmt.Errorf("%w: encryptedKey is not an OCTET STRING", ErrMalformed)
	}
	if env.EncryptedKey, err = octets(kt[3]); err != nil {
		return err
	}
	if len(env.EncryptedKey) == 0 || len(env.EncryptedKey) > 1024 {
		return fmt.Errorf("%w: encryptedKey of %d bytes", ErrMalformed, len(env.EncryptedKey))
	}
	return nil
}

// parseOAEP accepts id-RSAES-OAEP with RSAES-OAEP-params naming SHA-256 as
// the hash and MGF1-SHA-256 as the mask function, and an empty label if a
// pSourceFunc is given. The defaults (SHA-1) are refused.
func parseOAEP(e *element) error {
	alg, err := children(e, classUniversal, tagSequence, 1, 2, "keyEncryptionAlgorithm")
	if err != nil {
		return err
	}
	if err := expectOID(alg[0], oidRSAESOAEP, ErrUnsupportedAlgorithm, "key transport is not RSAES-OAEP"); err != nil {
		return err
	}
	if len(alg) != 2 {
		return fmt.Errorf("%w: RSAES-OAEP without parameters means SHA-1", ErrUnsupportedAlgorithm)
	}
	params, err := children(alg[1], classUniversal, tagSequence, 0, 3, "RSAES-OAEP-params")
	if err != nil {
		return err
	}
	var hash, mgf bool
	next := 0
	for _, p := range params {
		if p.class != classContext || !p.constructed || p.tag < next || p.tag > 2 || len(p.children) != 1 {
			return fmt.Errorf("%w: RSAES-OAEP-params field", ErrMalformed)
		}
		next = p.tag + 1
		switch p.tag {
		case 0: // hashFunc
			if err := expectSHA256(p.children[0], "OAEP hash"); err != nil {
				return err
			}
			hash = true
		case 1: // maskGenFunc
			m, err := children(p.children[0], classUniversal, tagSequence, 2, 2, "maskGenFunc")
			if err != nil {
				return err
			}
			if err := expectOID(m[0], oidMGF1, ErrUnsupportedAlgorithm, "mask generation is not MGF1"); err != nil {
				return err
			}
			if err := expectSHA256(m[1], "MGF1 hash"); err != nil {
				return err
			}
			mgf = true
		case 2: // pSourceFunc: only an empty label
			s, err := children(p.children[0], classUniversal, tagSequence, 2, 2, "pSourceFunc")
			if err != nil {
				return err
			}
			if err := expectOID(s[0], oidPSpecified, ErrUnsupportedAlgorithm, "pSourceFunc is not pSpecified"); err != nil {
				return err
			}
			if !s[1].is(classUniversal, tagOctetString, false) || len(s[1].content) != 0 {
				return fmt.Errorf("%w: OAEP label must be empty", ErrUnsupportedAlgorithm)
			}
		}
	}
	if !hash || !mgf {
		return fmt.Errorf("%w: RSAES-OAEP with a default (SHA-1) hash or mask", ErrUnsupportedAlgorithm)
	}
	return nil
}

// expectSHA256 accepts AlgorithmIdentifier{sha256} with absent or NULL
// parameters.
func expectSHA256(e *element, what string) error {
	a, err := children(e, classUniversal, tagSequence, 1, 2, what)
	if err != nil {
		return err
	}
	if err := expectOID(a[0], oidSHA256, ErrUnsupportedAlgorithm, what+" is not SHA-256"); err != nil {
		return err
	}
	if len(a) == 2 && (!a[1].is(classUniversal, tagNull, false) || len(a[1].content) != 0) {
		return fmt.Errorf("%w: %s parameters are not NULL", ErrMalformed, what)
	}
	return nil
}

// EncryptedContentInfo ::= SEQUENCE { contentType id-data,
// contentEncryptionAlgorithm aes256-CBC(IV), [0] IMPLICIT encryptedContent }
func parseContent(e *element, env *EnvelopedData) error {
	eci, err := children(e, classUniversal, tagSequence, 3, 3, "EncryptedContentInfo")
	if err != nil {
		return err
	}
	if err := expectOID(eci[0], oidData, ErrMalformed, "encrypted content type is not id-data"); err != nil {
		return err
	}
	alg, err := children(eci[1], classUniversal, tagSequence, 1, 2, "contentEncryptionAlgorithm")
	if err != nil {
		return err
	}
	if err := expectOID(alg[0], oidAES256CBC, ErrUnsupportedAlgorithm, "content encryption is not AES-256-CBC"); err != nil {
		return err
	}
	if len(alg) != 2 || alg[1].class != classUniversal || alg[1].tag != tagOctetString {
		return fmt.Errorf("%w: AES-256-CBC without an IV", ErrMalformed)
	}
	if env.IV, err = octets(alg[1]); err != nil {
		return err
	}
	if len(env.IV) != aes.BlockSize {
		return fmt.Errorf("%w: IV of %d bytes", ErrMalformed, len(env.IV))
	}
	if eci[2].class != classContext || eci[2].tag != 0 {
		return fmt.Errorf("%w: no encryptedContent", ErrMalformed)
	}
	if env.EncryptedContent, err = octets(eci[2]); err != nil {
		return err
	}
	if n := len(env.EncryptedContent); n == 0 || n%aes.BlockSize != 0 || n > 4096 {
		return fmt.Errorf("%w: encryptedContent of %d bytes", ErrMalformed, n)
	}
	return nil
}

// children checks e is a constructed element of the given class and tag
// with min..max children, and returns them.
func children(e *element, class, tag, min, max int, what string) ([]*element, error) {
	if !e.is(class, tag, true) {
		return nil, fmt.Errorf("%w: %s has the wrong type", ErrMalformed, what)
	}
	if len(e.children) < min || len(e.children) > max {
		return nil, fmt.Errorf("%w: %s has %d fields", ErrMalformed, what, len(e.children))
	}
	return e.children, nil
}

func expectOID(e *element, oid []byte, sentinel error, problem string) error {
	if !e.is(classUniversal, tagOID, false) {
		return fmt.Errorf("%w: expected an OBJECT IDENTIFIER", ErrMalformed)
	}
	if !bytes.Equal(e.content, oid) {
		return fmt.Errorf("%w: %s", sentinel, problem)
	}
	return nil
}

func expectVersion(e *element, v byte, what string) error {
	if !e.is(classUniversal, tagInteger, false) || len(e.content) != 1 || e.content[0] != v {
		return fmt.Errorf("%w: %s version is not %d", ErrMalformed, what, v)
	}
	return nil
}
