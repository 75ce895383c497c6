package parent

import (
	"net/http"
	"time"
)

// SetNow lets tests move the service's clock.
func (s *Service) SetNow(now func() time.Time) { s.now = now }

// TokenMoved exposes tokenMoved to the tests.
var TokenMoved = tokenMoved

// SetEnclaveConns sets the enclave client's connection pool (benchmarks).
func (c *EnclaveClient) SetEnclaveConns(idle, max int) {
	t := c.http.Transport.(*http.Transport)
	t.MaxIdleConnsPerHost, t.MaxConnsPerHost = idle, max
}
