package kmsvault

import (
	"crypto/x509"
	"net/http"
)

// SetRoots replaces the embedded roots (a test server has its own CA).
func (c *Client) SetRoots(p *x509.CertPool) { c.roots = p }

// UseEmulator points the client at a plain-HTTP KMS emulator (local-kms) and
// drops the Recipient, which the emulator does not implement. Everything
// else, the SDK calls, key id and context checks, is the production path.
func (c *Client) UseEmulator(endpoint string) {
	c.endpoint, c.httpClient, c.noRecipient = endpoint, http.DefaultClient, true
}
