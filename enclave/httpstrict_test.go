package enclave

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/internal/rawhttp"
	"github.com/autowallet/autowallet/protocol"
)

// rawRequest sends head (request line and headers, without the final
// CRLF) and body on a new connection to the server at base and reads one
// answer.
func rawRequest(t testing.TB, base, head string, body []byte) (int, []byte, http.Header) {
	return rawhttp.Exchange(t, strings.TrimPrefix(base, "http://"), head, body)
}

// headOfSize is a GET /v1/health head of exactly n bytes (final CRLF
// included), as the enclave counts them and as they go on the wire.
func headOfSize(t testing.TB, n int) string {
	t.Helper()
	head := "GET " + protocol.PathHealth + " HTTP/1.1\r\nHost: enclave\r\nX-Pad: "
	pad := n - len(head) - len("\r\n") - len("\r\n")
	if pad < 0 {
		t.Fatalf("no head of %d bytes", n)
	}
	return head + strings.Repeat("a", pad) + "\r\n"
}

// TestHTTPHeaderLimit: one limit, MaxHeaderBytes (8192) bytes of request
// line and headers, answered in the API's error shape: exactly the limit is
// served, one byte more is too_large (413), and a head far over it, which
// net/http itself stops reading, gets the same answer instead of
// net/http's text/plain 431.
func TestHTTPHeaderLimit(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	if h := headOfSize(t, protocol.MaxHeaderBytes); len(h)+2 != protocol.MaxHeaderBytes {
		t.Fatalf("head of %d bytes", len(h)+2)
	}
	if status, body, _ := rawRequest(t, url, headOfSize(t, protocol.MaxHeaderBytes), nil); status != 200 {
		t.Fatalf("a head of exactly %d bytes: %d %s", protocol.MaxHeaderBytes, status, body)
	}
	for _, n := range []int{protocol.MaxHeaderBytes + 1, protocol.MaxHeaderBytes + 4096, 16 << 10, 64 << 10} {
		status, body, h := rawRequest(t, url, headOfSize(t, n), nil)
		if h.Get("Content-Type") != "application/json" {
			t.Fatalf("head of %d bytes: %d %q %s", n, status, h.Get("Content-Type"), body)
		}
		wantErrorShape(t, status, body, protocol.CodeTooLarge)
	}
	// The limit counts every header line, not one: many small headers.
	many := "POST " + protocol.PathWallets + " HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nContent-Length: 2\r\n" +
		strings.Repeat("X-A: b\r\n", protocol.MaxHeaderBytes/8)
	status, body, _ := rawRequest(t, url, many, []byte("{}"))
	wantErrorShape(t, status, body, protocol.CodeTooLarge)
	// Lines net/http drops from r.Header after parsing count too, because
	// the cut is made on the wire: an absolute-form URI with a long Host
	// line, a long Trailer line with a chunked body.
	for name, head := range map[string]string{
		"absolute-form URI, long Host": "POST http://e" + protocol.PathWallets + " HTTP/1.1\r\nHost: " + strings.Repeat("h", protocol.MaxHeaderBytes) + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n",
		"long Trailer":                 "POST " + protocol.PathWallets + " HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: " + strings.Repeat("t", protocol.MaxHeaderBytes) + "\r\n",
	} {
		status, body, _ := rawRequest(t, url, head, []byte("{}"))
		if status != protocol.CodeTooLarge.HTTPStatus() {
			t.Errorf("%s: %d %s, want too_large", name, status, body)
			continue
		}
		wantErrorShape(t, status, body, protocol.CodeTooLarge)
	}
	// Only HTTP/1.1, and only clean paths (ServeMux would redirect).
	for name, head := range map[string]string{
		"HTTP/1.0":     "GET " + protocol.PathHealth + " HTTP/1.0\r\nHost: enclave\r\n",
		"double slash": "GET /v1//health HTTP/1.1\r\nHost: enclave\r\n",
		"dot-dot":      "GET /x/../v1/health HTTP/1.1\r\nHost: enclave\r\n",
		"escaped":      "GET /v1/%68ealth HTTP/1.1\r\nHost: enclave\r\n",
		"Expect: foo":  "GET " + protocol.PathHealth + " HTTP/1.1\r\nHost: enclave\r\nExpect: foo\r\n",
	} {
		status, body, _ := rawRequest(t, url, head, nil)
		if status != protocol.CodeMalformedRequest.HTTPStatus() {
			t.Errorf("%s: %d %s, want malformed_request", name, status, body)
			continue
		}
		wantErrorShape(t, status, body, protocol.CodeMalformedRequest)
	}
	// A request net/http cannot parse at all answers malformed_request.
	status, body, _ = rawRequest(t, url, "GET / HTTP/1.1\r\nHost: enclave\r\nBad Header\r\n", nil)
	wantErrorShape(t, status, body, protocol.CodeMalformedRequest)
	// Still serving.
	if status, body := call(t, "GET", url+protocol.PathHealth, nil); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
}

// TestHTTPContentType: a POST body must be declared application/json
// (charset=utf-8 allowed); anything else is unsupported_media_type (415)
// before the body is read.
func TestHTTPContentType(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	body := []byte(`{"owner":424242}`)
	post := func(cts ...string) (int, []byte) {
		head := "POST " + protocol.PathWallets + " HTTP/1.1\r\nHost: enclave\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
		for _, ct := range cts {
			head += "Content-Type: " + ct + "\r\n"
		}
		status, b, _ := rawRequest(t, url, head, body)
		return status, b
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"} {
		if status, b := post(ct); status != 200 {
			t.Errorf("%q: %d %s", ct, status, b)
		}
	}
	for name, cts := range map[string][]string{
		"none": nil, "empty": {""}, "text/plain": {"text/plain"}, "form": {"application/x-www-form-urlencoded"},
		"another charset": {"application/json; charset=utf-16"}, "another parameter": {"application/json; v=1"},
		"two headers": {"application/json", "application/json"}, "json suffix": {"application/problem+json"},
	} {
		status, b := post(cts...)
		if status != 415 {
			t.Errorf("%s: %d %s", name, status, b)
			continue
		}
		wantErrorShape(t, status, b, protocol.CodeUnsupportedMediaType)
		if err := protocol.ReadError(&http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(b))}); !errors.Is(err, protocol.ErrUnsupportedMediaType) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
