// Package safego runs one item of a background worker so that a panic in
// it ends that item only, not the process: go-telegram/bot's handlers are
// guarded by the bot's middleware (bot/webhook.go), but the card editors,
// the tracker and the alert deliverer run in goroutines of their own, where
// an unrecovered panic kills the parent (and, for work a lease hands to the
// next parent, that parent next: the same poison item).
package safego

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/autowallet/autowallet/internal/metrics"
)

// Call runs fn and recovers a panic in it: it logs the worker and where it
// panicked (file:line and function, never the panic's value, which may
// quote a user's text, a token or initData), counts it
// (autowallet_background_panics_total{worker}) and reports true. The caller
// drops (or retries) the one item; the worker goes on. m may be nil.
func Call(log *slog.Logger, m *metrics.Metrics, worker string, fn func()) (panicked bool) {
	site, panicked := Recover(m, worker, fn)
	if panicked && log != nil {
		log.Error("background work panicked; the item is dropped and the worker goes on", "worker", worker, "at", site)
	}
	return panicked
}

// Recover is Call without the log line, for a worker that logs the panic
// itself together with what it does about it (the tracker's back-off,
// parent/trackbackoff.go): it runs fn, recovers a panic in it, counts it
// (autowallet_background_panics_total{worker}) and returns where it
// panicked (Site; never the panic's value). m may be nil.
func Recover(m *metrics.Metrics, worker string, fn func()) (site string, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			site, panicked = Site(), true
			m.BackgroundPanic(worker)
		}
	}()
	fn()
	return "", false
}

// Site is file:line and function of the code that panicked, read from the
// panicking goroutine's stack; call it in the deferred function that
// recovers.
func Site() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	afterPanic := false
	for {
		f, more := frames.Next()
		if afterPanic && !strings.HasPrefix(f.Function, "runtime.") {
			return fmt.Sprintf("%s:%d %s", filepath.Base(f.File), f.Line, f.Function)
		}
		if f.Function == "runtime.gopanic" {
			afterPanic = true
		}
		if !more {
			return "unknown"
		}
	}
}
