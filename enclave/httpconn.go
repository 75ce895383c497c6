package enclave

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/autowallet/autowallet/protocol"
)

// serverConn is one connection of Server: one goroutine reads its requests
// one after another (pipelined ones included) and answers each before
// reading the next.
type serverConn struct {
	srv       *Server
	rwc       net.Conn
	r         headReader
	br        *bufio.Reader
	state     connState // guarded by srv.mu
	out       []byte    // the answer being written, reused
	remote    string    // the client's address, for r.RemoteAddr
	idleSince time.Time // guarded by srv.mu
}

func newServerConn(srv *Server, c net.Conn) *serverConn {
	sc := &serverConn{srv: srv, rwc: c, remote: c.RemoteAddr().String(), idleSince: time.Now()}
	sc.r.conn = c
	sc.br = bufio.NewReaderSize(&sc.r, 4096)
	return sc
}

// headReader is the connection as the bufio.Reader sees it. While a head
// is read it lets at most protocol.MaxHeaderBytes bytes of head through,
// counting the bytes already buffered from before (a pipelined request),
// and keeps a copy of them, so that the head can be checked as it was sent
// (scanHead). It then reads like net/http's connReader: reaching the limit
// is an EOF to the parser, and the refusal is too_large.
type headReader struct {
	conn      net.Conn
	inHead    bool
	remaining int    // bytes the head may still read from the wire
	rec       []byte // the bytes read since the head began, buffered ones first
	err       error  // the connection's last read error in the head
}

func (r *headReader) Read(p []byte) (int, error) {
	if !r.inHead {
		return r.conn.Read(p)
	}
	if r.remaining <= 0 {
		return 0, io.EOF
	}
	if len(p) > r.remaining {
		p = p[:r.remaining]
	}
	n, err := r.conn.Read(p)
	r.remaining -= n
	r.rec = append(r.rec, p[:n]...)
	if err != nil {
		r.err = err
	}
	return n, err
}

// startHead begins a head with the bytes br already holds.
func (c *serverConn) startHead() {
	buffered, _ := c.br.Peek(c.br.Buffered())
	c.r.rec = append(c.r.rec[:0], buffered...)
	c.r.remaining = protocol.MaxHeaderBytes - len(buffered)
	c.r.inHead, c.r.err = true, nil
}

// endHead ends a head: it returns the bytes the parser consumed (the head
// exactly as sent) and whether the limit was reached.
func (c *serverConn) endHead() (head []byte, hit bool) {
	c.r.inHead = false
	n := len(c.r.rec) - c.br.Buffered()
	if n < 0 {
		n = 0
	}
	return c.r.rec[:n], c.r.remaining <= 0
}

// serve is the connection's goroutine.
func (c *serverConn) serve() {
	defer func() {
		// A panic outside the handler's own recovery (logAndRecover) ends
		// this connection only. Its value could hold request data: it is
		// not logged.
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			c.srv.log.Error("enclave connection panicked; connection closed")
		}
		c.rwc.Close()
		c.srv.forget(c)
		// The head copy of a refused request was not wiped on its path
		// (serveRequest wipes it only after a head it accepted). bufio's
		// own buffer, which may hold a body's first bytes, cannot be
		// cleared from outside; it is dropped with the connection
		// (enclave memory, which the host cannot read; the wipes are
		// defence in depth, as for protocol.DecodeJSON's buffer).
		clear(c.r.rec)
	}()
	// A new connection has ReadHeaderTimeout to send its first head; a
	// kept-alive one IdleTimeout for the first byte of the next, then
	// ReadHeaderTimeout for the rest of that head.
	c.rwc.SetReadDeadline(time.Now().Add(c.srv.readHeaderTimeout))
	first := true
	for {
		c.startHead()
		if c.br.Buffered() == 0 {
			// Idle until a request's first byte (unless it is already
			// buffered: pipelined).
			if !first {
				c.rwc.SetReadDeadline(time.Now().Add(c.srv.idleTimeout))
			}
			if _, err := c.br.Peek(1); err != nil {
				return // closed, timed out, or closed by Shutdown
			}
		}
		if !first {
			// From the next request's first byte (or now, if it came
			// with the one before: pipelined).
			c.rwc.SetReadDeadline(time.Now().Add(c.srv.readHeaderTimeout))
		}
		if !c.srv.setActive(c) {
			return
		}
		first = false
		if !c.serveRequest() {
			return
		}
		if !c.srv.setIdle(c) {
			return
		}
	}
}

