package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// WaitTimeout bounds Wait.
const WaitTimeout = 30 * time.Second

// Do runs actions in order and fails the test on the first error.
func Do(t testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Navigate loads url in the tab of ctx and waits for its load event.
func Navigate(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	Do(t, ctx, chromedp.Navigate(url))
}

// Eval evaluates a JavaScript expression in the page (awaiting a promise) and
// decodes its value into T; it fails the test on a thrown error.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browser: evaluating %s: %v", short(expr), err)
	}
	return v
}

// Wait waits until the JavaScript expression is truthy, for at most
// WaitTimeout, polling on every animation frame and DOM change.
func Wait(t testing.TB, ctx context.Context, expr string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, WaitTimeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(WaitTimeout))); err != nil {
		t.Fatalf("browser: waiting for %s: %v", short(expr), err)
	}
}

// Text returns the textContent of the first element matching the CSS
// selector, or fails the test if there is none.
func Text(t testing.TB, ctx context.Context, selector string) string {
	t.Helper()
	sel, _ := json.Marshal(selector)
	v := Eval[*string](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? e.textContent : null })()`, sel))
	if v == nil {
		t.Fatalf("browser: no element matches %s", selector)
	}
	return *v
}

// Exists reports whether an element matches the CSS selector.
func Exists(t testing.TB, ctx context.Context, selector string) bool {
	t.Helper()
	sel, _ := json.Marshal(selector)
	return Eval[bool](t, ctx, fmt.Sprintf(`document.querySelector(%s) !== null`, sel))
}

// Visible reports whether an element matches the CSS selector and is rendered
// (not hidden, not display:none, with a box).
func Visible(t testing.TB, ctx context.Context, selector string) bool {
	t.Helper()
	sel, _ := json.Marshal(selector)
	return Eval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; const r = e.getBoundingClientRect(); return !e.closest("[hidden]") && getComputedStyle(e).visibility !== "hidden" && r.width > 0 && r.height > 0 })()`, sel))
}

// Click clicks the first element matching the CSS selector with the mouse,
// as a person would (it must be visible and enabled to do anything).
func Click(t testing.TB, ctx context.Context, selector string) {
	t.Helper()
	Do(t, ctx, chromedp.Click(chromedp.CSS(selector)))
}

func short(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}
