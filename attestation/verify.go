// Package attestation verifies AWS Nitro Enclave attestation documents
// (docs/attestation.md): a COSE_Sign1 structure, signed with ES384 by a leaf
// certificate that chains to a pinned root, over a CBOR payload that carries
// the enclave's PCRs, a nonce, user data and a public key.
//
// It is the auditor's side: `autowallet verify` and the tests import it; the
// enclave binary does not.
package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// AWSNitroRootSHA256 is the SHA-256 fingerprint of the DER of the AWS Nitro
// Enclaves root certificate (AWS_NitroEnclaves_Root-G1), as AWS publishes it.
const AWSNitroRootSHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"

// MaxDocumentSize bounds the input: a real document is about 5 KB.
const MaxDocumentSize = 64 << 10

// Every refusal wraps exactly one of these; test with errors.Is.
var (
	// ErrMalformed: the bytes are not a well-formed attestation document.
	ErrMalformed = errors.New("attestation: malformed document")
	// ErrBadSignature: the COSE signature does not verify with the leaf certificate.
	ErrBadSignature = errors.New("attestation: bad signature")
	// ErrUntrustedChain: the certificate chain does not lead to the pinned root.
	ErrUntrustedChain = errors.New("attestation: untrusted certificate chain")
	// ErrCertificateExpired: a certificate of the chain is not valid at the
	// verification time.
	ErrCertificateExpired = errors.New("attestation: certificate not valid at the verification time")
	// ErrDebugMode: PCR0 is all zeros, which is what an enclave started in
	// debug mode reports; its memory can be read by the host.
	ErrDebugMode = errors.New("attestation: enclave runs in debug mode (PCR0 is all zeros)")
	// ErrPCRMismatch: a PCR differs from the expected value.
	ErrPCRMismatch = errors.New("attestation: PCR mismatch")
	// ErrNonceMismatch: the document does not carry the expected nonce.
	ErrNonceMismatch = errors.New("attestation: nonce mismatch")
	// ErrNoExpectedPCRs: the caller gave no expected PCR0. A document that
	// only chains to AWS's root proves that some enclave runs some image;
	// without the measurement to compare, Verify refuses (fail closed)
	// rather than answer "valid" for any image.
	ErrNoExpectedPCRs = errors.New("attestation: no expected PCR0 given")
)

// Options says what to check a document against.
type Options struct {
	// Time is the moment at which the certificates must be valid. Required:
	// a verifier always says when it checks (time.Now() for a live enclave).
	Time time.Time
	// RootSHA256 is the hex SHA-256 fingerprint of the trusted root
	// certificate; empty means AWSNitroRootSHA256.
	RootSHA256 string
	// Nonce, when not nil, must equal the document's nonce.
	Nonce []byte
	// PCRs maps PCR indexes to their expected values. It must name PCR0
	// (the image measurement), else Verify refuses with ErrNoExpectedPCRs;
	// PCR1, PCR2 and any other index may be added.
	PCRs map[int][]byte
}

// Document is a verified attestation document.
type Document struct {
	ModuleID    string
	Digest      string
	Timestamp   time.Time
	PCRs        map[int][]byte
	Certificate *x509.Certificate
	// Root is the trusted root certificate (cabundle[0]) and RootSHA256 its
	// hex fingerprint.
	Root       *x509.Certificate
	RootSHA256 string
	// Chain is the verified chain, leaf first, root last.
	Chain     []*x509.Certificate
	PublicKey []byte // nil when absent
	UserData  []byte // nil when absent
	Nonce     []byte // nil when absent
}

// payload is the CBOR map AWS's NSM signs (field names and types as in AWS's
// "Verifying the root of trust"). Pointers tell an absent field from an empty one.
type payload struct {
	ModuleID    *string           `cbor:"module_id"`
	Digest      *string           `cbor:"digest"`
	Timestamp   *uint64           `cbor:"timestamp"`
	PCRs        map[uint64][]byte `cbor:"pcrs"`
	Certificate []byte            `cbor:"certificate"`
	CABundle    [][]byte          `cbor:"cabundle"`
	PublicKey   []byte            `cbor:"public_key"`
	UserData    []byte            `cbor:"user_data"`
	Nonce       []byte            `cbor:"nonce"`
}

// payloadMode decodes the payload strictly: duplicate keys and unknown
// fields are refused, and so is anything nested too deep or too long. AWS's
// NSM writes the payload as an indefinite-length map, which is allowed.
var payloadMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthAllowed,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   4,
		MaxArrayElements:  64,
		MaxMapPairs:       64,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// Verify checks doc (raw COSE_Sign1 bytes, with or without CBOR tag 18)