// refuse answers a request the loop refuses before any handler runs, in
// the API's error shape, and reports that the connection is to be closed.
// The answer to a HEAD has no body, as any answer to a HEAD.
func (c *serverConn) refuse(req *http.Request, err error) bool {
	w := newResponse()
	w.header.Set("Connection", "close")
	protocol.WriteError(w, err)
	// A client that does not read its refusal cannot hold the connection.
	c.rwc.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout))
	c.writeResponse(w, req != nil && req.Method == http.MethodHead, true)
	c.lingerClose()
	return false
}

var (
	errHeadUnreadable = fmt.Errorf("%w: the request could not be read as HTTP/1.1", protocol.ErrMalformedRequest)
	errHeadTooLarge   = fmt.Errorf("%w: request line and headers are over %d bytes", protocol.ErrTooLarge, protocol.MaxHeaderBytes)
)

// serveRequest reads one request, runs the handler and answers; it reports
// whether the connection can carry another request.
func (c *serverConn) serveRequest() bool {
	t0 := time.Now()
	req, err := http.ReadRequest(c.br)
	head, hit := c.endHead()
	if err != nil {
		switch {
		case hit:
			// net/http's own rule: a parse that failed after reading the
			// whole allowance failed because of it.
			return c.refuse(nil, errHeadTooLarge)
		case isCommonNetReadError(err) || isTimeout(c.r.err):
			// The client went away or stalled (ReadHeaderTimeout): no
			// answer, as net/http. (A head cut mid-line by the timeout
			// reaches the parser as a malformed line: the connection's
			// own error tells.)
			return false
		default:
			return c.refuse(nil, errHeadUnreadable)
		}
	}
	// The pipelined bytes buffered before the head began were not counted
	// on the wire; the head as sent is (rec holds them all).
	if len(head) > protocol.MaxHeaderBytes {
		return c.refuse(req, errHeadTooLarge)
	}
	err = checkRequest(req, head)
	// The copy may hold a body's first bytes (initData): wiped once read,
	// like protocol.DecodeJSON's buffer.
	clear(c.r.rec)
	if err != nil {
		return c.refuse(req, err)
	}
	// The whole request within ReadTimeout of its start; its answer
	// within WriteTimeout of the head's end (net/http's rules).
	c.rwc.SetReadDeadline(t0.Add(c.srv.readTimeout))
	c.rwc.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout))

	body := req.Body
	cont := &continueReader{ReadCloser: body, conn: c.rwc}
	if expects100(req) {
		// The client waits for "100 Continue" before it sends the body:
		// send it when (if) the handler reads the body (none to wait
		// for if the body is empty).
		if req.ContentLength != 0 {
			cont.used = true
			req.Body = cont
		}
	} else if len(req.Header["Expect"]) > 0 {
		// Any other expectation is refused (net/http answered 417, which
		// the API answered as malformed_request).
		return c.refuse(req, fmt.Errorf("%w: an Expect header other than 100-continue", protocol.ErrMalformedRequest))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // the request's context ends with its answer
	req = req.WithContext(ctx)
	req.RemoteAddr = c.remote

	w := newResponse()
	c.srv.Handler.ServeHTTP(w, req)

	// Keep the connection only if the next request starts exactly where
	// this body ended: the body was read to its end (or the rest of it,
	// at most MaxRequestBody bytes within ReadTimeout, can be), and
	// neither side asked to close.
	keep := !req.Close && !w.wantsClose() && !c.srv.closing()
	if keep && cont.waiting() {
		// The client may or may not send the body it was never asked
		// for: what follows on the connection is ambiguous.
		keep = false
	}
	if keep && !drained(body) {
		keep = false
	}
	err = c.writeResponse(w, req.Method == http.MethodHead, !keep)
	if w.after != nil {
		w.after()
	}
	if err != nil {
		return false
	}
	if !keep {
		c.lingerClose()
	}
	return keep
}

