package enclave

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/rawhttp"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// startLoop serves h with the enclave's loop (httpserver.go) on a loopback
// port, after tweak has set its limits, and returns its address.
func startLoop(t testing.TB, h http.Handler, tweak func(*Server)) (string, *Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv := newServer(h, slog.New(slog.NewTextHandler(logs, nil)))
	if tweak != nil {
		tweak(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return l.Addr().String(), srv, logs
}

// dialLoop opens a connection with a deadline bounding the test.
func dialLoop(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// readAnswer reads one answer and its body.
func readAnswer(t testing.TB, br *bufio.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading an answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// wantClosed asserts the server closed the connection: EOF (or a reset)
// with nothing more, well before the test's own deadline.
func wantClosed(t testing.TB, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := br.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, net.ErrClosed) {
		t.Fatalf("read %d bytes, %v; want the connection closed by the server", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
}

const healthReq = "GET " + protocol.PathHealth + " HTTP/1.1\r\nHost: enclave\r\n\r\n"

func walletReq(owner int) string {
	body := `{"owner":` + strconv.Itoa(owner) + `}`
	return "POST " + protocol.PathWallets + " HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestHTTPPipelined: requests written back to back in one write are answered
// in order on the one connection, which stays open; a HEAD is answered
// with the headers of its GET and no body, so the next answer still
// starts where it should.
func TestHTTPPipelined(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	c, br := dialLoop(t, strings.TrimPrefix(url, "http://"))
	head := "HEAD " + protocol.PathHealth + " HTTP/1.1\r\nHost: enclave\r\n\r\n"
	if _, err := io.WriteString(c, healthReq+walletReq(424242)+head+walletReq(0)+healthReq); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{200, 200, 200, 400, 200} {
		resp, err := http.ReadResponse(br, &http.Request{Method: map[bool]string{true: "HEAD", false: "GET"}[i == 2]})
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want || resp.Close || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("answer %d: %d close=%v %s", i, resp.StatusCode, resp.Close, b)
		}
		if i == 2 && (len(b) != 0 || resp.ContentLength <= 0) {
			t.Fatalf("HEAD: %d bytes of body, Content-Length %d", len(b), resp.ContentLength)
		}
		if want == 400 {
			wantErrorShape(t, resp.StatusCode, b, protocol.CodeMalformedRequest)
		}
	}
	// Still open for another.
	io.WriteString(c, healthReq)
	if resp, b := readAnswer(t, br); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if br.Buffered() != 0 {
		t.Fatalf("%d bytes after the last answer", br.Buffered())
	}
}

// TestHTTPPipelinedHeadLimit: a head that follows another request in the
// same write is held to the same 8192 bytes, though part of it was read
// (buffered) with the request before it.
func TestHTTPPipelinedHeadLimit(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	for n, want := range map[int]protocol.Code{protocol.MaxHeaderBytes: "", protocol.MaxHeaderBytes + 1: protocol.CodeTooLarge} {
		c, br := dialLoop(t, strings.TrimPrefix(url, "http://"))
		go io.WriteString(c, walletReq(7)+headOfSize(t, n)+"\r\n")
		if resp, b := readAnswer(t, br); resp.StatusCode != 200 {
			t.Fatalf("first: %d %s", resp.StatusCode, b)
		}
		resp, b := readAnswer(t, br)
		if want == "" {
			if resp.StatusCode != 200 {
				t.Fatalf("a pipelined head of %d bytes: %d %s", n, resp.StatusCode, b)
			}
			continue
		}
		wantErrorShape(t, resp.StatusCode, b, want)
		wantClosed(t, c, br)
	}
}

// TestHTTPConnectionClose: a request that says Connection: close gets an
// answer that says it too, and the connection is closed after it; so is
// one whose body the handler left unread beyond the drain bound.
func TestHTTPConnectionClose(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	c, br := dialLoop(t, strings.TrimPrefix(url, "http://"))
	io.WriteString(c, "GET "+protocol.PathHealth+" HTTP/1.1\r\nHost: enclave\r\nConnection: close\r\n\r\n")
	resp, b := readAnswer(t, br)
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("%d close=%v %s", resp.StatusCode, resp.Close, b)
	}
	wantClosed(t, c, br)

	// A body over the limit: refused, and the rest of it is not read.
	c, br = dialLoop(t, strings.TrimPrefix(url, "http://"))
	body := `{"owner":1}` + strings.Repeat(" ", 3*protocol.MaxRequestBody)
	go io.WriteString(c, "POST "+protocol.PathWallets+" HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\n\r\n"+body)
	resp, b = readAnswer(t, br)
	wantErrorShape(t, resp.StatusCode, b, protocol.CodeTooLarge)
	if !resp.Close {
		t.Fatal("the connection stays open with a body half read")
	}
	wantClosed(t, c, br)
	// A client still writing a body far over the limit reads its refusal,
	// not a reset (net/http's client: it reads while it writes).
	for range 3 {
		status, b := call(t, "POST", url+protocol.PathApprove, make([]byte, 8<<20))
		wantErrorShape(t, status, b, protocol.CodeTooLarge)
	}
}

// TestHTTPSmuggling: every head whose body framing has two readings is
// refused (malformed_request, connection closed) before a handler runs, so
// no request hidden in a body is ever served; so are the Host rules.
func TestHTTPSmuggling(t *testing.T) {
	var mu sync.Mutex
	var served []string
	servedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), served...)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served = append(served, r.Method+" "+r.URL.Path)
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		protocol.WriteJSON(w, 200, map[string]string{"ok": "yes"})
	})
	addr, _, _ := startLoop(t, h, nil)
	hidden := "GET /hidden HTTP/1.1\r\nHost: enclave\r\n\r\n"
	chunk := "0\r\n\r\n" + hidden
	for name, head := range map[string]string{
		"CL and TE":               "POST /x HTTP/1.1\r\nHost: e\r\nContent-Length: " + strconv.Itoa(len(chunk)) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk,
		"TE and CL":               "POST /x HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunk,
		"two equal CL":            "POST /x HTTP/1.1\r\nHost: e\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nabcde" + hidden,
		"two CL":                  "POST /x HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\nContent-Length: " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden,
		"CL list":                 "POST /x HTTP/1.1\r\nHost: e\r\nContent-Length: 0, 5\r\n\r\n" + hidden,
		"TE gzip, chunked":        "POST /x HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + chunk,
		"TE twice":                "POST /x HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk,
		"TE with a space":         "POST /x HTTP/1.1\r\nHost: e\r\nTransfer-Encoding : chunked\r\n\r\n" + chunk,
		"folded TE":               "POST /x HTTP/1.1\r\nHost: e\r\nX-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n" + hidden,
		"no Host":                 "GET /x HTTP/1.1\r\n\r\n",
		"two Host":                "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"bad Host":                "GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
		"control byte in a value": "GET /x HTTP/1.1\r\nHost: e\r\nX-A: a\x01b\r\n\r\n",
		"bare CR":                 "GET /x HTTP/1.1\r\nHost: e\r\nX-A: a\rContent-Length: 5\r\n\r\n",
		"HTTP/2":                  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"HTTP/1.2":                "GET /x HTTP/1.2\r\nHost: e\r\n\r\n",
	} {
		mu.Lock()
		served = served[:0]
		mu.Unlock()
		c, br := dialLoop(t, addr)
		go io.WriteString(c, head)
		resp, b := readAnswer(t, br)
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
			continue
		}
		wantErrorShape(t, resp.StatusCode, b, protocol.CodeMalformedRequest)
		if !resp.Close {
			t.Errorf("%s: the connection stays open", name)
		}
		wantClosed(t, c, br)
		if s := servedNow(); len(s) != 0 {
			t.Errorf("%s: served %v", name, s)
		}
	}
	// The same framings, well formed, are served.
	for name, req := range map[string][2]string{
		"chunked":        {"POST /x HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n", "2\r\n{}\r\n0\r\n\r\n"},
		"Content-Length": {"POST /x HTTP/1.1\r\nHost: e\r\nContent-Length: 2\r\n", "{}"},
	} {
		mu.Lock()
		served = served[:0]
		mu.Unlock()
		status, b, _ := rawhttp.Exchange(t, addr, req[0], []byte("\r\n"+req[1]))
		if s := servedNow(); status != 200 || len(s) != 1 {
			t.Errorf("%s: %d %s, served %v", name, status, b, s)
		}
	}
}

