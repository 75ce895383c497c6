package kmsvault_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autowallet/autowallet/enclave/cms/cmstest"
	"github.com/autowallet/autowallet/enclave/kmsvault"
	"github.com/autowallet/autowallet/protocol"
)

const (
	testRegion = "eu-west-2"
	testARN    = "arn:aws:kms:eu-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc"
	stubPrefix = "test-attestation-document:"
)

var testCreds = protocol.AWSCredentials{AccessKeyID: "ASIATESTACCESSKEY01", SecretAccessKey: "testSecret/Key+0123456789", SessionToken: "testSessionToken-0123456789"}

// attestStub stands in for the NSM: KMS emulators do not check the
// document, so the stub carries only the public key, after a fixed prefix.
func attestStub(pub []byte) ([]byte, error) { return append([]byte(stubPrefix), pub...), nil }

// fakeKMS speaks KMS's JSON 1.1 protocol over TLS with its own CA, for the
// Recipient path: it answers with CMS envelopes built from the RSA key in
// the request's attestation stub, sound or damaged as mode says.
type fakeKMS struct {
	t    *testing.T
	srv  *httptest.Server
	pool *x509.CertPool

	mu    sync.Mutex
	mode  string
	calls int
	keys  map[string][]byte // blob -> data key
}

func startFakeKMS(t *testing.T, host string) *fakeKMS {
	t.Helper()
	f := &fakeKMS{t: t, keys: map[string][]byte{}}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake KMS test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	f.pool = x509.NewCertPool()
	f.pool.AddCert(ca)
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}}
	f.srv.Config.ErrorLog = nil
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKMS) setMode(m string) { f.mu.Lock(); f.mode = m; f.mu.Unlock() }

func (f *fakeKMS) callCount() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

// dial reaches the fake over loopback TCP, where production dials vsock.
func (f *fakeKMS) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.srv.Listener.Addr().String())
}

type kmsRequest struct {
	KeyId               string
	KeySpec             string
	EncryptionContext   map[string]string
	CiphertextBlob      []byte
	EncryptionAlgorithm string
	Recipient           *struct {
		AttestationDocument    []byte
		KeyEncryptionAlgorithm string
	}
}

func (f *fakeKMS) fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func (f *fakeKMS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	t := f.t
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		t.Errorf("%s %s", r.Method, r.URL.Path)
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		t.Errorf("content type %q", r.Header.Get("Content-Type"))
	case !strings.Contains(r.Header.Get("Authorization"), "Credential="+testCreds.AccessKeyID+"/") ||
		!strings.Contains(r.Header.Get("Authorization"), "/"+testRegion+"/kms/aws4_request"):
		t.Errorf("not signed with the lent credentials for KMS in %s: %q", testRegion, r.Header.Get("Authorization"))
	case r.Header.Get("X-Amz-Security-Token") != testCreds.SessionToken:
		t.Errorf("no session token")
	}
	var req kmsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		t.Errorf("body: %v", err)
	}
	if req.KeyId != testARN || !reflect.DeepEqual(req.EncryptionContext, kmsvault.EncryptionContext()) {
		t.Errorf("%s: KeyId %q, context %v", op, req.KeyId, req.EncryptionContext)
	}
	if req.Recipient == nil || req.Recipient.KeyEncryptionAlgorithm != "RSAES_OAEP_SHA_256" {
		t.Errorf("%s without an RSAES_OAEP_SHA_256 Recipient", op)
		f.fail(w, 400, "ValidationException", "no recipient")
		return
	}
	der, ok := bytes.CutPrefix(req.Recipient.AttestationDocument, []byte(stubPrefix))
	pubAny, err := x509.ParsePKIXPublicKey(der)
	pub, isRSA := pubAny.(*rsa.PublicKey)
	if !ok || err != nil || !isRSA || pub.N.BitLen() != 2048 {
		t.Errorf("attestation stub does not carry an RSA-2048 key: %v", err)
		return
	}
	switch f.mode {
	case "denied":
		f.fail(w, 400, "AccessDeniedException", "key policy denies "+testCreds.AccessKeyID+" with token "+testCreds.SessionToken)
		return
	case "internal":
		f.fail(w, 500, "KMSInternalException", "internal")
		return
	}
	var key, blob []byte
	switch op {
	case "GenerateDataKey":
		if req.KeySpec != "AES_256" {
			t.Errorf("KeySpec %q", req.KeySpec)
		}
		key, blob = make([]byte, 32), make([]byte, 180)
		rand.Read(key)
		rand.Read(blob)
		f.keys[string(blob)] = key
	case "Decrypt":
		if req.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
			t.Errorf("EncryptionAlgorithm %q", req.EncryptionAlgorithm)
		}
		blob = req.CiphertextBlob
		if key = f.keys[string(blob)]; key == nil {
			f.fail(w, 400, "InvalidCiphertextException", "")
			return
		}
	default:
		t.Errorf("unexpected operation %q", op)
		return
	}
	env := f.envelope(pub, key)
	resp := map[string]any{"KeyId": testARN, "CiphertextForRecipient": env}
	if op == "GenerateDataKey" {
		resp["CiphertextBlob"] = blob
	}
	switch f.mode {
	case "plaintext too":
		resp["Plaintext"] = key
	case "other key id":
		resp["KeyId"] = strings.Replace(testARN, "bc436485", "00000000", 1)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(resp)
}

// envelope seals key to pub as KMS would, or damaged as the mode says.
func (f *fakeKMS) envelope(pub *rsa.PublicKey, key []byte) []byte {
	o := cmstest.Options{}
	switch f.mode {
	case "ber":
		o.BER = true
	case "another RSA key":
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		der, _ := x509.MarshalPKIXPublicKey(pub)
		_ = der
		ski := mustSKI(pub)
		env, _ := cmstest.Seal(&other.PublicKey, key, cmstest.Options{SubjectKeyID: ski})
		return env
	case "wrong key transport":
		o.KeyTransportOID = cmstest.OIDRSAPKCS1
	case "wrong content encryption":
		o.ContentOID = cmstest.OIDAES128CBC
	case "wrong subjectKeyIdentifier":
		o.SubjectKeyID = bytes.Repeat([]byte{7}, 32)
	case "bad padding":
		o.BadPadding = true
	case "short key":
		key = key[:16]
	}
	env, err := cmstest.Seal(pub, key, o)
	if err != nil {
		f.t.Error(err)
	}
	if f.mode == "truncated" {
		env = env[:len(env)/2]
	}
	return env
}
