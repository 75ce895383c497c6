// Package rawhttp sends hand-written HTTP/1.1 requests, byte for byte, for
// tests of what a server does with heads and bodies no well-behaved client
// sends (oversized or odd heads, HTTP/1.0, unclean paths, Expect).
package rawhttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Exchange writes head (request line and headers, without the final CRLF)
// and body on a new connection to addr (host:port), and reads one answer:
// its status, body and headers. The connection has a 20 s deadline.
func Exchange(t testing.TB, addr, head string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	// Written concurrently: a server may answer (and close) before it has
	// read everything, as it does for a head over its limit.
	go c.Write(append([]byte(head+"\r\n"), body...))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}
