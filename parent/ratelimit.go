package parent

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/autowallet/autowallet/protocol"
)

// Budgets of the public, unauthenticated endpoints (docs/api.md). Anyone on
// the Internet may call them, and each answer costs the enclave or the RPC
// node work: an NSM attestation (a signature by the Nitro hypervisor), a
// health call over vsock, an eth_getTransactionCount that a paid RPC
// provider counts. Without a budget a flood of GETs is a flood of those.
const (
	// healthTTL: /healthz answers from one check for this long, so a flood
	// costs at most one enclave and one RPC call per second (plus the time
	// a check takes).
	healthTTL = time.Second
	// attestationRate and attestationBurst: a token bucket for all callers
	// of GET /attestation together. An auditor needs one document; a
	// monitor one a minute. A global budget (not per address) bounds the
	// NSM's work whatever the number of addresses; a flood can then delay
	// auditors (429, retry), which is availability, never a wrong answer.
	attestationRate  = rate.Limit(1) // documents per second, sustained
	attestationBurst = 5
)

// cachedHealthz serves /healthz from a check at most ttl old. The lock is
// held while checking, so concurrent requests wait for the one check in
// flight rather than start their own.
func (s *Service) cachedHealthz(ttl time.Duration) http.HandlerFunc {
	var (
		mu      sync.Mutex
		checked time.Time
		last    Health
		status  int
	)
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if checked.IsZero() || time.Since(checked) >= ttl {
			last, status = s.checkHealth()
			checked = time.Now()
		}
		h, code := last, status
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		protocol.WriteJSON(w, code, h)
	}
}

// limitedAttestation serves GET /attestation within the token bucket l. A
// request is checked first (a malformed one costs nothing and spends no
// token); over budget it is refused with 429 rate_limited in the API's
// error shape and a Retry-After, without calling the enclave.
func (s *Service) limitedAttestation(l *rate.Limiter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		nonce, err := attestationNonce(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !l.Allow() {
			w.Header().Set("Retry-After", "1")
			s.writeError(w, r, &protocol.Error{Code: protocol.CodeRateLimited, Message: "too many attestation requests; retry in a second"})
			return
		}
		s.serveAttestation(w, r, nonce)
	}
}