// against opts, in this order: shape (ErrMalformed), signature with the leaf
// certificate (ErrBadSignature), the root's fingerprint and the chain
// (ErrUntrustedChain, ErrCertificateExpired), PCR0 not all zeros
// (ErrDebugMode), the expected PCRs (ErrPCRMismatch), the nonce
// (ErrNonceMismatch). Before all that, options without an expected PCR0 are
// refused (ErrNoExpectedPCRs).
func Verify(doc []byte, opts Options) (*Document, error) {
	if opts.Time.IsZero() {
		return nil, errors.New("attestation: no verification time given")
	}
	// Fail closed, before reading the document: no expected measurement,
	// no verdict.
	if _, ok := opts.PCRs[0]; !ok {
		return nil, fmt.Errorf("%w: pass the image measurement you expect (an empty set would accept any image)", ErrNoExpectedPCRs)
	}
	pin := opts.RootSHA256
	if pin == "" {
		pin = AWSNitroRootSHA256
	}
	wantRoot, err := hex.DecodeString(pin)
	if err != nil || len(wantRoot) != sha256.Size {
		return nil, fmt.Errorf("attestation: root fingerprint %q is not 64 hex characters", pin)
	}
	if len(doc) == 0 || len(doc) > MaxDocumentSize {
		return nil, fmt.Errorf("%w: %d bytes, want 1 to %d", ErrMalformed, len(doc), MaxDocumentSize)
	}

	// COSE_Sign1, tagged (18) or not.
	var msg cose.Sign1Message
	if doc[0] == 0xd2 {
		err = msg.UnmarshalCBOR(doc)
	} else {
		err = (*cose.UntaggedSign1Message)(&msg).UnmarshalCBOR(doc)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: COSE_Sign1: %v", ErrMalformed, err)
	}
	if alg, err := msg.Headers.Protected.Algorithm(); err != nil || alg != cose.AlgorithmES384 {
		return nil, fmt.Errorf("%w: protected header does not name ES384", ErrMalformed)
	}
	if len(msg.Headers.Protected) != 1 {
		return nil, fmt.Errorf("%w: unexpected protected headers", ErrMalformed)
	}
	if len(msg.Payload) == 0 {
		return nil, fmt.Errorf("%w: no payload", ErrMalformed)
	}

	p, err := decodePayload(msg.Payload)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(p.Certificate)
	if err != nil {
		return nil, fmt.Errorf("%w: leaf certificate: %v", ErrMalformed, err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil, fmt.Errorf("%w: leaf key is not ECDSA P-384", ErrMalformed)
	}
	verifier, err := cose.NewVerifier(cose.AlgorithmES384, pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// The signature covers the protected header and the payload as they
	// were sent (go-cose keeps their raw bytes).
	if err := msg.Verify(nil, verifier); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}

	// The chain: cabundle[0] is the root, pinned by fingerprint; the rest
	// are intermediates, up to the leaf.
	rootSum := sha256.Sum256(p.CABundle[0])
	if !bytes.Equal(rootSum[:], wantRoot) {
		return nil, fmt.Errorf("%w: root certificate fingerprint %x is not the pinned %s", ErrUntrustedChain, rootSum, pin)
	}
	root, err := x509.ParseCertificate(p.CABundle[0])
	if err != nil {
		return nil, fmt.Errorf("%w: root certificate: %v", ErrMalformed, err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for i, der := range p.CABundle[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: cabundle[%d]: %v", ErrMalformed, i+1, err)
		}
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: opts.Time,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, fmt.Errorf("%w: %v", ErrCertificateExpired, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrUntrustedChain, err)
	}

	d := &Document{
		ModuleID: *p.ModuleID, Digest: *p.Digest,
		Timestamp:   time.UnixMilli(int64(*p.Timestamp)).UTC(),
		PCRs:        make(map[int][]byte, len(p.PCRs)),
		Certificate: leaf, Root: root, RootSHA256: hex.EncodeToString(rootSum[:]), Chain: chains[0],
		PublicKey: p.PublicKey, UserData: p.UserData, Nonce: p.Nonce,
	}
	for i, v := range p.PCRs {
		d.PCRs[int(i)] = v
	}
	if allZero(d.PCRs[0]) {
		return nil, ErrDebugMode
	}
	for i, want := range opts.PCRs {
		got, ok := d.PCRs[i]
		if !ok {
			return nil, fmt.Errorf("%w: the document has no PCR%d", ErrPCRMismatch, i)
		}
		if !bytes.Equal(got, want) {
			return nil, fmt.Errorf("%w: PCR%d is %x, want %x", ErrPCRMismatch, i, got, want)
		}
	}
	if opts.Nonce != nil && !bytes.Equal(d.Nonce, opts.Nonce) {
		return nil, fmt.Errorf("%w: document nonce is %x, want %x", ErrNonceMismatch, d.Nonce, opts.Nonce)
	}
	return d, nil
}

// decodePayload decodes and checks the payload's shape with AWS's rules.
func decodePayload(b []byte) (*payload, error) {
	var p payload
	if err := payloadMode.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	bad := func(what string) (*payload, error) {
		return nil, fmt.Errorf("%w: payload: %s", ErrMalformed, what)
	}
	switch {
	case p.ModuleID == nil || *p.ModuleID == "":
		return bad("module_id missing or empty")
	case p.Digest == nil || *p.Digest != "SHA384":
		return bad(`digest is not "SHA384"`)
	case p.Timestamp == nil || *p.Timestamp == 0 || *p.Timestamp > 1<<53:
		return bad("timestamp missing or out of range")
	case len(p.PCRs) == 0 || len(p.PCRs) > 32:
		return bad("pcrs must have 1 to 32 entries")
	case len(p.Certificate) == 0 || len(p.Certificate) > 1024:
		return bad("certificate must be 1 to 1024 bytes")
	case len(p.CABundle) == 0:
		return bad("cabundle is empty")
	case len(p.PublicKey) > 1024:
		return bad("public_key is over 1024 bytes")
	case len(p.UserData) > 512:
		return bad("user_data is over 512 bytes")
	case len(p.Nonce) > 512:
		return bad("nonce is over 512 bytes")
	}
	for i, v := range p.PCRs {
		if i > 31 {
			return bad(fmt.Sprintf("PCR index %d is over 31", i))
		}
		if len(v) != 48 {
			return bad(fmt.Sprintf("PCR%d is %d bytes, want 48 (SHA-384)", i, len(v)))
		}
	}
	if _, ok := p.PCRs[0]; !ok {
		return bad("PCR0 missing")
	}
	for i, c := range p.CABundle {
		if len(c) == 0 || len(c) > 1024 {
			return bad(fmt.Sprintf("cabundle[%d] must be 1 to 1024 bytes", i))
		}
	}
	return &p, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
