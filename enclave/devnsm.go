package enclave

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// DevRoot is the dev attestation root: a P-384 CA kept in the data folder.
// Dev documents chain to it; production verifiers pin AWS's root and so never
// trust it.
type DevRoot struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

// LoadOrCreateDevRoot reads the dev root (PEM: PKCS#8 key and certificate)
// from path, creating it with mode 0600 on first use.
func LoadOrCreateDevRoot(path string) (*DevRoot, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		root, pemBytes, err := newDevRoot()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
			return nil, fmt.Errorf("dev attestation root: %w", err)
		}
		return root, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dev attestation root: %w", err)
	}
	return parseDevRoot(raw)
}

func newDevRoot() (*DevRoot, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "autowallet dev attestation root (not AWS: never trusted in production)", Organization: []string{"autowallet dev"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	pem.Encode(&out, &pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &DevRoot{key: key, cert: cert}, out.Bytes(), nil
}

func parseDevRoot(raw []byte) (*DevRoot, error) {
	var r DevRoot
	for {
		var b *pem.Block
		if b, raw = pem.Decode(raw); b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("dev attestation root: key: %w", err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok || ek.Curve != elliptic.P384() {
				return nil, errors.New("dev attestation root: key is not ECDSA P-384")
			}
			r.key = ek
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("dev attestation root: certificate: %w", err)
			}
			r.cert = c
		}
	}
	if r.key == nil || r.cert == nil {
		return nil, errors.New("dev attestation root: want a PRIVATE KEY and a CERTIFICATE block")
	}
	if pub, ok := r.cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&r.key.PublicKey) {
		return nil, errors.New("dev attestation root: certificate is not the key's")
	}
	return &r, nil
}

// SHA256 is the hex SHA-256 fingerprint of the root certificate's DER: what
// `autowallet verify --root-sha256` takes to trust dev documents.
func (r *DevRoot) SHA256() string {
	sum := sha256.Sum256(r.cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Certificate is the root certificate.
func (r *DevRoot) Certificate() *x509.Certificate { return r.cert }

// DevNSM makes attestation documents in exactly the format of AWS's NSM
// (COSE_Sign1, ES384, the same CBOR payload fields) under a dev root: root ->
// intermediate -> leaf, the latter two made in memory. PCR0 is the SHA-384
// of what the caller names (the dev config); it is never all zeros.
type DevNSM struct {
	root     *DevRoot
	moduleID string
	pcrs     [16][]byte
	now      func() time.Time

	mu                sync.Mutex
	interKey, leafKey *ecdsa.PrivateKey
	interDER, leafDER []byte
	interEnd, leafEnd time.Time
}

// NewDevNSM makes a dev NSM whose PCR0 is SHA-384(pcr0Input); now defaults
// to time.Now.
func NewDevNSM(root *DevRoot, pcr0Input []byte, now func() time.Time) (*DevNSM, error) {
	if root == nil {
		return nil, errors.New("dev NSM: no root")
	}
	if now == nil {
		now = time.Now
	}
	d := &DevNSM{root: root, now: now}
	id := make([]byte, 8)
	rand.Read(id)
	d.moduleID = "i-00000000000000000-dev" + hex.EncodeToString(id)
	for i := range d.pcrs {
		d.pcrs[i] = make([]byte, sha512.Size384)
	}
	pcr := func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }
	d.pcrs[0] = pcr(pcr0Input)
	d.pcrs[1] = pcr([]byte("autowallet dev NSM: kernel and boot ramfs"))
	d.pcrs[2] = pcr([]byte("autowallet dev NSM: application"))
	return d, nil
}

// PCR0 is the dev NSM's PCR0.
func (d *DevNSM) PCR0() []byte { return bytes.Clone(d.pcrs[0]) }

// Root is the dev root the documents chain to.
func (d *DevNSM) Root() *DevRoot { return d.root }

// Certificate lifetimes: AWS's enclave leaf lasts about three hours.
const (
	devLeafLife  = 3 * time.Hour
	devInterLife = 30 * 24 * time.Hour
)

// certs returns the leaf key, leaf DER and intermediate DER, renewing them
// when less than a third of their life is left.
func (d *DevNSM) certs(now time.Time) (*ecdsa.PrivateKey, []byte, []byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.interKey == nil || now.After(d.interEnd.Add(-devInterLife/3)) || now.Before(d.interEnd.Add(-devInterLife)) {
		key, der, err := devIssue(d.root.cert, d.root.key, "autowallet dev attestation intermediate", now, devInterLife, true)
		if err != nil {
			return nil, nil, nil, err
		}
		d.interKey, d.interDER, d.interEnd, d.leafKey = key, der, now.Add(devInterLife), nil
	}
	if d.leafKey == nil || now.After(d.leafEnd.Add(-devLeafLife/3)) || now.Before(d.leafEnd.Add(-devLeafLife)) {
		inter, err := x509.ParseCertificate(d.interDER)
		if err != nil {
			return nil, nil, nil, err
		}
		key, der, err := devIssue(inter, d.interKey, d.moduleID+".dev.nitro-enclaves", now, devLeafLife, false)
		if err != nil {
			return nil, nil, nil, err
		}
		d.leafKey, d.leafDER, d.leafEnd = key, der, now.Add(devLeafLife)
	}
	return d.leafKey, d.leafDER, d.interDER, nil
}

func devIssue(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, now time.Time, life time.Duration, ca bool) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"autowallet dev"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(life),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	return key, der, nil
}

