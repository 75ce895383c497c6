// Package browser starts a headless Chromium for tests, driven with
// github.com/chromedp/chromedp: the Mini App page, the emulator's chat page
// and the end-to-end test use it.
//
//	ctx := browser.New(t)
//	err := chromedp.Do(ctx, chromedp.Navigate(url))
//	amount, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#amount")))
//
// The browser is Debian's chromium (installed by `make tools`); a test that
// cannot find it fails, never skips. Every browser gets its own temporary
// profile, resolves no host name but localhost (tests never reach the
// internet: servers under test listen on 127.0.0.1), and is closed when the
// test ends. Console messages and uncaught exceptions of the page are copied
// to the test log.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Timeouts that bound a test's use of the browser.
const (
	// StartTimeout bounds starting Chromium and opening its first tab.
	StartTimeout = 60 * time.Second
	// Timeout bounds everything done with the context New returns (unless
	// the test's own deadline comes first).
	Timeout = 3 * time.Minute
)

// EnvChromium names an environment variable that may point at the Chromium
// binary to use instead of /usr/bin/chromium or chromium on PATH.
const EnvChromium = "AUTOWALLET_CHROMIUM"

// Flags are the command-line switches every test browser gets (besides a
// temporary --user-data-dir and chromedp's --remote-debugging-port).
var Flags = []string{
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-default-apps",
	"--disable-extensions",
	"--disable-dev-shm-usage",
	"--no-default-browser-check",
	"--mute-audio",
	"--hide-scrollbars",
	// No name resolves but localhost and 127.0.0.1: a test page that tries the internet
	// (telegram.org's script, say) fails at once instead of hanging, and
	// tests behave the same with or without a network.
	"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
	"--window-size=420,860",
}

// Path returns the Chromium binary tests use, or an error that says how to
// install it.
func Path() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %v", EnvChromium, p, err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found (neither /usr/bin/chromium nor chromium on PATH): run `make tools` to install it")
}

// New starts a headless Chromium and returns a context for chromedp.Run
// bound to its first tab. It fails the test if Chromium is missing or does not
// start. The browser is closed, and its profile removed, when the test ends.
func New(t testing.TB) context.Context {
	t.Helper()
	exe, err := Path()
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	deadline := time.Now().Add(Timeout)
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dt.Deadline(); ok && d.Add(-5*time.Second).Before(deadline) {
			deadline = d.Add(-5 * time.Second)
		}
	}
	// Chromium now and then dies while starting when the machine is busy
	// (CI runs several browser suites at once); that is not what any test
	// checks, so a start that fails is tried again, with a fresh profile,
	// up to startAttempts times. A start that hangs is not retried.
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		ctx, err := start(t, exe, deadline)
		if err == nil {
			return ctx
		}
		if errors.Is(err, errStartTimeout) {
			t.Fatalf("browser: %s did not start within %v (run `make tools` if Chromium is missing or broken)", exe, StartTimeout)
		}
		lastErr = err
		t.Logf("browser: start attempt %d of %d failed: %v", attempt, startAttempts, err)
	}
	t.Fatalf("browser: starting %s: %v (run `make tools` if Chromium is missing or broken)", exe, lastErr)
	return nil
}

// startAttempts is how many times New tries to start Chromium.
const startAttempts = 3

var errStartTimeout = errors.New("browser did not start in time")

// start starts one Chromium with its own profile; on error everything it
// started is stopped again before it returns.
func start(t testing.TB, exe string, deadline time.Time) (context.Context, error) {
	profile, err := os.MkdirTemp("", "autowallet-chromium-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
	}
	for _, f := range Flags {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if hasValue {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	base, cancelDeadline := context.WithDeadline(context.Background(), deadline)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	logs := &testLog{t: t}
	ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logs.logf), chromedp.WithListener(logs.event))
	stop := func() {
		logs.stop()
		cancelBrowser()
		cancelAlloc()
		cancelDeadline()
		os.RemoveAll(profile)
	}

	// Start the browser now, so a broken install fails here. The first run binds
	// the browser's life to its context, so it gets ctx itself, and StartTimeout
	// is kept by closing the browser if it has not started by then.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			stop()
			return nil, err
		}
	case <-time.After(StartTimeout):
		cancelBrowser()
		<-started
		stop()
		return nil, errStartTimeout
	}
	t.Cleanup(stop)
	return ctx, nil
}

// NewTab opens another tab in the browser of ctx (from New); it is closed
// when the test ends. Tabs are cheaper than browsers.
func NewTab(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	logs := &testLog{t: t}
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithListener(logs.event))
	t.Cleanup(func() {
		logs.stop()
		cancel()
	})
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("browser: opening a tab: %v", err)
	}
	return tab
}

// testLog copies the page's console and exceptions to the test log until the
// test ends (t.Logf after the end would panic).
type testLog struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("browser: "+format, args...)
	}
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

// event is a chromedp listener: it must return fast and run no command.
func (l *testLog) event(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		l.logf("console.%s: %s", ev.Type, strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		l.logf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg)
	}
}

// ArtifactsDir is where Screenshot writes files given by a relative path,
// relative to the test's working directory (its package folder). Screenshot
// puts a .gitignore there so artifacts are never committed.
const ArtifactsDir = "testdata/artifacts"

// Screenshot saves a PNG of the whole page of ctx for people to look at. A
// relative path is taken under testdata/artifacts/ of the package under test;
// it returns the path written.
func Screenshot(ctx context.Context, path string) (string, error) {
	if !filepath.IsAbs(path) {
		if err := os.MkdirAll(ArtifactsDir, 0o755); err != nil {
			return "", err
		}
		ignore := filepath.Join(ArtifactsDir, ".gitignore")
		if _, err := os.Stat(ignore); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(ignore, []byte("# Test artifacts (screenshots): never committed.\n*\n"), 0o644); err != nil {
				return "", err
			}
		}
		path = filepath.Join(ArtifactsDir, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", fmt.Errorf("screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// MustScreenshot is Screenshot that fails the test on error and logs the path.
func MustScreenshot(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	p, err := Screenshot(ctx, path)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	t.Logf("browser: screenshot %s", p)
}
