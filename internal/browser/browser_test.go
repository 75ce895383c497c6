package browser

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPageLoadsAndScreenshot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>t</title><p id="p">hello from 127.0.0.1</p>`+
			`<button id="b" onclick="this.textContent='clicked'">click me</button><p id="gone" hidden>x</p>`)
	}))
	defer srv.Close()

	ctx := New(t)
	Navigate(t, ctx, srv.URL)
	if got := Text(t, ctx, "#p"); got != "hello from 127.0.0.1" {
		t.Fatalf("text %q", got)
	}
	if !Visible(t, ctx, "#b") || Visible(t, ctx, "#gone") || !Exists(t, ctx, "#gone") || Exists(t, ctx, "#none") {
		t.Fatal("Visible or Exists is wrong")
	}
	Click(t, ctx, "#b")
	Wait(t, ctx, `document.querySelector("#b").textContent === "clicked"`)
	if n := Eval[int](t, ctx, `Promise.resolve(40 + 2)`); n != 42 {
		t.Fatalf("eval %d", n)
	}

	p, err := Screenshot(ctx, "browser-smoke.png")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(ArtifactsDir, "browser-smoke.png"); p != want {
		t.Fatalf("path %q, want %q", p, want)
	}
	png, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG", p)
	}
	ignore, err := os.ReadFile(filepath.Join(ArtifactsDir, ".gitignore"))
	if err != nil || !strings.Contains(string(ignore), "*") {
		t.Fatalf("artifacts are not git-ignored: %q, %v", ignore, err)
	}

	// A second tab of the same browser sees the same server.
	tab := NewTab(t, ctx)
	Navigate(t, tab, srv.URL)
	if got := Text(t, tab, "#p"); got != "hello from 127.0.0.1" {
		t.Fatalf("tab text %q", got)
	}
}

// Test browsers resolve no name but localhost, so a page under test can never
// reach the internet, with or without a network.
func TestNoInternet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>t</title>`)
	}))
	defer srv.Close()
	ctx := New(t)
	Navigate(t, ctx, srv.URL)
	res := Eval[string](t, ctx, `fetch("https://telegram.org/js/telegram-web-app.js", {mode: "no-cors"}).then(() => "reached", e => "refused: " + e)`)
	if !strings.HasPrefix(res, "refused") {
		t.Fatalf("a test page reached the internet: %s", res)
	}
}

func TestPathErrorSaysMakeTools(t *testing.T) {
	t.Setenv(EnvChromium, filepath.Join(t.TempDir(), "no-such-chromium"))
	if _, err := Path(); err == nil {
		t.Fatal("a missing binary was accepted")
	}
	t.Setenv(EnvChromium, "")
	t.Setenv("PATH", t.TempDir())
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		if p, err := Path(); err != nil || p != "/usr/bin/chromium" {
			t.Fatalf("%q, %v", p, err)
		}
		return
	}
	if _, err := Path(); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("error %v does not say to run make tools", err)
	}
}
