package protocol

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// MaxHeaderBytes is the enclave's one limit on a request's head: the
// request line and every header line, each with its CRLF, and the empty
// line that ends them, counted as the server read them (HeaderSize). Over
// it the answer is too_large (docs/protocol.md 6).
const MaxHeaderBytes = 8 << 10

// CodeUnsupportedMediaType: a POST whose Content-Type is not
// application/json (docs/protocol.md 6.1).
const CodeUnsupportedMediaType Code = "unsupported_media_type"

// ErrUnsupportedMediaType is the reason for CodeUnsupportedMediaType.
var ErrUnsupportedMediaType = errors.New("request body is not declared as application/json")

func init() { sentinelOf[CodeUnsupportedMediaType] = ErrUnsupportedMediaType }

// CheckContentType accepts exactly one Content-Type header whose media type
// is application/json (any case, as RFC 9110 says), with no parameter or
// only charset=utf-8: JSON is UTF-8 (RFC 8259), so a body declared in
// another charset would be read as something its sender did not mean.
func CheckContentType(h http.Header) error {
	vs := h.Values("Content-Type")
	if len(vs) == 1 && vs[0] == "application/json" {
		return nil // what Go's and the page's clients send: no parsing needed
	}
	if len(vs) != 1 {
		return fmt.Errorf("%w: want one Content-Type: application/json, got %d", ErrUnsupportedMediaType, len(vs))
	}
	mt, params, err := mime.ParseMediaType(vs[0])
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w: want Content-Type: application/json", ErrUnsupportedMediaType)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return fmt.Errorf("%w: the only parameter allowed is charset=utf-8", ErrUnsupportedMediaType)
		}
	}
	return nil
}

// HeaderSize is the size of r's head as the server read it: the request
// line, one "Name: value" line per header value (Host and
// Transfer-Encoding included, which net/http moves out of r.Header), each
// with its CRLF, and the final CRLF. Optional whitespace around a value is
// not counted (net/http has dropped it); for a client that sends none, as
// Go's and curl do, this is exactly the bytes on the wire.
func HeaderSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	line := func(name, value string) { n += len(name) + 2 + len(value) + 2 }
	if r.Host != "" {
		line("Host", r.Host)
	}
	for _, te := range r.TransferEncoding {
		line("Transfer-Encoding", te)
	}
	for name, vs := range r.Header {
		for _, v := range vs {
			line(name, v)
		}
	}
	return n + 2
}
