package attestation_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/attestation"
)

const vectorDir = "../../shared/testdata/nitro"

// vector is ../shared/testdata/nitro/turnkey-preprod.json.
type vector struct {
	File            string            `json:"file"`
	ModuleID        string            `json:"module_id"`
	TimestampMS     int64             `json:"timestamp_ms"`
	PCR0            string            `json:"pcr0"`
	UserData        string            `json:"user_data"`
	PublicKeyLen    int               `json:"public_key_len"`
	Nonce           *string           `json:"nonce"`
	RootSHA256      string            `json:"aws_nitro_root_cert_sha256"`
	Expect          map[string]string `json:"expect"`
	Description     string            `json:"description"`
	Encoding        string            `json:"encoding"`
	RootZipSHA256   string            `json:"aws_nitro_root_zip_sha256"`
	decoded, pcr0   []byte
	validAt         time.Time
	signatureOffset int
}

func loadVector(t testing.TB) *vector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorDir, "turnkey-preprod.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var v vector
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b64, err := os.ReadFile(filepath.Join(vectorDir, v.File))
	if err != nil {
		t.Fatal(err)
	}
	if v.decoded, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64))); err != nil {
		t.Fatal(err)
	}
	if v.pcr0, err = hex.DecodeString(v.PCR0); err != nil {
		t.Fatal(err)
	}
	// COSE_Sign1 ends with the signature: a byte string of 96 bytes (0x58 0x60 header).
	v.signatureOffset = len(v.decoded) - 96
	if !bytes.Equal(v.decoded[v.signatureOffset-2:v.signatureOffset], []byte{0x58, 0x60}) {
		t.Fatal("the vector does not end with a 96-byte signature")
	}
	return &v
}

// flip returns a copy of b with byte i inverted.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