// TestHTTPStalledClient: a client that stops mid-head gets no answer and
// is closed at the head's timeout; one that stops mid-body at the
// request's timeout (its request refused, never served); an idle one at
// the idle timeout.
func TestHTTPStalledClient(t *testing.T) {
	var served atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := protocol.DecodeJSON(r.Body, protocol.MaxRequestBody, new(map[string]int)); err != nil {
			protocol.WriteError(w, err)
			return
		}
		served.Add(1)
		protocol.WriteJSON(w, 200, map[string]string{"ok": "yes"})
	})
	addr, _, _ := startLoop(t, h, func(s *Server) {
		s.readHeaderTimeout, s.readTimeout, s.idleTimeout = 300*time.Millisecond, 600*time.Millisecond, 300*time.Millisecond
	})
	// Mid-head.
	c, br := dialLoop(t, addr)
	io.WriteString(c, "POST /x HTTP/1.1\r\nHost: e\r\nContent-Le")
	wantClosed(t, c, br)
	// Mid-body: the handler's read fails at the deadline; its refusal
	// closes the connection.
	c, br = dialLoop(t, addr)
	io.WriteString(c, "POST /x HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"a\":")
	resp, b := readAnswer(t, br)
	if resp.StatusCode == 200 || !resp.Close {
		t.Fatalf("a stalled body: %d close=%v %s", resp.StatusCode, resp.Close, b)
	}
	wantClosed(t, c, br)
	// Idle after an answer.
	c, br = dialLoop(t, addr)
	io.WriteString(c, "POST /x HTTP/1.1\r\nHost: e\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
	if resp, b := readAnswer(t, br); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	wantClosed(t, c, br)
	if n := served.Load(); n != 1 {
		t.Fatalf("served %d", n)
	}
}

