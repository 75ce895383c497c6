package enclave

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/protocol"
)

// Handler serves the enclave HTTP API (docs/protocol.md, "Enclave API") for
// s. Every request body is bounded by protocol.MaxRequestBody and decoded
// strictly; every error is in the API's one error shape; a panic becomes a 500
// with no detail.
func Handler(s *Signer, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+protocol.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		resp := protocol.HealthResponse{Status: "ok", Vault: "locked", Protocol: protocol.ProtocolVersion, Chains: s.cfg.chainTokens()}
		// The identity public key is public by design (the page pins it); it
		// is shown only while unlocked, when the enclave can prove with it.
		if pub := s.IdentityPublicKey(); pub != nil {
			resp.Vault, resp.IdentityKey = "unlocked", hex.EncodeToString(pub)
		}
		protocol.WriteJSON(w, http.StatusOK, resp)
	})
	post(mux, protocol.PathWallets, func(_ *http.Request, req protocol.CreateWalletRequest) (any, error) {
		wal, err := s.CreateWallet(req.Owner)
		if err != nil {
			return nil, err
		}
		return protocol.CreateWalletResponse{Address: wal.Address.Hex(), Record: wal.Record, Proof: wal.Proof}, nil
	})
	post(mux, protocol.PathStatement, func(_ *http.Request, req protocol.StatementRequest) (any, error) {
		st, err := s.Statement(req.Record)
		if err != nil {
			return nil, err
		}
		return protocol.StatementResponse{Owner: st.Owner, Address: common.Address(st.Address).Hex(), Proof: st.Proof}, nil
	})
	post(mux, protocol.PathApprove, func(_ *http.Request, req protocol.ApproveRequest) (any, error) {
		signed, err := s.Approve(req.InitData, req.Record)
		if err != nil {
			return nil, err
		}
		return signed.response(), nil
	})
	post(mux, protocol.PathAttestation, func(_ *http.Request, req protocol.AttestationRequest) (any, error) {
		doc, err := s.Attest(req.Nonce)
		if err != nil {
			return nil, err
		}
		return protocol.AttestationResponse{Document: doc}, nil
	})
	post(mux, protocol.PathUnlock, func(r *http.Request, req protocol.UnlockRequest) (any, error) {
		// Answer before the server's 15 s write timeout.
		ctx, cancel := context.WithTimeout(r.Context(), unlockTimeout)
		defer cancel()
		blob, err := s.UnlockWithKMS(ctx, req.Credentials, req.CiphertextBlob)
		if err != nil {
			return nil, err
		}
		return protocol.UnlockResponse{CiphertextBlob: blob}, nil
	})
	for _, p := range []string{protocol.PathHealth, protocol.PathWallets, protocol.PathStatement, protocol.PathApprove, protocol.PathAttestation, protocol.PathUnlock} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			protocol.WriteError(w, &protocol.Error{Code: protocol.CodeMethodNotAllowed, Message: r.Method + " is not allowed on " + p})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		protocol.WriteError(w, &protocol.Error{Code: protocol.CodeNotFound, Message: "no such endpoint"})
	})
	return logAndRecover(limitHeaders(mux), log)
}

// post registers a POST endpoint whose body is one strictly decoded Req
// (bounded by protocol.MaxRequestBody) and whose answer is fn's, or fn's
// error in the API's error shape.
func post[Req any](mux *http.ServeMux, path string, fn func(*http.Request, Req) (any, error)) {
	mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
		// A body not declared as JSON is refused before it is read.
		if err := protocol.CheckContentType(r.Header); err != nil {
			protocol.WriteError(w, err)
			return
		}
		var req Req
		if err := protocol.DecodeJSON(r.Body, protocol.MaxRequestBody, &req); err != nil {
			protocol.WriteError(w, err)
			return
		}
		resp, err := fn(r, req)
		if err != nil {
			protocol.WriteError(w, err)
			return
		}
		protocol.WriteJSON(w, http.StatusOK, resp)
	})
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// logAndRecover logs one line per request (method, path, status, time: never
// a body, which may hold initData) and turns a panic into a plain 500.
func logAndRecover(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r.Body = http.MaxBytesReader(sw, r.Body, protocol.MaxRequestBody+1)
		defer func() {
			if v := recover(); v != nil {
				// The panic value could hold request data; log only that it happened.
				log.Error("enclave handler panicked", "method", r.Method, "path", r.URL.Path)
				protocol.WriteError(sw, fmt.Errorf("panic"))
			}
			method, path, status, took := r.Method, r.URL.Path, sw.status, time.Since(start)
			line := func() {
				// Typed attributes: the same line without boxing each value.
				log.LogAttrs(context.Background(), slog.LevelInfo, "enclave request", slog.String("method", method),
					slog.String("path", path), slog.Int("status", status), slog.Duration("took", took))
			}
			// The enclave's own loop writes the line after the answer is
			// on the wire, so the parent does not wait for the log (a
			// write to the console in production); any other server
			// gets it now.
			if d, ok := w.(interface{ afterAnswer(func()) }); ok {
				d.afterAnswer(line)
			} else {
				line()
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
