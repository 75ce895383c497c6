package parent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// Paths of the parent's HTTP API (docs/api.md). The Mini App page posts to
// them from the same origin it is served from.
const (
	PathMiniAppApprove = "/miniapp/api/approve"
	PathHealthz        = "/healthz"

	maxMiniAppBody = 16 << 10
)

// MiniAppRequest is the body of approve: Telegram's raw initData. There is
// no cancel with initData (see Service.CancelByOwner).
type MiniAppRequest struct {
	InitData string `json:"init_data"`
}

// MiniAppResponse says what became of the transfer.
type MiniAppResponse struct {
	Status     string `json:"status"` // approved or sent
	TransferID string `json:"transfer_id"`
	TxHash     string `json:"tx_hash,omitempty"`
}

// RegisterAPI adds the Mini App API and /healthz to mux.
func (s *Service) RegisterAPI(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathMiniAppApprove, s.miniAppCall(s.Approve))
	// The two unauthenticated GETs cost an enclave (NSM) or RPC call, so
	// each gets a budget (ratelimit.go): a flood cannot turn into one.
	mux.HandleFunc("GET "+PathHealthz, s.cachedHealthz(healthTTL))
	mux.HandleFunc("GET "+PathAttestation, s.limitedAttestation(rate.NewLimiter(attestationRate, attestationBurst)))
	mux.HandleFunc(PathMiniAppApprove, func(w http.ResponseWriter, r *http.Request) {
		protocol.WriteError(w, &protocol.Error{Code: protocol.CodeMethodNotAllowed, Message: "use POST"})
	})
}

func (s *Service) miniAppCall(call func(context.Context, string) (storage.Transfer, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req MiniAppRequest
		if err := protocol.DecodeJSON(http.MaxBytesReader(w, r.Body, maxMiniAppBody+1), maxMiniAppBody, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		t, err := call(r.Context(), req.InitData)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		resp := MiniAppResponse{Status: t.State.String(), TransferID: t.ID}
		if len(t.SignedTx) > 0 {
			resp.TxHash = t.TxHash.Hex()
		}
		protocol.WriteJSON(w, http.StatusOK, resp)
	}
}

// apiError maps the service's errors to the API's codes. Refusals from the
// enclave arrive as *protocol.Error and pass through unchanged.
func apiError(err error) *protocol.Error {
	for sentinel, code := range map[error]protocol.Code{
		ErrUnknownTransfer:    protocol.CodeUnknownTransfer,
		ErrAlreadyApproved:    protocol.CodeAlreadyApproved,
		ErrTransferClosed:     protocol.CodeTransferClosed,
		ErrEnclaveUnavailable: protocol.CodeEnclaveUnavailable,
	} {
		if errors.Is(err, sentinel) {
			return &protocol.Error{Code: code, Message: err.Error()}
		}
	}
	return protocol.ErrorOf(err)
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := apiError(err)
	if e.Code == protocol.CodeInternal {
		s.log.Error("mini app API", "path", r.URL.Path, "err", err)
	} else {
		s.log.Info("mini app API refused", "path", r.URL.Path, "code", e.Code)
	}
	protocol.WriteJSON(w, e.Code.HTTPStatus(), struct {
		Error *protocol.Error `json:"error"`
	}{e})
}

// Health is the answer of /healthz.
type Health struct {
	Status  string `json:"status"`  // ok or degraded
	Enclave string `json:"enclave"` // unlocked, locked or unreachable
	Chain   string `json:"chain"`   // ok, or unreachable when any network's node is
	// Networks is each network's node by chain id: ok or unreachable.
	Networks map[string]string `json:"networks,omitempty"`
}

// checkHealth asks the enclave and the node once. Its context is not a
// request's: the answer is shared (cachedHealthz), so a client that hangs up
// must not turn it into "unreachable" for everyone.
func (s *Service) checkHealth() (Health, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	h := Health{Status: "ok", Enclave: "unreachable", Chain: "ok"}
	if eh, err := s.enclave.Health(ctx); err == nil {
		h.Enclave = eh.Vault
	}
	// Every network's node, at once; one down makes the whole "degraded".
	h.Networks = make(map[string]string, len(s.nets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range s.nets {
		c := s.chains[n.ChainID]
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := "ok"
			if _, err := c.PendingNonce(ctx, [20]byte{}); err != nil {
				state = "unreachable"
			}
			mu.Lock()
			defer mu.Unlock()
			h.Networks[strconv.FormatUint(n.ChainID, 10)] = state
			if state != "ok" {
				h.Chain = "unreachable"
			}
		}()
	}
	wg.Wait()
	status := http.StatusOK
	if h.Enclave != "unlocked" || h.Chain != "ok" {
		h.Status, status = "degraded", http.StatusServiceUnavailable
	}
	return h, status
}

// NewHTTPServer is the parent's one listener for the Mini App page and API,
// with timeouts fit for a public endpoint.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// CORS lets a Mini App page served from another origin (production serves it
// from an origin the host does not control) call the Mini App API: for the
// listed origins only, it answers preflights and marks the answers readable.
// The API's security does not rest on it: approvals are checked by the enclave.
func CORS(next http.Handler, origins []string) http.Handler {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[strings.TrimRight(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if !strings.HasPrefix(r.URL.Path, "/miniapp/api/") || !allowed[origin] {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
