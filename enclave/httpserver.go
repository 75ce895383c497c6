package enclave

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// The enclave serves its API with its own HTTP/1.1 connection loop
// (httpconn.go) instead of net/http's Server: one goroutine per connection
// that reads each request with net/http's own parser (http.ReadRequest),
// calls the API's http.Handler, and writes the buffered answer in one
// write. net/http's server spends, per request, a background reader
// goroutine, a context watching it, pooled bufio writers and connection
// state hooks, and answers its own refusals in text/plain; this loop does
// none of that and answers every refusal in the API's error shape
// (docs/performance.md, "The lean transport (issue 11)";
// docs/threat-model.md, "Issue 11: the enclave's own HTTP/1.1 loop").

// The server's limits. The timeouts are those the net/http server had.
const (
	readHeaderTimeout = 5 * time.Second  // from the first byte of a request to the end of its head
	readTimeout       = 10 * time.Second // from the first byte of a request to the end of its body
	writeTimeout      = 15 * time.Second // from the end of a head to the end of its answer
	idleTimeout       = 60 * time.Second // between two requests on one connection

	// maxConns bounds the connections served at once. The enclave has one
	// client, its parent, whose pool holds at most 16 connections
	// (parent.enclaveConns); 64 leaves room for a parent restarting while
	// its old connections wind down, a second client such as
	// `autowallet verify` or a health probe, and pipelined tests, while
	// bounding what a host flooding the vsock port can make the enclave
	// hold: 64 goroutines, each with a 4 KiB read buffer, at most 12 KiB of
	// head and a 16 KiB body. At the bound, Serve accepts one more
	// connection and closes the longest idle one to make room (so idle
	// kept-alive connections cannot lock the parent out); the rest wait in
	// the kernel's accept queue, costing the enclave nothing.
	maxConns = 64

	// refusalLinger bounds how long a connection the server closes is
	// kept to read (and drop) what the client still sends, so that the
	// client reads the last answer rather than a reset (net/http waits
	// 500 ms likewise, without reading).
	refusalLinger = 500 * time.Millisecond
)

// Server is the enclave's HTTP/1.1 server (NewServer). Close and Shutdown
// stop it; Serve runs it on a listener.
type Server struct {
	// Handler answers every request the loop has read and checked
	// (NewServer: Handler(s, log)); set it before Serve.
	Handler http.Handler

	log *slog.Logger

	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	slots                                                     chan struct{} // one per connection served
	idled                                                     chan struct{} // a connection went idle (for a connection waiting at the bound)

	mu        sync.Mutex
	done      chan struct{} // closed by Close or Shutdown
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	wg        sync.WaitGroup // the connections' goroutines
}

// connState is where a connection is between requests, for Shutdown.
type connState int

const (
	stateIdle   connState = iota // waiting for a request's first byte (a new connection too)
	stateActive                  // reading a request, running the handler or answering
	stateClosed                  // closed by Shutdown or Close while idle: serve nothing more
)

// NewServer serves Handler(s, log) with the enclave's own HTTP/1.1 loop and
// the limits above: a slow or stuck client cannot hold a connection open
// for long, nor more than maxConns of them.
func NewServer(s *Signer, log *slog.Logger) *Server {
	return newServer(Handler(s, log), log)
}

func newServer(h http.Handler, log *slog.Logger) *Server {
	return &Server{
		Handler: h, log: log,
		readHeaderTimeout: readHeaderTimeout, readTimeout: readTimeout, writeTimeout: writeTimeout, idleTimeout: idleTimeout,
		slots:     make(chan struct{}, maxConns),
		idled:     make(chan struct{}, 1),
		done:      make(chan struct{}),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*serverConn]struct{}{},
	}
}

// Serve runs the API on l until the server is shut down (then it returns
// nil) or l fails for good.
func Serve(srv *Server, l net.Listener) error { return srv.Serve(l) }