func randomSerial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b)
}

// Attest implements Attester with AWS's limits on the three fields.
func (d *DevNSM) Attest(nonce, userData, publicKey []byte) ([]byte, error) {
	if len(nonce) > maxNSMNonce || len(userData) > maxNSMUserData || len(publicKey) > maxNSMPublicKey {
		return nil, errors.New("dev NSM: InputTooLarge")
	}
	now := d.now()
	key, leaf, inter, err := d.certs(now)
	if err != nil {
		return nil, fmt.Errorf("dev NSM: %w", err)
	}
	payload, err := devPayload(d.moduleID, uint64(now.UnixMilli()), d.pcrs[:], leaf, [][]byte{d.root.cert.Raw, inter}, publicKey, userData, nonce)
	if err != nil {
		return nil, fmt.Errorf("dev NSM: %w", err)
	}
	signer, err := cose.NewSigner(cose.AlgorithmES384, key)
	if err != nil {
		return nil, fmt.Errorf("dev NSM: %w", err)
	}
	headers := cose.Headers{
		Protected:   cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES384},
		Unprotected: cose.UnprotectedHeader{},
	}
	doc, err := cose.Sign1Untagged(rand.Reader, signer, headers, payload, nil)
	if err != nil {
		return nil, fmt.Errorf("dev NSM: %w", err)
	}
	return doc, nil
}

// devPayload writes the payload as AWS's NSM does: an indefinite-length map
// with the fields in AWS's order, absent byte strings as null.
func devPayload(moduleID string, timestamp uint64, pcrs [][]byte, leaf []byte, cabundle [][]byte, publicKey, userData, nonce []byte) ([]byte, error) {
	pcrMap := make(map[uint64][]byte, len(pcrs))
	for i, v := range pcrs {
		pcrMap[uint64(i)] = v
	}
	optional := func(b []byte) any {
		if b == nil {
			return nil
		}
		return b
	}
	fields := []struct {
		key   string
		value any
	}{
		{"module_id", moduleID},
		{"digest", "SHA384"},
		{"timestamp", timestamp},
		{"pcrs", pcrMap},
		{"certificate", leaf},
		{"cabundle", cabundle},
		{"public_key", optional(publicKey)},
		{"user_data", optional(userData)},
		{"nonce", optional(nonce)},
	}
	enc, err := cbor.EncOptions{Sort: cbor.SortCanonical}.EncMode()
	if err != nil {
		return nil, err
	}
	out := []byte{0xbf} // map, indefinite length
	for _, f := range fields {
		k, err := enc.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := enc.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		out = append(append(out, k...), v...)
	}
	return append(out, 0xff), nil
}