// checkRequest makes the checks net/http's server makes after parsing a
// head that the API relies on, and refuses what the head's framing leaves
// ambiguous, from the head as sent (http.ReadRequest drops the Host line
// and merges or drops Content-Length lines before the caller sees them).
func checkRequest(req *http.Request, head []byte) error {
	// The API speaks HTTP/1.1 only (net/http served HTTP/1.0 and refused
	// other versions with a 505; limitHeaders refused HTTP/1.0 after it).
	if req.ProtoMajor != 1 || req.ProtoMinor != 1 {
		return fmt.Errorf("%w: %s; the API speaks HTTP/1.1 only", protocol.ErrMalformedRequest, req.Proto)
	}
	f := scanHead(head)
	if f.folded {
		// A header continued on the next line (obs-fold) is read as one
		// value by Go and as two by others: refused (RFC 9112, 5.2).
		return fmt.Errorf("%w: a folded header line", protocol.ErrMalformedRequest)
	}
	// HTTP/1.1 needs a Host (net/http's rule); more than one is refused
	// too (net/http took the first).
	if f.hosts > 1 || (req.ProtoAtLeast(1, 1) && f.hosts == 0) {
		return fmt.Errorf("%w: a request needs exactly one Host header", protocol.ErrMalformedRequest)
	}
	if f.hosts == 1 && !httpguts.ValidHostHeader(f.host) {
		return fmt.Errorf("%w: malformed Host header", protocol.ErrMalformedRequest)
	}
	// Request smuggling: a body's length must have one reading. Two
	// Content-Length lines (net/http merged equal ones), or Content-Length
	// beside Transfer-Encoding (net/http let chunked win), are refused
	// (RFC 9112, 6.3); http.ReadRequest refuses a Transfer-Encoding other
	// than one "chunked" and a Content-Length that is not a number.
	if f.contentLengths > 1 {
		return fmt.Errorf("%w: more than one Content-Length", protocol.ErrMalformedRequest)
	}
	if f.contentLengths > 0 && f.transferEncodings > 0 {
		return fmt.Errorf("%w: both Content-Length and Transfer-Encoding", protocol.ErrMalformedRequest)
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("%w: invalid header name", protocol.ErrMalformedRequest)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("%w: invalid header value", protocol.ErrMalformedRequest)
			}
		}
	}
	return nil
}

// headFacts is what scanHead finds in a head as sent.
type headFacts struct {
	hosts, contentLengths, transferEncodings int
	host                                     string // the first Host value
	folded                                   bool
}

// scanHead counts the header lines that decide a request's host and body
// framing in a head http.ReadRequest has already parsed (so every line is
// "name: value", CRLF or LF ended, up to an empty line).
func scanHead(head []byte) headFacts {
	var f headFacts
	_, rest, _ := bytes.Cut(head, []byte("\n")) // the request line
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			f.folded = true
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case asciiEqualFold(name, "host"):
			if f.hosts == 0 {
				f.host = string(bytes.Trim(value, " \t"))
			}
			f.hosts++
		case asciiEqualFold(name, "content-length"):
			f.contentLengths++
		case asciiEqualFold(name, "transfer-encoding"):
			f.transferEncodings++
		}
	}
	return f
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x := b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != s[i] {
			return false
		}
	}
	return true
}

// expects100 is net/http's test for "Expect: 100-continue" (the first
// Expect value holds the token).
func expects100(req *http.Request) bool {
	vs := req.Header["Expect"]
	return len(vs) > 0 && httpguts.HeaderValuesContainsToken(vs[:1], "100-continue") && req.ProtoAtLeast(1, 1)
}

