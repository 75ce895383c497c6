package enclave

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/protocol"
)

// FuzzServerConn feeds raw bytes to one connection of the real server (the
// enclave's loop and Handler, an unlocked signer) and half-closes it. Every
// answer must be a whole HTTP/1.1 response: a 200 of the API with a JSON
// body, or the API's error shape with its code's status (a "100 Continue"
// only if the bytes ask for one); after the last answer the server closes
// the connection. Never a panic (it would end the test binary), never a
// hang (the connection's deadline fails the test). Seeds:
// testdata/fuzz/FuzzServerConn.
func FuzzServerConn(f *testing.F) {
	for _, seed := range []string{
		healthReq,
		walletReq(1) + healthReq,
		"POST /x HTTP/1.1\r\nHost: e\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST " + protocol.PathWallets + " HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n{\"owner\":2}\r\n0\r\n\r\n",
		"HEAD " + protocol.PathHealth + " HTTP/1.1\r\nHost: e\r\n\r\n" + healthReq,
		"POST " + protocol.PathWallets + " HTTP/1.1\r\nHost: e\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"owner\":3}",
		"GET / HTTP/1.0\r\n\r\n",
		"GET /v1/health HTTP/1.1\r\nHost: e\r\nX: " + strings.Repeat("a", protocol.MaxHeaderBytes) + "\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	fx := newFixture(f)
	url, _ := startServer(f, fx.signer)
	addr := strings.TrimPrefix(url, "http://")
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		go func() {
			c.Write(in)
			c.(*net.TCPConn).CloseWrite()
		}()
		methods := requestMethods(in)
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			if _, err := br.Peek(1); err == io.EOF {
				return // closed after the last answer
			} else if err != nil {
				t.Fatalf("after %d answers: %v", i, err)
			}
			method := http.MethodGet
			if i < len(methods) {
				method = methods[i]
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				t.Fatalf("answer %d is not HTTP: %v", i, err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("answer %d: body: %v", i, err)
			}
			if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
				t.Fatalf("answer %d: %s", i, resp.Proto)
			}
			if resp.StatusCode == http.StatusContinue {
				if !bytes.Contains(bytes.ToLower(in), []byte("100-continue")) {
					t.Fatalf("answer %d: 100 Continue unasked", i)
				}
				i-- // the final answer follows
				continue
			}
			if resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength < 0 {
				t.Fatalf("answer %d: %d, %q, length %d", i, resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength)
			}
			if method == http.MethodHead {
				continue
			}
			if resp.StatusCode == http.StatusOK {
				if !json.Valid(body) || body[0] != '{' {
					t.Fatalf("answer %d: 200 %q", i, body)
				}
				continue
			}
			var e struct {
				Error *protocol.Error `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Code.HTTPStatus() != resp.StatusCode {
				t.Fatalf("answer %d: %d %q", i, resp.StatusCode, body)
			}
		}
	})
}

// requestMethods is the method of each request in b, as far as it parses,
// so that an answer to a HEAD is read without a body.
func requestMethods(b []byte) []string {
	var methods []string
	br := bufio.NewReader(bytes.NewReader(b))
	for len(methods) < 64 {
		req, err := http.ReadRequest(br)
		if err != nil {
			break
		}
		methods = append(methods, req.Method)
		if _, err := io.Copy(io.Discard, req.Body); err != nil && !errors.Is(err, io.EOF) {
			break
		}
	}
	return methods
}
