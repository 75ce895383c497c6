package attestation_test

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
	"errors"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/autowallet/autowallet/attestation"
	"github.com/autowallet/autowallet/enclave"
)

func devNSM(t *testing.T, now func() time.Time) *enclave.DevNSM {
	t.Helper()
	root, err := enclave.LoadOrCreateDevRoot(filepath.Join(t.TempDir(), "dev-attestation-root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := enclave.NewDevNSM(root, []byte(`{"version":1,"mode":"dev"}`), now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDevDocument(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Millisecond) // the dev root is made now
	d := devNSM(t, func() time.Time { return at })
	nonce, user, pub := []byte("a fresh nonce"), bytes.Repeat([]byte{7}, 32), []byte("a public key")
	doc, err := d.Attest(nonce, user, pub)
	if err != nil {
		t.Fatal(err)
	}
	if doc[0] != 0x84 {
		t.Fatalf("document starts with %#x, want an untagged COSE_Sign1 (0x84) as AWS's NSM writes", doc[0])
	}
	devRoot := d.Root().SHA256()
	good := attestation.Options{Time: at.Add(time.Hour), RootSHA256: devRoot, Nonce: nonce, PCRs: map[int][]byte{0: d.PCR0()}}
	got, err := attestation.Verify(doc, good)
	if err != nil {
		t.Fatal(err)
	}
	want := sha512.Sum384([]byte(`{"version":1,"mode":"dev"}`))
	if !bytes.Equal(got.PCRs[0], want[:]) || len(got.PCRs) != 16 || got.Digest != "SHA384" {
		t.Fatalf("PCR0 %x (%d PCRs, digest %s)", got.PCRs[0], len(got.PCRs), got.Digest)
	}
	if !bytes.Equal(got.UserData, user) || !bytes.Equal(got.PublicKey, pub) || !bytes.Equal(got.Nonce, nonce) {
		t.Fatalf("user data %x, public key %q, nonce %q", got.UserData, got.PublicKey, got.Nonce)
	}
	if !got.Timestamp.Equal(at) || got.RootSHA256 != devRoot || got.ModuleID == "" {
		t.Fatalf("timestamp %v, root %s, module %q", got.Timestamp, got.RootSHA256, got.ModuleID)
	}

	// Dev documents never verify against AWS's root.
	aws := good
	aws.RootSHA256 = ""
	if _, err := attestation.Verify(doc, aws); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("dev document against the AWS root: %v", err)
	}
	aws.RootSHA256 = attestation.AWSNitroRootSHA256
	if _, err := attestation.Verify(doc, aws); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("dev document against the AWS root: %v", err)
	}
	// Nor against another dev root.
	other := good
	other.RootSHA256 = devNSM(t, nil).Root().SHA256()
	if _, err := attestation.Verify(doc, other); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("dev document against another dev root: %v", err)
	}
	// The AWS document never verifies against a dev root.
	v := loadVector(t)
	if _, err := attestation.Verify(v.decoded, attestation.Options{Time: time.Date(2025, 7, 18, 18, 0, 0, 0, time.UTC), RootSHA256: devRoot, PCRs: map[int][]byte{0: v.pcr0}}); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("AWS document against the dev root: %v", err)
	}

	for name, c := range map[string]struct {
		opts attestation.Options
		want error
	}{
		"leaf expired (3 h)":   {withTime(good, at.Add(4*time.Hour)), attestation.ErrCertificateExpired},
		"before issue":         {withTime(good, at.Add(-time.Hour)), attestation.ErrCertificateExpired},
		"other nonce":          {withNonce(good, []byte("another nonce")), attestation.ErrNonceMismatch},
		"other PCR0":           {withPCR(good, 0, make([]byte, 48)), attestation.ErrPCRMismatch},
		"other PCR2":           {withPCR(good, 2, d.PCR0()), attestation.ErrPCRMismatch},
		"PCR16 is not present": {withPCR(good, 16, d.PCR0()), attestation.ErrPCRMismatch},
	} {
		if _, err := attestation.Verify(doc, c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: want %v, got %v", name, c.want, err)
		}
	}

	// No nonce asked, none given: absent fields come back nil.
	doc2, err := d.Attest(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	good.Nonce = nil
	if got, err = attestation.Verify(doc2, good); err != nil || got.Nonce != nil || got.UserData != nil || got.PublicKey != nil {
		t.Fatalf("document without nonce: %v %+v", err, got)
	}
	good.Nonce = nonce
	if _, err := attestation.Verify(doc2, good); !errors.Is(err, attestation.ErrNonceMismatch) {
		t.Fatalf("document without a nonce, nonce expected: %v", err)
	}
	// The NSM's input limits.
	if _, err := d.Attest(make([]byte, 513), nil, nil); err == nil {
		t.Fatal("dev NSM attested a 513-byte nonce")
	}
}

func withTime(o attestation.Options, at time.Time) attestation.Options { o.Time = at; return o }
func withNonce(o attestation.Options, n []byte) attestation.Options    { o.Nonce = n; return o }

// withPCR expects v at index i besides the other expected PCRs (PCR0 stays
// expected: Verify needs it).
func withPCR(o attestation.Options, i int, v []byte) attestation.Options {
	o.PCRs = maps.Clone(o.PCRs)
	o.PCRs[i] = v
	return o
}