// TestHTTPConnectionBound: at the bound, with every connection busy with
// a request, a new connection is not served (it waits, costing one
// accepted socket) until one of them ends.
func TestHTTPConnectionBound(t *testing.T) {
	entered, release := make(chan struct{}, 2), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		protocol.WriteJSON(w, 200, map[string]string{"ok": "yes"})
	})
	addr, _, _ := startLoop(t, h, func(s *Server) { s.slots = make(chan struct{}, 2) })
	var busy []*bufio.Reader
	for range 2 {
		c, br := dialLoop(t, addr)
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: e\r\n\r\n")
		<-entered
		busy = append(busy, br)
	}
	third, br := dialLoop(t, addr)
	io.WriteString(third, healthReq)
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := br.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the third connection was served while two requests held the bound: %v", err)
	}
	close(release)
	for _, b := range busy {
		if resp, body := readAnswer(t, b); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, b := readAnswer(t, br); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// TestHTTPIdleConnectionsGiveWay: connections that hold every slot while
// idle between requests (kept alive, each request renewing the idle
// timeout) cannot lock the parent out: at the bound the connection idle
// the longest is closed to make room for the new one.
func TestHTTPIdleConnectionsGiveWay(t *testing.T) {
	f := newFixture(t)
	addr, _, _ := startLoop(t, Handler(f.signer, slog.New(slog.DiscardHandler)), func(s *Server) { s.slots = make(chan struct{}, 2) })
	type held struct {
		c  net.Conn
		br *bufio.Reader
	}
	var idle []held
	for range 2 {
		c, br := dialLoop(t, addr)
		io.WriteString(c, healthReq)
		if resp, _ := readAnswer(t, br); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		idle = append(idle, held{c, br})
		time.Sleep(10 * time.Millisecond) // the first is idle the longer
	}
	cl := parent.NewEnclaveClientTCP(addr, 3*time.Second)
	if _, err := cl.Health(context.Background()); err != nil {
		t.Fatalf("the parent was locked out by 2 idle connections at a bound of 2: %v", err)
	}
	wantClosed(t, idle[0].c, idle[0].br)
	io.WriteString(idle[1].c, healthReq)
	if resp, _ := readAnswer(t, idle[1].br); resp.StatusCode != 200 {
		t.Fatalf("the younger idle connection was closed too: %s", resp.Status)
	}
}

// TestHTTPPostAfterEnclaveRestart: the parent's pool keeps a connection;
// the enclave's server stops (closing it) and a new one listens on the same
// address. The next POST goes out on a new connection and succeeds (the
// pool saw the close before writing; a POST is never sent twice).
func TestHTTPPostAfterEnclaveRestart(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	log := slog.New(slog.DiscardHandler)
	srv := NewServer(f.signer, log)
	go Serve(srv, l)
	c := parent.NewEnclaveClientTCP(addr, 5*time.Second)
	ctx := context.Background()
	if _, _, err := c.CreateWallet(ctx, 1); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	srv.Shutdown(sctx) // closes the idle connection at once
	cancel()
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := NewServer(f.signer, log)
	go Serve(srv2, l2)
	t.Cleanup(func() { srv2.Close() })
	time.Sleep(100 * time.Millisecond) // the close has reached the parent
	if _, _, err := c.CreateWallet(ctx, 2); err != nil {
		t.Fatalf("a POST after the enclave restarted: %v", err)
	}
}

// TestHTTPShutdownWaitsForRequest: Shutdown closes idle connections at
// once, accepts no new ones, and waits for a request in flight, whose
// answer arrives (saying Connection: close); with a deadline too short it
// returns the context's error.
func TestHTTPShutdownWaitsForRequest(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		protocol.WriteJSON(w, 200, map[string]string{"ok": "yes"})
	})
	addr, srv, _ := startLoop(t, h, nil)
	idle, idleBr := dialLoop(t, addr)
	io.WriteString(idle, healthReq)
	readAnswer(t, idleBr)
	busy, busyBr := dialLoop(t, addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: e\r\n\r\n")
	<-entered

	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a request in flight past its deadline = %v", err)
	}
	wantClosed(t, idle, idleBr)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a new connection after Shutdown")
	}
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	resp, b := readAnswer(t, busyBr)
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("the request in flight: %d close=%v %s", resp.StatusCode, resp.Close, b)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	wantClosed(t, busy, busyBr)
}

