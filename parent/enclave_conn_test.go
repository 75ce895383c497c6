package parent_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// fakeEnclave is a hand-made HTTP/1.1 server on loopback for the client's
// connection handling: it counts connections and requests by method, and
// answers each request with answer(method, n) (n counts from 1 on each
// connection), then closes the connection if hangUp says so, without
// saying so in the answer (as a server that closes an idle connection).
type fakeEnclave struct {
	addr string
	mu   sync.Mutex
	// conns accepted and requests received by method
	conns    int
	requests map[string]int
}

func startFakeEnclave(t *testing.T, answer func(method string, n int) string, hangUp func(n int) bool) *fakeEnclave {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &fakeEnclave{addr: l.Addr().String(), requests: map[string]int{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					f.mu.Lock()
					f.requests[req.Method]++
					f.mu.Unlock()
					io.WriteString(c, answer(req.Method, n))
					if hangUp(n) {
						return
					}
				}
			}()
		}
	}()
	return f
}

func (f *fakeEnclave) counts() (conns, gets, posts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns, f.requests["GET"], f.requests["POST"]
}

func jsonAnswer(body string, extra string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s", extra, len(body), body)
}

const (
	fakeHealth = `{"status":"ok","vault":"unlocked","protocol":1,"chains":[]}`
	fakeWallet = `{"address":"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23","record":"AQID"}`
)

func fakeAnswer(method string, _ int) string {
	if method == http.MethodGet {
		return jsonAnswer(fakeHealth, "")
	}
	return jsonAnswer(fakeWallet, "")
}