// TestDevRootFile checks that the dev root is made once, 0600, and read back.
func TestDevRootFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.pem")
	a, err := enclave.LoadOrCreateDevRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root file: %v, mode %v", err, fi.Mode())
	}
	b, err := enclave.LoadOrCreateDevRoot(path)
	if err != nil || a.SHA256() != b.SHA256() {
		t.Fatalf("reloaded root: %v, %s != %s", err, b.SHA256(), a.SHA256())
	}
	sum := sha256.Sum256(a.Certificate().Raw)
	if a.SHA256() != hex.EncodeToString(sum[:]) || a.SHA256() == attestation.AWSNitroRootSHA256 {
		t.Fatal("fingerprint")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := enclave.LoadOrCreateDevRoot(path); err == nil {
		t.Fatal("a garbage root file loaded")
	}
}

// minted is a test CA that signs payloads it is given, to test what the dev
// NSM never produces (an all-zero PCR0, a duplicate key).
type minted struct {
	rootDER, leafDER []byte
	leafKey          *ecdsa.PrivateKey
}

func mint(t *testing.T) *minted {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	lk, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test leaf"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, lt, root, &lk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	return &minted{rootDER: rootDER, leafDER: leafDER, leafKey: lk}
}

func (m *minted) fingerprint() string {
	s := sha256.Sum256(m.rootDER)
	return hex.EncodeToString(s[:])
}

func (m *minted) sign(t *testing.T, payload []byte) []byte {
	t.Helper()
	signer, err := cose.NewSigner(cose.AlgorithmES384, m.leafKey)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cose.Sign1Untagged(rand.Reader, signer, cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES384}}, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func (m *minted) fields(pcr0 []byte) map[string]any {
	pcrs := map[uint64][]byte{0: pcr0}
	for i := uint64(1); i < 16; i++ {
		pcrs[i] = make([]byte, 48)
	}
	return map[string]any{
		"module_id": "i-test", "digest": "SHA384", "timestamp": uint64(time.Now().UnixMilli()),
		"pcrs": pcrs, "certificate": m.leafDER, "cabundle": [][]byte{m.rootDER},
		"public_key": nil, "user_data": nil, "nonce": nil,
	}
}

func TestMintedDocuments(t *testing.T) {
	m := mint(t)
	pcr0 := bytes.Repeat([]byte{0x42}, 48)
	opts := attestation.Options{Time: time.Now(), RootSHA256: m.fingerprint(), PCRs: map[int][]byte{0: pcr0}}
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The minted CA works: a well-formed document verifies.
	if _, err := attestation.Verify(m.sign(t, enc(m.fields(pcr0))), opts); err != nil {
		t.Fatal(err)
	}
	// Debug mode: PCR0 all zeros, correctly signed, is refused.
	if _, err := attestation.Verify(m.sign(t, enc(m.fields(make([]byte, 48)))), opts); !errors.Is(err, attestation.ErrDebugMode) {
		t.Fatalf("all-zero PCR0: %v", err)
	}
	// A duplicate map key, correctly signed, is refused: a verifier and
	// another parser must never see different values.
	body := enc(m.fields(pcr0))
	dup := append([]byte{body[0] + 1}, body[1:]...) // one more pair in the map header
	dup = append(dup, enc("digest")...)
	dup = append(dup, enc("SHA384")...)
	if _, err := attestation.Verify(m.sign(t, dup), opts); !errors.Is(err, attestation.ErrMalformed) {
		t.Fatalf("duplicate key: %v", err)
	}
	for name, change := range map[string]func(map[string]any){
		"unknown field":       func(f map[string]any) { f["extra"] = 1 },
		"no module_id":        func(f map[string]any) { delete(f, "module_id") },
		"digest SHA256":       func(f map[string]any) { f["digest"] = "SHA256" },
		"no PCR0":             func(f map[string]any) { f["pcrs"] = map[uint64][]byte{1: pcr0} },
		"PCR of 32 bytes":     func(f map[string]any) { f["pcrs"] = map[uint64][]byte{0: pcr0[:32]} },
		"empty cabundle":      func(f map[string]any) { f["cabundle"] = [][]byte{} },
		"certificate garbage": func(f map[string]any) { f["certificate"] = []byte("not DER") },
		"timestamp a string":  func(f map[string]any) { f["timestamp"] = "now" },
		"user_data 513 bytes": func(f map[string]any) { f["user_data"] = make([]byte, 513) },
	} {
		f := m.fields(pcr0)
		change(f)
		if _, err := attestation.Verify(m.sign(t, enc(f)), opts); !errors.Is(err, attestation.ErrMalformed) {
			t.Errorf("%s: want malformed, got %v", name, err)
		}
	}
	// A leaf that is not the one that signed.
	other := mint(t)
	f := m.fields(pcr0)
	f["certificate"] = other.leafDER
	if _, err := attestation.Verify(m.sign(t, enc(f)), opts); !errors.Is(err, attestation.ErrBadSignature) {
		t.Fatalf("leaf of another key: %v", err)
	}
	// A leaf signed by another root, with this root in the bundle.
	f = other.fields(pcr0)
	f["cabundle"] = [][]byte{m.rootDER}
	if _, err := attestation.Verify(other.sign(t, enc(f)), opts); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("leaf of another root: %v", err)
	}
}
