// Package miniapp holds the Telegram Mini App page where a wallet user reviews
// and approves (or cancels) one transfer: static, self-contained files
// (static/) embedded in the binary, and an http.Handler that serves them under
// /miniapp/ with a strict Content-Security-Policy.
//
// The page is the user's trusted display (docs/miniapp.md): it decodes the
// transfer intent from Telegram's start_param itself and shows exactly what
// the enclave will sign. In production the same files are served from an
// origin the host does not control; their SHA-256 hashes are published in
// docs/miniapp.md.
package miniapp

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Prefix is the path the page is served under; the parent's API lives under
// Prefix + "api/".
const Prefix = "/miniapp/"

//go:embed static/index.html static/app.js static/intent.js static/style.css static/wallet.js static/receive.js static/qrcode.js
var static embed.FS

// Files returns the page's files by name (index.html, app.js, intent.js,
// wallet.js, receive.js, qrcode.js, style.css), as embedded. Callers must
// not modify the slices.
func Files() map[string][]byte {
	out := make(map[string][]byte)
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := static.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		out[e.Name()] = b
	}
	return out
}

// FileNames returns the names of the page's files, sorted.
func FileNames() []string {
	var names []string
	for name := range Files() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Option configures Handler.
type Option func(*config)

type config struct {
	apiOrigins     []string
	frameAncestors []string
	configJSON     []byte // config.json, when an identity key is given
}

// WithAPIOrigin allows the page to call the API at origin (scheme://host[:port])
// besides its own origin: the value of the page's ?api= parameter. It is added
// to the policy's connect-src. An origin that does not parse as such panics,
// so a misconfiguration shows at start-up.
func WithAPIOrigin(origin string) Option {
	o := mustOrigin(origin)
	return func(c *config) { c.apiOrigins = append(c.apiOrigins, o) }
}

// WithFrameAncestors restricts which pages may embed the Mini App in a frame
// (CSP frame-ancestors), e.g. "'self'", "https://web.telegram.org". Without
// it any page may frame it, as Telegram Web and the dev emulator do.
func WithFrameAncestors(sources ...string) Option {
	return func(c *config) { c.frameAncestors = append(c.frameAncestors, sources...) }
}

func mustOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" ||
		strings.ContainsAny(origin, " ;,'\"") {
		panic(fmt.Sprintf("miniapp: %q is not an origin (scheme://host[:port])", origin))
	}
	return u.Scheme + "://" + u.Host
}

// ContentSecurityPolicy returns the policy Handler sends with every file.
// Scripts come only from the page's origin and telegram.org (its
// telegram-web-app.js); no inline script or style; fetches go only to the
// page's origin and the configured API origins.
func ContentSecurityPolicy(opts ...Option) string {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c.csp()
}

func (c *config) csp() string {
	connect := append([]string{"'self'"}, c.apiOrigins...)
	parts := []string{
		"default-src 'none'",
		"script-src 'self' https://telegram.org",
		"style-src 'self'",
		"img-src 'self' data:",
		"font-src 'self'",
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'none'",
	}
	if len(c.frameAncestors) > 0 {
		parts = append(parts, "frame-ancestors "+strings.Join(c.frameAncestors, " "))
	}
	return strings.Join(parts, "; ")
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

type handler struct {
	files map[string]file
	csp   string
}

// Handler serves the page's files under /miniapp/ (index.html at /miniapp/
// and /miniapp/index.html). Mount it on a mux as "/miniapp/" beside the
// parent's "/miniapp/api/" routes, which are more specific and so win.
func Handler(opts ...Option) http.Handler {
	var c config
	for _, o := range opts {
		o(&c)
	}
	h := &handler{files: make(map[string]file), csp: c.csp()}
	files := Files()
	if c.configJSON != nil {
		files[ConfigFile] = c.configJSON
	}
	for name, body := range files {
		sum := sha256.Sum256(body)
		h.files[name] = file{body: body, contentType: contentType(name), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	return h
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		hdr.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[name]
	if !ok {
		hdr.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		hdr.Set("Cache-Control", "no-store")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// The page decides what a user approves: always revalidate, so a fixed
	// page reaches every user at once.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	hdr.Set("Content-Type", f.contentType)
	if match := r.Header.Get("If-None-Match"); match != "" && match == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", fmt.Sprint(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(f.body)
	}
}
