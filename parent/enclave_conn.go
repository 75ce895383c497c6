package parent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// enclaveConns is the parent's lean HTTP/1.1 client for the enclave API, in
// place of net/http's Transport (docs/performance.md, "The lean transport
// (issue 11)"): a pool of at most enclaveConns keep-alive connections, each
// request written in one write and its answer read with net/http's own
// parser (http.ReadResponse) on the caller's goroutine. net/http's
// Transport keeps two goroutines per connection and hands every request
// and answer between them and the caller over channels; here nothing runs
// but the caller.
type enclavePool struct {
	dial  func(context.Context, string, string) (net.Conn, error)
	host  string        // the Host header: the enclave's address as the URL named it
	slots chan struct{} // one per open connection, idle or in use
	idle  chan *enclaveConn
}

// enclaveIdleTimeout drops a connection idle this long instead of using it
// (as the Transport's IdleConnTimeout did): well inside the enclave's own
// 60 s, so the enclave never closes a connection the parent is about to
// reuse, except when it restarts.
const enclaveIdleTimeout = 30 * time.Second

// maxAnswerHead bounds the status line and headers of an answer (the
// enclave's are about 150 bytes; net/http's Transport allowed 1 MiB).
const maxAnswerHead = 16 << 10

type enclaveConn struct {
	net.Conn
	br       *bufio.Reader
	lr       io.LimitedReader // under br: bounds what one answer may read
	reads    int64            // bytes read from the connection, ever
	lastUsed time.Time
	buf      []byte // the request being written, reused
}

func (c *enclaveConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.reads += int64(n)
	return n, err
}

func newEnclavePool(host string, dial func(context.Context, string, string) (net.Conn, error)) *enclavePool {
	return &enclavePool{dial: dial, host: host, slots: make(chan struct{}, enclaveConns), idle: make(chan *enclaveConn, enclaveConns)}
}

// get takes an idle connection (reused true) or dials one while fewer than
// enclaveConns are open, else waits for either until ctx ends.
func (p *enclavePool) get(ctx context.Context, fresh bool) (*enclaveConn, bool, error) {
	for {
		var c *enclaveConn
		if !fresh {
			select {
			case c = <-p.idle:
			default:
			}
		}
		if c == nil {
			idle := p.idle
			if fresh {
				idle = nil // a retry waits for a slot of its own
			}
			select {
			case c = <-idle:
			case p.slots <- struct{}{}:
				conn, err := p.dial(ctx, "tcp", p.host)
				if err != nil {
					<-p.slots
					return nil, false, err
				}
				ec := &enclaveConn{Conn: conn}
				ec.lr.R = ec
				ec.br = bufio.NewReaderSize(&ec.lr, 4096)
				return ec, false, nil
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		}
		if time.Since(c.lastUsed) > enclaveIdleTimeout || !idleAlive(c.Conn) {
			p.discard(c)
			continue
		}
		return c, true, nil
	}
}

// put returns a connection whose exchange ended cleanly.
func (p *enclavePool) put(c *enclaveConn) {
	c.lastUsed = time.Now()
	c.SetDeadline(time.Time{})
	p.idle <- c // never blocks: at most enclaveConns connections exist
}

// discard closes a connection and frees its slot.
func (p *enclavePool) discard(c *enclaveConn) {
	c.Close()
	<-p.slots
}

// errBeforeAnswer: the request failed before any byte of an answer came.
var errBeforeAnswer = errors.New("connection closed before an answer")

// roundTrip sends one request and reads its answer's head; the caller
// reads the body (at most bodyLimit bytes) and calls done with whether it
// read it to its end. A GET (/v1/health, which changes nothing) that finds
// a reused connection closed before any byte of an answer (the enclave
// closed it idle, or restarted) is sent once more on a new connection. A
// POST never is: it may have been received and carried out (a wallet
// created, a transfer signed) before the connection broke, and the parent
// would then act twice on one request; CreateWallet would be made safe by
// the store's one-wallet rule, but is not resent blindly either.
func (p *enclavePool) roundTrip(ctx context.Context, method, path string, body []byte, bodyLimit int64) (*http.Response, func(ok bool), error) {
	resp, done, err := p.try(ctx, method, path, body, bodyLimit, false)
	if errors.Is(err, errBeforeAnswer) && method == http.MethodGet && ctx.Err() == nil {
		resp, done, err = p.try(ctx, method, path, body, bodyLimit, true)
	}
	return resp, done, err
}

func (p *enclavePool) try(ctx context.Context, method, path string, body []byte, bodyLimit int64, fresh bool) (*http.Response, func(ok bool), error) {
	c, reused, err := p.get(ctx, fresh)
	if err != nil {
		return nil, nil, err
	}
	// The context's deadline is the connection's; its cancellation cuts
	// the exchange short through the deadline.
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	} else {
		c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, func(bool), error) {
		stop()
		p.discard(c)
		// Say why the exchange was cut: the context, whose deadline is the
		// connection's (the socket's timer may fire before the context's).
		var ne net.Error
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		} else if d, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(d) {
			err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
		}
		return nil, nil, err
	}
	before := c.reads
	c.buf = appendRequest(c.buf[:0], method, path, p.host, body)
	if _, err := c.Write(c.buf); err != nil {
		if reused {
			err = fmt.Errorf("%w: %v", errBeforeAnswer, err)
		}
		return fail(err)
	}
	c.lr.N = maxAnswerHead
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		if reused && c.reads == before && c.br.Buffered() == 0 {
			err = fmt.Errorf("%w: %v", errBeforeAnswer, err)
		}
		return fail(err)
	}
	// The body may read what is buffered and bodyLimit+1 bytes more: the
	// caller's readers refuse more than bodyLimit.
	c.lr.N = bodyLimit + 1
	done := func(ok bool) {
		if !stop() {
			ok = false // the context ended: the deadline was cut
		}
		// Reused only after a final answer read to its end, within its
		// Content-Length, with nothing after it, that does not close.
		if ok && resp.StatusCode >= 200 && !resp.Close && resp.ContentLength >= 0 && c.br.Buffered() == 0 {
			var one [1]byte
			if n, err := resp.Body.Read(one[:]); n == 0 && err == io.EOF {
				p.put(c)
				return
			}
		}
		p.discard(c)
	}
	return resp, done, nil
}

// appendRequest writes a request as net/http's client wrote it for the
// enclave: HTTP/1.1, the Host of the enclave's address, a JSON body with
// its Content-Length (none for a GET without body).
func appendRequest(b []byte, method, path, host string, body []byte) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nContent-Type: application/json\r\n"...)
	if len(body) > 0 || method != http.MethodGet {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// idleAlive peeks, without waiting, at an idle pooled connection (one
// recvfrom with MSG_PEEK|MSG_DONTWAIT; TCP and vsock both take it):
// nothing pending means it can carry a request. EOF (the enclave restarted,
// shut down, or closed it to make room: enclave/httpserver.go) or bytes
// nobody asked for (which would be read as the next request's answer) mean
// it cannot, and it is dropped before anything is written to it, so even a
// POST, which is never sent twice, goes out on a fresh connection instead
// of failing. A close that arrives after this check still fails the call.
func idleAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var perr error
	if err := rc.Read(func(fd uintptr) bool {
		var b [1]byte
		// A byte (n 1) or EOF (n 0) come with no error; only "nothing
		// yet" (EAGAIN) means alive and quiet.
		_, _, perr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true
	}); err != nil {
		return false
	}
	return errors.Is(perr, unix.EAGAIN)
}
