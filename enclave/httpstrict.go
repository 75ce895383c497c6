package enclave

import (
	"fmt"
	"net/http"
	"path"

	"github.com/autowallet/autowallet/protocol"
)

// limitHeaders refuses a request whose head (protocol.HeaderSize) is over
// protocol.MaxHeaderBytes with too_large, in the API's error shape, and
// closes the connection. The server's loop (httpconn.go) already cuts a
// head at exactly the limit on the wire, which also counts the lines
// http.ReadRequest removes from r.Header, which HeaderSize cannot see (an
// absolute-form URI's Host line, Trailer); this check keeps the handler
// safe on any other server (httptest in tests).
//
// It also refuses what the API does not speak before the mux sees it: any
// protocol but HTTP/1.1 (net/http would serve HTTP/1.0), and a path that is
// not already clean (`/v1//wallets`, `/x/../v1/wallets`), which ServeMux
// would answer with an empty 307 redirect: both malformed_request.
func limitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := protocol.HeaderSize(r); n > protocol.MaxHeaderBytes {
			w.Header().Set("Connection", "close")
			protocol.WriteError(w, fmt.Errorf("%w: request line and headers are %d bytes, at most %d allowed", protocol.ErrTooLarge, n, protocol.MaxHeaderBytes))
			return
		}
		if r.ProtoMajor != 1 || r.ProtoMinor != 1 {
			w.Header().Set("Connection", "close")
			protocol.WriteError(w, fmt.Errorf("%w: %s; the API speaks HTTP/1.1 only", protocol.ErrMalformedRequest, r.Proto))
			return
		}
		// The path must begin with "/": `*` (OPTIONS * and the like) and
		// an authority-form target would otherwise reach ServeMux, which
		// answers them with a bare 400 outside the error shape.
		if p := r.URL.Path; p == "" || p[0] != '/' || path.Clean(p) != p || r.URL.RawPath != "" {
			protocol.WriteError(w, fmt.Errorf("%w: the path is not in clean form", protocol.ErrMalformedRequest))
			return
		}
		next.ServeHTTP(w, r)
	})
}
