package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/autowallet/autowallet/attestation"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// VerifyMain is `autowallet verify`: fetch a fresh attestation document from
// a parent (or read a saved one) and check it (docs/attestation.md).
type VerifyMain struct {
	URL        string
	File       string
	PCR0       string
	PCR1       string // optional: the kernel and boot ramdisk (nitro-cli's)
	PCR2       string // optional: the application (user space)
	At         string
	RootSHA256 string
	// IdentityKey, when set, is the identity key (64 hex) the document must
	// bind: the one in the Mini App's published config.json.
	IdentityKey string

	stdout io.Writer
	done   bool
	http   *http.Client
	now    func() time.Time
}

// NewVerifyMain returns the verify program.
func NewVerifyMain(stdout io.Writer) *VerifyMain {
	return &VerifyMain{stdout: stdout, http: &http.Client{Timeout: 30 * time.Second}, now: time.Now}
}

// ParseFlags reads the command line.
func (m *VerifyMain) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(m.stdout)
	fs.StringVar(&m.URL, "url", "", "the parent's base URL: fetch a fresh document with a random nonce from <url>/attestation")
	fs.StringVar(&m.File, "file", "", "a saved attestation document, raw COSE_Sign1 or base64 (instead of -url)")
	fs.StringVar(&m.PCR0, "pcr0", "", "expected PCR0, 96 hex characters (the enclave image's measurement; required)")
	fs.StringVar(&m.PCR1, "pcr1", "", "expected PCR1, 96 hex characters (kernel and bootstrap, from build-eif.sh; checked when given)")
	fs.StringVar(&m.PCR2, "pcr2", "", "expected PCR2, 96 hex characters (the application, from build-eif.sh; checked when given)")
	fs.StringVar(&m.At, "at", "", "RFC 3339 time at which the certificates must be valid (default now)")
	fs.StringVar(&m.RootSHA256, "root-sha256", attestation.AWSNitroRootSHA256, "SHA-256 fingerprint of the trusted root certificate (default AWS Nitro's)")
	fs.StringVar(&m.IdentityKey, "identity-key", "", "expected deployment identity key, 64 hex characters (the identity_key of the Mini App's config.json); verify fails if the document binds another")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	case (m.URL == "") == (m.File == ""):
		return errors.New("give exactly one of -url and -file")
	case m.PCR0 == "":
		return errors.New("-pcr0 is required: the measurement you expect the enclave image to have")
	}
	if _, err := m.expectedPCRs(); err != nil {
		return err
	}
	if b, err := hex.DecodeString(m.RootSHA256); err != nil || len(b) != 32 {
		return errors.New("-root-sha256 must be 64 hex characters (SHA-256)")
	}
	if b, err := hex.DecodeString(m.IdentityKey); m.IdentityKey != "" && (err != nil || len(b) != 32) {
		return errors.New("-identity-key must be 64 hex characters (Ed25519 public key)")
	}
	if m.At != "" {
		if _, err := time.Parse(time.RFC3339, m.At); err != nil {
			return fmt.Errorf("-at: %v", err)
		}
	}
	if m.URL != "" {
		u, err := url.Parse(m.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("-url must be an http or https URL")
		}
	}
	return nil
}