// TestAWSDocument gives the real AWS document every outcome its `expect`
// map names; an expectation this test does not know fails it.
func TestAWSDocument(t *testing.T) {
	v := loadVector(t)
	if v.RootSHA256 != attestation.AWSNitroRootSHA256 {
		t.Fatalf("vector's root fingerprint %s is not the package's %s", v.RootSHA256, attestation.AWSNitroRootSHA256)
	}
	validAt := time.Date(2025, 7, 18, 18, 0, 0, 0, time.UTC)
	good := attestation.Options{Time: validAt, PCRs: map[int][]byte{0: v.pcr0}}
	outcome := map[string]error{
		"valid":               nil,
		"certificate expired": attestation.ErrCertificateExpired,
		"bad signature":       attestation.ErrBadSignature,
		"pcr mismatch":        attestation.ErrPCRMismatch,
		"untrusted chain":     attestation.ErrUntrustedChain,
	}
	check := func(t *testing.T, want string, doc []byte, opts attestation.Options) *attestation.Document {
		t.Helper()
		wantErr, ok := outcome[want]
		if !ok {
			t.Fatalf("unknown expected outcome %q", want)
		}
		d, err := attestation.Verify(doc, opts)
		if wantErr == nil {
			if err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			return d
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("want %v, got %v", wantErr, err)
		}
		return nil
	}
	if len(v.Expect) == 0 {
		t.Fatal("the vector expects nothing")
	}
	for name, want := range v.Expect {
		t.Run(name, func(t *testing.T) {
			switch name {
			case "at_2025-07-18T18:00:00Z":
				d := check(t, want, v.decoded, good)
				if d.ModuleID != v.ModuleID || d.Timestamp.UnixMilli() != v.TimestampMS || d.Digest != "SHA384" {
					t.Fatalf("module %q at %v digest %s", d.ModuleID, d.Timestamp, d.Digest)
				}
				if hex.EncodeToString(d.UserData) != v.UserData || len(d.PublicKey) != v.PublicKeyLen || (v.Nonce == nil) != (d.Nonce == nil) {
					t.Fatalf("user data %x, public key %d bytes, nonce %x", d.UserData, len(d.PublicKey), d.Nonce)
				}
				if d.RootSHA256 != v.RootSHA256 || !bytes.Equal(d.PCRs[0], v.pcr0) || len(d.PCRs) != 16 {
					t.Fatalf("root %s, PCR0 %x, %d PCRs", d.RootSHA256, d.PCRs[0], len(d.PCRs))
				}
				// Same answer with the CBOR tag 18 in front.
				check(t, want, append([]byte{0xd2}, v.decoded...), good)
			case "at_now":
				opts := good
				opts.Time = time.Now()
				check(t, want, v.decoded, opts)
				// And before the leaf was issued.
				opts.Time = time.Date(2025, 7, 18, 17, 0, 0, 0, time.UTC)
				check(t, want, v.decoded, opts)
			case "any_signature_byte_flipped":
				for i := v.signatureOffset; i < len(v.decoded); i++ {
					check(t, want, flip(v.decoded, i), good)
				}
			case "payload_byte_flipped":
				// A byte of PCR0's value, of module_id and of user_data:
				// the payload still parses but no longer matches the signature.
				for _, needle := range [][]byte{v.pcr0[:8], []byte(v.ModuleID), mustHex(t, v.UserData)} {
					i := bytes.Index(v.decoded, needle)
					if i < 0 {
						t.Fatalf("%x not in the document", needle)
					}
					c := bytes.Clone(v.decoded)
					c[i+3] ^= 0x01 // keeps module_id valid UTF-8
					check(t, want, c, good)
				}
				// Any other flip in the payload is refused too, as bad
				// signature or malformed.
				start := bytes.Index(v.decoded, []byte("module_id")) - 1
				for i := start; i < v.signatureOffset-2; i += 5 {
					_, err := attestation.Verify(flip(v.decoded, i), good)
					if !errors.Is(err, attestation.ErrBadSignature) && !errors.Is(err, attestation.ErrMalformed) {
						t.Fatalf("flipping byte %d: %v", i, err)
					}
				}
			case "expected_pcr0_differs":
				opts := good
				opts.PCRs = map[int][]byte{0: flip(v.pcr0, 47)}
				check(t, want, v.decoded, opts)
				opts.PCRs = map[int][]byte{0: v.pcr0, 1: make([]byte, 48)}
				check(t, want, v.decoded, opts)
				opts.PCRs = map[int][]byte{0: v.pcr0, 31: v.pcr0}
				check(t, want, v.decoded, opts)
			case "root_not_aws":
				opts := good
				opts.RootSHA256 = strings.Repeat("ab", 32)
				check(t, want, v.decoded, opts)
			default:
				t.Fatalf("unknown expectation %q", name)
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAWSDocumentNonce(t *testing.T) {
	v := loadVector(t)
	opts := attestation.Options{Time: time.Date(2025, 7, 18, 18, 0, 0, 0, time.UTC), Nonce: []byte{1, 2, 3}, PCRs: map[int][]byte{0: v.pcr0}}
	if _, err := attestation.Verify(v.decoded, opts); !errors.Is(err, attestation.ErrNonceMismatch) {
		t.Fatalf("want nonce mismatch, got %v", err)
	}
}

func TestMalformedInputs(t *testing.T) {
	v := loadVector(t)
	at := attestation.Options{Time: time.Date(2025, 7, 18, 18, 0, 0, 0, time.UTC), PCRs: map[int][]byte{0: v.pcr0}}
	for name, doc := range map[string][]byte{
		"empty":            nil,
		"over 64 KiB":      append(bytes.Clone(v.decoded), make([]byte, 64<<10)...),
		"truncated":        v.decoded[:len(v.decoded)-1],
		"trailing byte":    append(bytes.Clone(v.decoded), 0),
		"not CBOR":         []byte("hello"),
		"wrong tag":        append([]byte{0xd8, 0x62}, v.decoded...),
		"three elements":   append([]byte{0x83}, v.decoded[1:]...),
		"payload not map":  []byte{0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, 0x41, 0x00, 0x40},
		"ES256 not ES384":  append([]byte{0x84, 0x43, 0xa1, 0x01, 0x26}, v.decoded[6:]...),
		"no payload (nil)": []byte{0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, 0xf6, 0x40},
	} {
		if _, err := attestation.Verify(doc, at); !errors.Is(err, attestation.ErrMalformed) {
			t.Errorf("%s: want malformed, got %v", name, err)
		}
	}
	if _, err := attestation.Verify(v.decoded, attestation.Options{}); err == nil {
		t.Error("no verification time: accepted")
	}
	if _, err := attestation.Verify(v.decoded, attestation.Options{Time: at.Time, RootSHA256: "xyz", PCRs: at.PCRs}); err == nil {
		t.Error("bad root fingerprint: accepted")
	}
}

// TestNoExpectedPCRs: Verify refuses to judge a document without an expected
// PCR0, whatever else is given, even for the valid AWS document (fail
// closed); with PCR0 the same call succeeds, so the refusal is the PCRs'.
func TestNoExpectedPCRs(t *testing.T) {
	v := loadVector(t)
	at := time.Date(2025, 7, 18, 18, 0, 0, 0, time.UTC)
	for name, pcrs := range map[string]map[int][]byte{
		"nil":             nil,
		"empty":           {},
		"PCR1 and 2 only": {1: v.pcr0, 2: v.pcr0},
	} {
		d, err := attestation.Verify(v.decoded, attestation.Options{Time: at, PCRs: pcrs})
		if !errors.Is(err, attestation.ErrNoExpectedPCRs) || d != nil {
			t.Errorf("%s: %v, want ErrNoExpectedPCRs", name, err)
		}
		for _, other := range []error{attestation.ErrPCRMismatch, attestation.ErrMalformed, attestation.ErrUntrustedChain} {
			if errors.Is(err, other) {
				t.Errorf("%s: %v is also %v", name, err, other)
			}
		}
	}
	// Refused before the document is read: garbage gets the same answer.
	if _, err := attestation.Verify([]byte("garbage"), attestation.Options{Time: at}); !errors.Is(err, attestation.ErrNoExpectedPCRs) {
		t.Errorf("garbage without PCRs: %v", err)
	}
	if _, err := attestation.Verify(v.decoded, attestation.Options{Time: at, PCRs: map[int][]byte{0: v.pcr0}}); err != nil {
		t.Fatalf("with PCR0: %v", err)
	}
}