// TestHTTPPanicOutsideRecovery: a panic that escapes the handler (the
// API's handler recovers its own: TestHTTPPanicIsInternal) closes that
// connection only, and its value is not logged.
func TestHTTPPanicOutsideRecovery(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("SECRET-PANIC-VALUE")
		}
		protocol.WriteJSON(w, 200, map[string]string{"ok": "yes"})
	})
	addr, _, logs := startLoop(t, h, nil)
	c, br := dialLoop(t, addr)
	io.WriteString(c, "GET /panic HTTP/1.1\r\nHost: e\r\n\r\n")
	wantClosed(t, c, br)
	if status, b, _ := rawhttp.Exchange(t, addr, "GET /x HTTP/1.1\r\nHost: e\r\n", nil); status != 200 {
		t.Fatalf("after a panic: %d %s", status, b)
	}
	if strings.Contains(logs.String(), "SECRET") || !strings.Contains(logs.String(), "panicked") {
		t.Fatalf("log: %s", logs.String())
	}
}

// TestHTTPExpectContinue: "Expect: 100-continue" gets "100 Continue" when
// the handler reads the body, then the answer.
func TestHTTPExpectContinue(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	c, br := dialLoop(t, strings.TrimPrefix(url, "http://"))
	body := `{"owner":5}`
	io.WriteString(c, "POST "+protocol.PathWallets+" HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("%q %v", line, err)
	}
	if rest, _ := br.ReadString('\n'); rest != "\r\n" {
		t.Fatalf("%q", rest)
	}
	io.WriteString(c, body)
	if resp, b := readAnswer(t, br); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	// With no body to wait for, the request is served as it is.
	io.WriteString(c, "GET "+protocol.PathHealth+" HTTP/1.1\r\nHost: enclave\r\nExpect: 100-continue\r\n\r\n")
	if resp, b := readAnswer(t, br); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// TestHTTPPipelinedAfterSlowAnswer: a request whose head began to arrive
// with the one before it gets its own head timeout from when it is read,
// not what was left of the previous request's.
func TestHTTPPipelinedAfterSlowAnswer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(400 * time.Millisecond) // past the request's read timeout
		}
		protocol.WriteJSON(w, 200, map[string]string{"ok": "yes"})
	})
	addr, _, _ := startLoop(t, h, func(s *Server) { s.readHeaderTimeout, s.readTimeout = 200*time.Millisecond, 300*time.Millisecond })
	c, br := dialLoop(t, addr)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: e\r\n\r\nGET /x HTTP/1.1\r\n")
	if resp, b := readAnswer(t, br); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	io.WriteString(c, "Host: e\r\n\r\n")
	if resp, b := readAnswer(t, br); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("the pipelined request: %d %s", resp.StatusCode, b)
	}
}

// heldWriter is a log destination whose writes wait until release is
// closed (a console that does not keep up).
type heldWriter struct {
	release chan struct{}
	logs    syncBuffer
}

func (w *heldWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.logs.Write(p)
}

// TestHTTPLogLineAfterAnswer: the request's log line is written after its
// answer is on the wire, so the parent never waits for the enclave's log
// (a write to the console in production), and it is still written, with
// the request's status.
func TestHTTPLogLineAfterAnswer(t *testing.T) {
	f := newFixture(t)
	w := &heldWriter{release: make(chan struct{})}
	srv := NewServer(f.signer, slog.New(slog.NewTextHandler(w, nil)))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	client := parent.NewEnclaveClientTCP(l.Addr().String(), 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, wal := f.validApproval()
	// The answer comes while the log line is held.
	if _, _, err := client.Approve(ctx, f.signInitData(a), wal.Record); err != nil {
		close(w.release)
		t.Fatalf("approve with the log held: %v", err)
	}
	if got := w.logs.String(); got != "" {
		t.Fatalf("a line was logged before its release: %q", got)
	}
	close(w.release)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.logs.String(), "path="+protocol.PathApprove+" status=200") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the approval: %q", w.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
