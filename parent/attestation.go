package parent

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/autowallet/autowallet/protocol"
)

// PathAttestation serves a fresh attestation document from the enclave over
// the caller's nonce: GET /attestation?nonce=<hex> (docs/api.md,
// docs/attestation.md). Anyone may ask; `autowallet verify` does.
const PathAttestation = "/attestation"

// Attestation asks the enclave for an attestation document over nonce
// (1 to protocol.MaxAttestationNonce bytes).
func (c *EnclaveClient) Attestation(ctx context.Context, nonce []byte) ([]byte, error) {
	var out protocol.AttestationResponse
	if err := c.do(ctx, http.MethodPost, protocol.PathAttestation, protocol.AttestationRequest{Nonce: nonce}, &out); err != nil {
		return nil, err
	}
	if len(out.Document) == 0 {
		return nil, fmt.Errorf("%w: enclave returned an empty attestation document", ErrEnclaveUnavailable)
	}
	return out.Document, nil
}

// attestationNonce reads GET /attestation?nonce=<hex>.
func attestationNonce(r *http.Request) ([]byte, error) {
	q := r.URL.Query()
	nonce, err := hex.DecodeString(q.Get("nonce"))
	switch {
	case len(q) != 1 || len(q["nonce"]) != 1:
		return nil, fmt.Errorf("%w: want exactly one query parameter, nonce", protocol.ErrMalformedRequest)
	case err != nil || len(nonce) == 0 || len(nonce) > protocol.MaxAttestationNonce:
		return nil, fmt.Errorf("%w: nonce must be 1 to %d bytes of hex", protocol.ErrMalformedRequest, protocol.MaxAttestationNonce)
	}
	return nonce, nil
}

// serveAttestation forwards the nonce to the enclave (within the budget of
// limitedAttestation). The parent does not check the document: the caller
// does, which is the point.
func (s *Service) serveAttestation(w http.ResponseWriter, r *http.Request, nonce []byte) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	doc, err := s.enclave.Attestation(ctx, nonce)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	protocol.WriteJSON(w, http.StatusOK, protocol.AttestationResponse{Document: doc})
}