// Serve accepts connections on l, each served by its own goroutine, at
// most maxConns at once. It returns nil after Close or Shutdown.
func (srv *Server) Serve(l net.Listener) error {
	srv.mu.Lock()
	if srv.closing() {
		srv.mu.Unlock()
		l.Close()
		return nil
	}
	srv.listeners[l] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, l)
		srv.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		// A slot first, then Accept. At the bound (maxConns) the next
		// connection is still accepted, and the connection idle the
		// longest is closed to make room for it: otherwise 64 kept-alive
		// connections that each send a request once a minute (any process
		// on the host can connect) would hold every slot and lock the
		// parent out for as long as they liked. Connections busy with a
		// request are never closed for this; if all are busy, the accepted
		// one waits for a slot (so at most maxConns+1 are open).
		atBound := false
		select {
		case srv.slots <- struct{}{}:
		case <-srv.done:
			return nil
		default:
			atBound = true
		}
		c, err := l.Accept()
		if err == nil && atBound {
			select {
			case srv.slots <- struct{}{}: // one was freed meanwhile
			default:
				// Every slot is taken: close the longest idle one and
				// wait for its slot; if every one was busy, close the
				// first that turns idle. One close at a time: the
				// closed connection's goroutine frees its slot.
				closing := srv.closeOldestIdle()
			wait:
				for {
					select {
					case srv.slots <- struct{}{}:
						break wait
					case <-srv.idled:
						if !closing {
							closing = srv.closeOldestIdle()
						}
					case <-srv.done:
						c.Close()
						return nil
					}
				}
			}
		}
		if err != nil {
			if !atBound {
				<-srv.slots
			}
			if srv.closing() {
				return nil
			}
			// A temporary failure (out of file descriptors) is waited
			// out as net/http does, up to a second between tries.
			if ne, ok := err.(interface{ Temporary() bool }); ok && ne.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
				case <-srv.done:
					return nil
				}
				continue
			}
			return err
		}
		backoff = 0
		sc := newServerConn(srv, c)
		srv.mu.Lock()
		if srv.closing() {
			srv.mu.Unlock()
			c.Close()
			<-srv.slots
			return nil
		}
		srv.conns[sc] = struct{}{}
		// Added under mu while not closing, so every Add precedes
		// Shutdown's Wait.
		srv.wg.Add(1)
		srv.mu.Unlock()
		go sc.serve()
	}
}

// closing reports whether Close or Shutdown was called.
func (srv *Server) closing() bool {
	select {
	case <-srv.done:
		return true
	default:
		return false
	}
}

// stop marks the server closing and closes its listeners; with all, every
// connection too, else only the idle ones (mu held).
func (srv *Server) stop(all bool) error {
	if !srv.closing() {
		close(srv.done)
	}
	var errs []error
	for l := range srv.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for c := range srv.conns {
		if all || c.state == stateIdle {
			c.state = stateClosed
			c.rwc.Close()
		}
	}
	return errors.Join(errs...)
}

// Close stops accepting and closes every connection at once, a request in
// flight included (its handler runs to its end; its answer is lost).
func (srv *Server) Close() error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.stop(true)
}

// Shutdown stops accepting, closes the idle connections and waits until
// every request in flight is answered (each answer then says Connection:
// close and its connection is closed), or until ctx ends: then it returns
// ctx's error and leaves the rest to Close.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	err := srv.stop(false)
	srv.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setActive moves c from idle to active when a request's first byte has
// come; false if Shutdown closed it meanwhile (the request is then not
// served: its connection is already closed).
func (srv *Server) setActive(c *serverConn) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if c.state == stateClosed {
		return false
	}
	c.state = stateActive
	return true
}

// setIdle moves c back to idle after an answer; false if the server is
// shutting down (c is then closed).
func (srv *Server) setIdle(c *serverConn) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closing() {
		return false
	}
	c.state = stateIdle
	c.idleSince = time.Now()
	select {
	case srv.idled <- struct{}{}:
	default:
	}
	return true
}

// closeOldestIdle closes the connection that has waited longest for its
// next request and reports whether there was one (none if every
// connection is busy with a request). Its goroutine sees the close, ends
// and frees its slot.
func (srv *Server) closeOldestIdle() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var oldest *serverConn
	for c := range srv.conns {
		if c.state == stateIdle && (oldest == nil || c.idleSince.Before(oldest.idleSince)) {
			oldest = c
		}
	}
	if oldest == nil {
		return false
	}
	oldest.state = stateClosed
	oldest.rwc.Close()
	return true
}

// forget removes c when its goroutine ends.
func (srv *Server) forget(c *serverConn) {
	srv.mu.Lock()
	delete(srv.conns, c)
	srv.mu.Unlock()
	<-srv.slots
	srv.wg.Done()
}