// TestEnclaveClientReusesOneConnection: calls one after another share one
// keep-alive connection; an answer that says Connection: close is not
// reused.
func TestEnclaveClientReusesOneConnection(t *testing.T) {
	f := startFakeEnclave(t, fakeAnswer, func(int) bool { return false })
	c := parent.NewEnclaveClientTCP(f.addr, 5*time.Second)
	for i := range 20 {
		if _, err := c.Health(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.CreateWallet(context.Background(), int64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if conns, gets, posts := f.counts(); conns != 1 || gets != 20 || posts != 20 {
		t.Fatalf("%d connections, %d GET, %d POST", conns, gets, posts)
	}

	closing := startFakeEnclave(t, func(string, int) string { return jsonAnswer(fakeHealth, "Connection: close\r\n") }, func(int) bool { return true })
	c = parent.NewEnclaveClientTCP(closing.addr, 5*time.Second)
	for range 3 {
		if _, err := c.Health(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if conns, gets, _ := closing.counts(); conns != 3 || gets != 3 {
		t.Fatalf("%d connections for %d requests answered with Connection: close", conns, gets)
	}
}

// TestEnclaveClientSkipsClosedIdleConnections: a kept connection the
// enclave has closed since (its idle timeout, a restart, making room for
// another) is seen to be closed before anything is written to it, so the
// next call, a POST included, goes out on a new connection and succeeds.
func TestEnclaveClientSkipsClosedIdleConnections(t *testing.T) {
	// Every connection carries one answer and is then closed by the
	// server, without Connection: close in the answer.
	f := startFakeEnclave(t, fakeAnswer, func(int) bool { return true })
	c := parent.NewEnclaveClientTCP(f.addr, 5*time.Second)
	ctx := context.Background()
	if _, err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the server's close arrives
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("Health after the enclave closed the kept connection: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, _, err := c.CreateWallet(ctx, 5); err != nil {
		t.Fatalf("CreateWallet after the enclave closed the kept connection: %v", err)
	}
	if conns, gets, posts := f.counts(); conns != 3 || gets != 2 || posts != 1 {
		t.Fatalf("%d connections, %d GET, %d POST; want 3, 2, 1 (nothing written to a closed one)", conns, gets, posts)
	}
}

// TestEnclaveClientRetriesOnlyHealth: when the enclave closes a kept
// connection after the request was written and before any byte of its
// answer, a GET /v1/health is sent once more on a new connection and
// succeeds; a POST is never resent (it may have been carried out): it
// fails as unavailable, and the enclave saw it exactly once.
func TestEnclaveClientRetriesOnlyHealth(t *testing.T) {
	// The first request on a connection is answered; the second is read
	// and the connection closed without an answer.
	answer := func(method string, n int) string {
		if n >= 2 {
			return ""
		}
		return fakeAnswer(method, n)
	}
	f := startFakeEnclave(t, answer, func(n int) bool { return n >= 2 })
	c := parent.NewEnclaveClientTCP(f.addr, 5*time.Second)
	ctx := context.Background()
	if _, err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("Health whose kept connection closed without an answer: %v", err)
	}
	if conns, gets, _ := f.counts(); conns != 2 || gets != 3 {
		t.Fatalf("%d connections, %d GET; want the second GET sent again on a new connection", conns, gets)
	}
	// The retry's connection is kept; the POST on it is read, then the
	// connection closes without an answer.
	_, _, err := c.CreateWallet(ctx, 5)
	if !errors.Is(err, parent.ErrEnclaveUnavailable) {
		t.Fatalf("CreateWallet whose connection closed without an answer = %v, want ErrEnclaveUnavailable", err)
	}
	if conns, _, posts := f.counts(); posts != 1 || conns != 2 {
		t.Fatalf("the POST reached the enclave %d times over %d connections; want once, never resent", posts, conns)
	}
	// The next one dials afresh.
	if _, _, err := c.CreateWallet(ctx, 5); err != nil {
		t.Fatal(err)
	}
}

// TestEnclaveClientDropsUnaskedBytes: bytes that arrive on a kept
// connection when no request is out (a second answer nobody asked for)
// would be read as the next request's answer: the connection is dropped
// instead, and each call reads its own answer.
func TestEnclaveClientDropsUnaskedBytes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	health := func(vault string) string {
		return jsonAnswer(`{"status":"ok","vault":"`+vault+`","protocol":1,"chains":[]}`, "")
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, health("unlocked"))
					if n == 1 {
						time.Sleep(30 * time.Millisecond)
						io.WriteString(c, health("locked")) // nobody asked
					}
				}
			}()
		}
	}()
	c := parent.NewEnclaveClientTCP(l.Addr().String(), 2*time.Second)
	for i := 1; i <= 3; i++ {
		h, err := c.Health(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if h.Vault != "unlocked" {
			t.Fatalf("call %d read the unasked answer (vault %q): the pool is out of step", i, h.Vault)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEnclaveClientRefusesBadFraming: an answer that is not HTTP/1.1, whose
// head is endless, or whose body is longer than the protocol allows is the
// enclave being unavailable, and its connection is not reused.
func TestEnclaveClientRefusesBadFraming(t *testing.T) {
	long := make([]byte, protocol.MaxRequestBody+10)
	for i := range long {
		long[i] = ' '
	}
	for name, answer := range map[string]string{
		"not HTTP":       "SSH-2.0-OpenSSH\r\n\r\n",
		"endless head":   "HTTP/1.1 200 OK\r\nX: " + string(make([]byte, 20<<10)) + "\r\n\r\n",
		"body too long":  jsonAnswer(`{"status":"ok"}`+string(long), ""),
		"bytes after it": jsonAnswer(fakeHealth, "") + "HTTP/1.1 200 OK\r\n",
	} {
		f := startFakeEnclave(t, func(string, int) string { return answer }, func(int) bool { return false })
		c := parent.NewEnclaveClientTCP(f.addr, 5*time.Second)
		_, err := c.Health(context.Background())
		if name == "bytes after it" {
			// The answer itself is fine; its connection is not kept.
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			c.Health(context.Background())
			if conns, _, _ := f.counts(); conns != 2 {
				t.Errorf("%s: %d connections, want the first one dropped", name, conns)
			}
			continue
		}
		if !errors.Is(err, parent.ErrEnclaveUnavailable) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestEnclaveClientTimeout: an enclave that never answers is unavailable
// at the client's timeout, and the connection is dropped.
func TestEnclaveClientTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := parent.NewEnclaveClientTCP(l.Addr().String(), 200*time.Millisecond)
	start := time.Now()
	if _, _, err := c.Approve(context.Background(), "a=b", []byte{1}); !errors.Is(err, parent.ErrEnclaveUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the timeout did not bound the call")
	}
	// A cancelled context ends the call as well.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	c = parent.NewEnclaveClientTCP(l.Addr().String(), time.Minute)
	if _, err := c.Health(ctx); !errors.Is(err, parent.ErrEnclaveUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
}