// Run gets the document, verifies it and prints what it checked. Any
// failure is an error naming the reason.
func (m *VerifyMain) Run(ctx context.Context) error {
	pcrs, err := m.expectedPCRs()
	if err != nil {
		return err
	}
	at := m.now()
	if m.At != "" {
		at, _ = time.Parse(time.RFC3339, m.At)
	}
	opts := attestation.Options{Time: at, RootSHA256: strings.ToLower(m.RootSHA256), PCRs: pcrs}
	var doc []byte
	if m.File != "" {
		doc, err = readDocument(m.File)
	} else {
		opts.Nonce = make([]byte, 32)
		rand.Read(opts.Nonce)
		doc, err = m.fetch(ctx, opts.Nonce)
	}
	if err != nil {
		return err
	}
	d, err := attestation.Verify(doc, opts)
	if err != nil {
		return fmt.Errorf("verification FAILED: %w", err)
	}
	// The identity key is checked before anything is printed as OK: an
	// auditor comparing it with the page's config.json gets a failure, not
	// a line to compare by eye.
	id, idErr := d.IdentityKey()
	if m.IdentityKey != "" {
		if idErr != nil {
			return fmt.Errorf("verification FAILED: -identity-key given: %w", idErr)
		}
		if !strings.EqualFold(hex.EncodeToString(id), m.IdentityKey) {
			return fmt.Errorf("verification FAILED: %w: the document binds %x, -identity-key is %s", ErrIdentityKeyMismatch, id, m.IdentityKey)
		}
	}
	m.done = true
	w := m.stdout
	fmt.Fprintf(w, "attestation document OK (%d bytes)\n", len(doc))
	fmt.Fprintf(w, "  signature    ES384 by the enclave's leaf certificate (%s), valid\n", d.Certificate.Subject.CommonName)
	fmt.Fprintf(w, "  chain        leaf -> %d intermediate(s) -> root %s (pinned)\n", len(d.Chain)-2, d.RootSHA256)
	if d.RootSHA256 == attestation.AWSNitroRootSHA256 {
		fmt.Fprintf(w, "  root         AWS Nitro Enclaves root\n")
	} else {
		fmt.Fprintf(w, "  root         NOT AWS's: a root you chose to trust (a dev root?)\n")
	}
	fmt.Fprintf(w, "  valid at     %s\n", at.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  module id    %s\n", d.ModuleID)
	fmt.Fprintf(w, "  time         %s (the NSM's clock)\n", d.Timestamp.Format(time.RFC3339Nano))
	fmt.Fprintf(w, "  PCR0         %x matches (not debug mode)\n", d.PCRs[0])
	for _, i := range []int{1, 2} {
		if _, ok := pcrs[i]; ok {
			fmt.Fprintf(w, "  PCR%d         %x matches\n", i, d.PCRs[i])
		} else {
			fmt.Fprintf(w, "  PCR%d         %x (not checked: give -pcr%d)\n", i, d.PCRs[i], i)
		}
	}
	if opts.Nonce != nil {
		fmt.Fprintf(w, "  nonce        %x matches the one sent: the document is fresh\n", d.Nonce)
	} else if d.Nonce != nil {
		fmt.Fprintf(w, "  nonce        %x (not checked: saved document)\n", d.Nonce)
	} else {
		fmt.Fprintf(w, "  nonce        none (saved document: freshness not checked)\n")
	}
	if d.UserData != nil {
		fmt.Fprintf(w, "  user data    %x (autowallet: SHA-256 of the enclave config)\n", d.UserData)
	} else {
		fmt.Fprintf(w, "  user data    none\n")
	}
	switch {
	case idErr == nil && m.IdentityKey != "":
		fmt.Fprintf(w, "  identity key %x matches -identity-key\n", id)
	case idErr == nil:
		fmt.Fprintf(w, "  identity key %x\n", id)
		fmt.Fprintf(w, "               (the deployment identity key: it must equal the identity_key of the Mini App's config.json)\n")
	case d.PublicKey != nil:
		fmt.Fprintf(w, "  public key   %d bytes, not an identity key (%v)\n", len(d.PublicKey), idErr)
	default:
		fmt.Fprintf(w, "  identity key none (the enclave is locked: it binds its identity key once unlocked)\n")
	}
	return nil
}

// ErrIdentityKeyMismatch: the document binds another identity key than
// -identity-key.
var ErrIdentityKeyMismatch = errors.New("identity key mismatch")

// fetch asks the parent for a document over nonce.
func (m *VerifyMain) fetch(ctx context.Context, nonce []byte) ([]byte, error) {
	u := strings.TrimRight(m.URL, "/") + parent.PathAttestation + "?nonce=" + hex.EncodeToString(nonce)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the attestation: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the attestation: %w", protocol.ReadError(resp))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 2*attestation.MaxDocumentSize))
	if err != nil {
		return nil, fmt.Errorf("fetching the attestation: %w", err)
	}
	var out protocol.AttestationResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("fetching the attestation: the answer is not {\"document\": ...}: %v", err)
	}
	return out.Document, nil
}

// readDocument reads a saved document: raw COSE_Sign1 bytes or their base64.
func readDocument(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 2*attestation.MaxDocumentSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 2*attestation.MaxDocumentSize {
		return nil, fmt.Errorf("%s: over %d bytes", path, 2*attestation.MaxDocumentSize)
	}
	if len(b) > 0 && (b[0] == 0x84 || b[0] == 0xd2) {
		return b, nil // COSE_Sign1, untagged or tagged: never valid base64
	}
	doc, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: neither a raw COSE_Sign1 document nor base64: %v", path, err)
	}
	return doc, nil
}

// Done tells main that verify, a one-shot command, has finished.
func (m *VerifyMain) Done() bool { return m.done }

// Close has nothing to release; it is there for the program shape.
func (m *VerifyMain) Close() error { return nil }

// expectedPCRs is the set Verify checks: PCR0 always, PCR1 and PCR2 when
// given. Each must be a SHA-384 (96 hex characters); a bad one is an error,
// never silently skipped.
func (m *VerifyMain) expectedPCRs() (map[int][]byte, error) {
	pcrs := map[int][]byte{}
	for i, v := range []string{m.PCR0, m.PCR1, m.PCR2} {
		if v == "" && i > 0 {
			continue
		}
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != 48 {
			return nil, fmt.Errorf("-pcr%d must be 96 hex characters (SHA-384)", i)
		}
		pcrs[i] = b
	}
	return pcrs, nil
}
