package kmsvault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// roots are the certificate authorities KMS's TLS certificates chain to,
// carried in the image (from Debian's ca-certificates, Mozilla's store):
// Amazon Root CA 1-4 and Starfield Services Root CA G2. The enclave trusts
// nothing else, so neither the parent nor its proxy can answer for KMS.
//
//go:embed roots/*.pem
var rootFiles embed.FS

// ErrUntrustedKMS wraps a TLS failure: the far end did not prove it is KMS
// (certificate not under the embedded roots, wrong name, handshake failed).
var ErrUntrustedKMS = errors.New("kmsvault: TLS to KMS failed")

// Roots is the pool built from only the embedded root certificates.
func Roots() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	entries, err := rootFiles.ReadDir("roots")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := rootFiles.ReadFile("roots/" + e.Name())
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("kmsvault: %s is not a PEM certificate", e.Name())
		}
	}
	return pool, nil
}

// newHTTPClient makes the client the KMS SDK uses: every connection is
// dial() (vsock to the parent's vsock-proxy in production) and then TLS to
// host, verified against roots, terminating here in the enclave. A request
// for any other host is refused before dialing.
func newHTTPClient(host string, dial func(context.Context) (net.Conn, error), roots *x509.CertPool) *http.Client {
	tlsConfig := &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return nil, fmt.Errorf("kmsvault: refusing plain HTTP to %s", addr)
			},
			DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				if h, _, err := net.SplitHostPort(addr); err != nil || h != host {
					return nil, fmt.Errorf("%w: refusing to connect to %s, only %s", ErrUntrustedKMS, addr, host)
				}
				raw, err := dial(ctx)
				if err != nil {
					return nil, fmt.Errorf("kmsvault: dialing the KMS proxy: %w", err)
				}
				conn := tls.Client(raw, tlsConfig)
				if err := conn.HandshakeContext(ctx); err != nil {
					raw.Close()
					return nil, fmt.Errorf("%w: %v", ErrUntrustedKMS, err)
				}
				return conn, nil
			},
			MaxIdleConns:          2,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 8 * time.Second,
			DisableCompression:    true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
