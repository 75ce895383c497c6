// Package lbproxy is a small round-robin HTTP proxy that stands in, in tests
// and `make load`, for the load balancer in front of several parents: each
// request goes to the next backend; a backend that refuses the connection
// is skipped for that request and the next one is tried, as a load balancer
// routes around a target it finds unhealthy. It counts requests per backend.
//
// It is a test tool, not a production proxy: it listens on 127.0.0.1 only,
// buffers each request body (bounded) so it can be resent, and adds no
// X-Forwarded-* headers.
package lbproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// MaxBody bounds a request body the proxy buffers (Telegram's updates are
// far smaller).
const MaxBody = 1 << 20

// Counts are one backend's numbers.
type Counts struct {
	Backend   string
	Forwarded int // requests it answered (any status)
	Refused   int // requests it refused the connection for (tried the next)
	Failed    int // requests that failed otherwise (timeout, reset): 502/504
}

// Proxy is a running round-robin proxy.
type Proxy struct {
	backends []*url.URL
	client   *http.Client
	srv      *http.Server
	ln       net.Listener

	mu     sync.Mutex
	next   int
	counts []Counts
	down   []bool
}

// Start listens on 127.0.0.1 (a free port) and forwards to backends
// ("http://127.0.0.1:port"); timeout bounds one forwarded request.
func Start(backends []string, timeout time.Duration) (*Proxy, error) {
	if len(backends) == 0 {
		return nil, errors.New("lbproxy: no backends")
	}
	p := &Proxy{counts: make([]Counts, len(backends)), down: make([]bool, len(backends))}
	for i, b := range backends {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("lbproxy: backend %q is not an http URL", b)
		}
		p.backends = append(p.backends, u)
		p.counts[i].Backend = b
	}
	p.client = &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.ln = ln
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the proxy's base URL, http://127.0.0.1:port.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		return p.srv.Close()
	}
	return nil
}

// Counts returns the per-backend counts, in the order of the backends.
func (p *Proxy) Counts() []Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Counts(nil), p.counts...)
}

// SetDown takes backend i out of the rotation (true) or puts it back, as
// a load balancer's health check would.
func (p *Proxy) SetDown(i int, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down[i] = down
}

// start returns where this request's turn in the rotation begins.
func (p *Proxy) start() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.next
	p.next = (p.next + 1) % len(p.backends)
	return i
}

func (p *Proxy) isDown(i int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down[i]
}

func (p *Proxy) count(i int, f func(*Counts)) {
	p.mu.Lock()
	f(&p.counts[i])
	p.mu.Unlock()
}

// ServeHTTP forwards r to the next backend, trying the others in turn when
// one refuses the connection (at most one attempt per backend).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	first := p.start()
	for k := range p.backends {
		i := (first + k) % len(p.backends)
		if p.isDown(i) {
			continue
		}
		target := *p.backends[i]
		target.Path = joinPath(target.Path, r.URL.Path)
		target.RawQuery = r.URL.RawQuery
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		req.Header = r.Header.Clone()
		req.Header.Del("Connection")
		resp, err := p.client.Do(req)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				p.count(i, func(c *Counts) { c.Refused++ })
				continue
			}
			p.count(i, func(c *Counts) { c.Failed++ })
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
				return
			}
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		p.count(i, func(c *Counts) { c.Forwarded++ })
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		return
	}
	// Every backend refused or is down: what a load balancer with no
	// healthy target answers.
	http.Error(w, "no healthy backend", http.StatusServiceUnavailable)
}

func joinPath(base, p string) string {
	if base == "" || base == "/" {
		return p
	}
	if len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	return base + p
}