// continueReader sends "100 Continue" before the body's first read.
type continueReader struct {
	io.ReadCloser
	conn net.Conn
	sent bool
	used bool // installed as the request's body
}

func (r *continueReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		if _, err := io.WriteString(r.conn, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return 0, err
		}
	}
	return r.ReadCloser.Read(p)
}

// waiting reports that the client was told nothing about its body.
func (r *continueReader) waiting() bool { return r.used && !r.sent }

// drained reports whether body is read to its end, reading (and dropping)
// what the handler left of it, at most protocol.MaxRequestBody bytes
// within the read deadline.
func drained(body io.Reader) bool {
	n, err := io.CopyN(io.Discard, body, protocol.MaxRequestBody+1)
	return err == io.EOF && n <= protocol.MaxRequestBody
}

// lingerClose half-closes the connection and reads (and drops) what the
// client still sends, until it closes or for refusalLinger at most, so that
// it reads the answer rather than a reset: closing a socket with unread
// input resets it, and a reset discards the answer the client has not read
// yet (a client still writing an 8 MiB body, hostile.TestHostileParent).
// Bounded by time, not bytes: whatever the client sends in that time is
// dropped unread.
func (c *serverConn) lingerClose() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.rwc.SetReadDeadline(time.Now().Add(refusalLinger))
	io.Copy(io.Discard, c.rwc)
}

// isCommonNetReadError is net/http's: a read that ended because the client
// went away or stalled, which gets no answer.
func isCommonNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// httpDate is the Date header's value, formatted once a second.
func httpDate() string {
	now := time.Now().Unix()
	if d := lastDate.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &dateText{unix: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.text
}

type dateText struct {
	unix int64
	text string
}

var lastDate atomic.Pointer[dateText]

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// response is the http.ResponseWriter of one request: the answer is
// buffered and written in one write after the handler returns, with its
// Content-Length.
type response struct {
	header http.Header
	status int
	body   []byte
	after  func() // run once the answer is written (or failed to be): the request's log line
}

// afterAnswer sets what runs once the answer has been written.
func (w *response) afterAnswer(fn func()) { w.after = fn }

func newResponse() *response { return &response{header: make(http.Header, 4)} }

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.status != 0 {
		return // the first status stands, as in net/http
	}
	if code < 200 || code > 999 {
		// No handler of the API sends an informational answer; one
		// would break the framing of this one.
		code = http.StatusInternalServerError
	}
	w.status = code
}

func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// wantsClose: the handler asked to close the connection after its answer.
func (w *response) wantsClose() bool {
	return httpguts.HeaderValuesContainsToken(w.header["Connection"], "close")
}

// writeResponse writes w's status line, its headers sorted by name with
// Content-Length and Date, and its body (not for HEAD), in one write.
func (c *serverConn) writeResponse(w *response, head, closing bool) error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	h := w.header
	delete(h, "Content-Length")
	delete(h, "Transfer-Encoding")
	h["Content-Length"] = []string{strconv.Itoa(len(w.body))}
	h["Date"] = []string{httpDate()}
	if closing {
		h["Connection"] = []string{"close"}
	}
	b := c.out[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	b = appendSortedHeader(b, h)
	b = append(b, "\r\n"...)
	if !head {
		b = append(b, w.body...)
	}
	c.out = b
	if cap(c.out) > 64<<10 {
		c.out = nil // do not keep a rare large answer's buffer
	}
	_, err := c.rwc.Write(b)
	return err
}

// appendSortedHeader appends h's lines sorted by name, as net/http writes a
// handler's headers; a CR or LF in a value becomes a space, as net/http
// does, so no value can add a line.
func appendSortedHeader(b []byte, h http.Header) []byte {
	var arr [8]string
	keys := arr[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			for i := 0; i < len(v); i++ {
				ch := v[i]
				if ch == '\r' || ch == '\n' {
					ch = ' '
				}
				b = append(b, ch)
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}
