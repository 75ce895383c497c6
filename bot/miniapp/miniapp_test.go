package miniapp

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the file hashes in docs/miniapp.md")

const docsPath = "../../docs/miniapp.md"

func TestFilesAreEmbedded(t *testing.T) {
	want := []string{"app.js", "index.html", "intent.js", "qrcode.js", "receive.js", "style.css", "wallet.js"}
	if got := FileNames(); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	for name, body := range Files() {
		if len(body) == 0 {
			t.Fatalf("%s is empty", name)
		}
	}
}

// The page loads nothing from outside its own origin except Telegram's
// telegram-web-app.js: no CDN, no font, no image, no analytics.
func TestNoExternalURLs(t *testing.T) {
	allowed := map[string]bool{
		"https://telegram.org/js/telegram-web-app.js": true, // the script tag
		"https://telegram.org":                        true, // script-src in the meta policy
		"http://127.0.0.1:*":                          true, // connect-src for a loopback ?api= in dev
		"http://localhost:*":                          true,
	}
	urlRE := regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>()\x60;,]*`)
	protoRelRE := regexp.MustCompile(`(?i)(?:src|href|action|url)\s*[=(]\s*["']?//`)
	for name, body := range Files() {
		text := string(body)
		for _, u := range urlRE.FindAllString(text, -1) {
			// The vendored QR encoder, unmodified, names URLs in its comments
			// and the SVG namespace; the page never uses its SVG/img output.
			if !allowed[u] && !(name == "qrcode.js" && vendoredURLs[u]) {
				t.Errorf("%s references %q", name, u)
			}
		}
		if protoRelRE.MatchString(text) {
			t.Errorf("%s has a protocol-relative reference", name)
		}
		for _, bad := range []string{"@import", "import(", "importScripts", "eval(", "new Function", "document.write", "innerHTML", "insertAdjacentHTML"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
	if n := strings.Count(string(Files()["index.html"]), "https://telegram.org/js/telegram-web-app.js"); n != 1 {
		t.Errorf("index.html loads telegram-web-app.js %d times", n)
	}
}

var vendoredURLs = map[string]bool{
	"http://www.d-project.com/":                                                            true,
	"http://www.opensource.org/licenses/mit-license.php":                                   true,
	"http://www.denso-wave.com/qrcode/faqpatent-e.html":                                    true,
	"http://www.w3.org/2000/svg":                                                           true,
	"http://stackoverflow.com/questions/18729405/how-to-convert-utf8-string-to-byte-array": true,
}

// qrcode.js is qrcode-generator 1.4.4's package/qrcode.js from npm,
// unmodified (docs/miniapp.md records it), with its license beside it.
func TestVendoredQRCode(t *testing.T) {
	sum := sha256.Sum256(Files()["qrcode.js"])
	if got := hex.EncodeToString(sum[:]); got != "18ae399f81182bc9de916e9c77b195df20cc58d6f2d55a62b085a299f1bf1780" {
		t.Errorf("qrcode.js has SHA-256 %s, not qrcode-generator 1.4.4's", got)
	}
	lic, err := os.ReadFile("static/qrcode.js.LICENSE")
	if err != nil || !strings.Contains(string(lic), "Copyright (c) 2009 Kazuhiko Arase") || !strings.Contains(string(lic), "Permission is hereby granted") {
		t.Errorf("static/qrcode.js.LICENSE: %v", err)
	}
	doc, err := os.ReadFile(docsPath)
	if err != nil || !strings.Contains(string(doc), "qrcode-generator") || !strings.Contains(string(doc), "1.4.4") || !strings.Contains(string(doc), hex.EncodeToString(sum[:])) {
		t.Errorf("%s does not record qrcode-generator 1.4.4 and its SHA-256", docsPath)
	}
}

// No inline script or style in the markup: the policy forbids them, so the
// page must not need them.
func TestNoInlineScriptOrStyle(t *testing.T) {
	html := string(Files()["index.html"])
	for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(html, -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script: %s", m[0])
		}
	}
	if regexp.MustCompile(`(?i)<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:`).MatchString(html) {
		t.Error("index.html has an inline style, event handler attribute or javascript: URL")
	}
	for _, src := range regexp.MustCompile(`(?i)\s(?:src|href)="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		// "data:," is the empty icon: the browser then asks the origin for no /favicon.ico.
		if src[1] != "https://telegram.org/js/telegram-web-app.js" && src[1] != "data:," && !regexp.MustCompile(`^[a-z]+\.(js|css)$`).MatchString(src[1]) {
			t.Errorf("index.html references %q", src[1])
		}
	}
	// The test ids the browser tests and other packages rely on.
	for _, id := range []string{"recipient", "amount", "network", "fee", "total", "from", "expiry", "approve", "cancel", "status", "error"} {
		if !strings.Contains(html, `id="`+id+`"`) {
			t.Errorf("index.html has no #%s", id)
		}
	}
}

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerHeaders(t *testing.T) {
	h := Handler(WithAPIOrigin("https://api.example.org"))
	files := Files()
	for path, name := range map[string]string{
		"/miniapp/":           "index.html",
		"/miniapp/index.html": "index.html",
		"/miniapp/app.js":     "app.js",
		"/miniapp/intent.js":  "intent.js",
		"/miniapp/style.css":  "style.css",
	} {
		resp := get(t, h, "GET", path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != string(files[name]) {
			t.Fatalf("%s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self' https://telegram.org;", "style-src 'self';", "connect-src 'self' https://api.example.org;", "base-uri 'none'", "form-action 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: policy %q allows unsafe sources", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
		wantType := map[string]string{"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8", "intent.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}[name]
		if got := resp.Header.Get("Content-Type"); got != wantType {
			t.Errorf("%s: Content-Type %q", path, got)
		}
		// Revalidation answers 304 without a body.
		again := get(t, h, "GET", path, "If-None-Match", resp.Header.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidation %d", path, again.StatusCode)
		}
	}
	for _, path := range []string{"/miniapp/nope.js", "/miniapp/static/app.js", "/miniapp/../go.mod", "/other", "/miniapp/api/approve"} {
		if resp := get(t, h, "GET", path); resp.StatusCode != 404 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	if resp := get(t, h, "POST", "/miniapp/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if resp := get(t, h, "HEAD", "/miniapp/app.js"); resp.StatusCode != 200 {
		t.Errorf("HEAD: %d", resp.StatusCode)
	}
	if csp := ContentSecurityPolicy(); !strings.Contains(csp, "connect-src 'self';") || strings.Contains(csp, "frame-ancestors") {
		t.Errorf("default policy %q", csp)
	}
	if csp := ContentSecurityPolicy(WithFrameAncestors("'self'", "https://web.telegram.org")); !strings.HasSuffix(csp, "; frame-ancestors 'self' https://web.telegram.org") {
		t.Errorf("policy %q", csp)
	}
}

// The handler works mounted beside the parent's API on one mux.
func TestHandlerOnMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler())
	mux.HandleFunc("POST /miniapp/api/approve", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "api") })
	if resp := get(t, mux, "GET", "/miniapp/"); resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	resp := get(t, mux, "POST", "/miniapp/api/approve")
	if body, _ := io.ReadAll(resp.Body); string(body) != "api" {
		t.Fatalf("api: %d %q", resp.StatusCode, body)
	}
}

func TestWithAPIOriginRefusesNonOrigins(t *testing.T) {
	for _, bad := range []string{"", "api.example.org", "ftp://x", "https://x/path", "https://x?q", "https://u@x", "https://x; script-src *", "javascript:alert(1)"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%q was accepted", bad)
				}
			}()
			WithAPIOrigin(bad)
		}()
	}
	for _, good := range []string{"https://api.example.org", "http://127.0.0.1:8080", "https://api.example.org/"} {
		WithAPIOrigin(good)
	}
}

// hashesBlock is the table docs/miniapp.md must hold between its markers.
func hashesBlock() string {
	var b strings.Builder
	b.WriteString("| file | SHA-256 |\n| --- | --- |\n")
	files := Files()
	for _, name := range FileNames() {
		sum := sha256.Sum256(files[name])
		fmt.Fprintf(&b, "| `%s` | `%s` |\n", name, hex.EncodeToString(sum[:]))
	}
	return b.String()
}

const (
	hashesBegin = "<!-- file-hashes:begin (go test ./bot/miniapp -run TestDocsHashes -update-docs) -->\n"
	hashesEnd   = "<!-- file-hashes:end -->"
)

// docs/miniapp.md publishes the SHA-256 of each file, so an auditor can
// compare them with what the production origin serves. This test fails when
// they are stale.
func TestDocsHashes(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i := strings.Index(text, hashesBegin)
	j := strings.Index(text, hashesEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no hash table between %q and %q", docsPath, hashesBegin, hashesEnd)
	}
	got := text[i+len(hashesBegin) : j]
	want := hashesBlock()
	if got == want {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(docsPath, []byte(text[:i+len(hashesBegin)]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", docsPath)
		return
	}
	t.Fatalf("%s has stale file hashes; run go test ./bot/miniapp -run TestDocsHashes -update-docs\nwant:\n%s", docsPath, want)
}
