package enclave

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path"

	"github.com/autowallet/autowallet/protocol"
)

// limitHeaders refuses a request whose head (protocol.HeaderSize) is over
// protocol.MaxHeaderBytes with too_large, in the API's error shape, and
// closes the connection. The http.Server's MaxHeaderBytes is 4096 less, so
// that net/http itself, which cuts a head once it has read MaxHeaderBytes +
// 4096 bytes, stops at exactly the limit on the wire (strictListener turns
// its 431 into too_large): that also counts the lines net/http removes from
// r.Header, which HeaderSize cannot see (an absolute-form URI's Host line,
// Trailer). This check answers the rest in the error shape.
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
		if p := r.URL.Path; p == "" || path.Clean(p) != p || r.URL.RawPath != "" {
			protocol.WriteError(w, fmt.Errorf("%w: the path is not in clean form", protocol.ErrMalformedRequest))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// strictListener makes net/http's own refusals, which it writes straight to
// the connection as text/plain before any handler runs (a head it stopped
// reading: 431; a request line or header it cannot parse, an unknown
// transfer coding: 400 or 501), answer in the API's one error shape
// instead: too_large for 431, malformed_request for the rest.
type strictListener struct{ net.Listener }

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return strictConn{c}, nil
}

type strictConn struct{ net.Conn }

// netHTTPErrorHeaders is what every one of net/http's canned refusals
// carries (net/http/server.go, conn.serve); no response of this API does:
// it never sends text/plain, and net/http writes a handler's headers in
// sorted order, Connection before Content-Type.
var netHTTPErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// netHTTPExpectationFailed starts net/http's answer to an Expect header
// other than 100-continue, which it sends (empty, without text/plain) before
// any handler runs; this API never answers 417 itself.
var netHTTPExpectationFailed = []byte("HTTP/1.1 417 ")

func (c strictConn) Write(p []byte) (int, error) {
	canned := bytes.HasPrefix(p, []byte("HTTP/1.1 ")) && bytes.Contains(p, netHTTPErrorHeaders)
	if !canned && !bytes.HasPrefix(p, netHTTPExpectationFailed) {
		return c.Conn.Write(p)
	}
	code := protocol.CodeMalformedRequest
	msg := "the request could not be read as HTTP/1.1"
	if bytes.HasPrefix(p, []byte("HTTP/1.1 431 ")) {
		code = protocol.CodeTooLarge
		msg = fmt.Sprintf("request line and headers are over %d bytes", protocol.MaxHeaderBytes)
	}
	body, _ := json.Marshal(struct {
		Error *protocol.Error `json:"error"`
	}{&protocol.Error{Code: code, Message: msg}})
	status := code.HTTPStatus()
	resp := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: %d\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
	if _, err := c.Conn.Write(resp); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite keeps net/http's half-close before it hangs up on a refused
// request (so the client reads the answer rather than a reset).
func (c strictConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
