// Package lease runs a piece of background work on one parent at a time
// (issue 11, docs/watcher.md "Several parents"): the work starts once this
// parent holds the named lease in the store, the lease is renewed well
// before it runs out, and the work is stopped at once when a renewal fails
// or finds the lease taken. A clean stop releases the lease, so another
// parent takes over at its next try; a parent that dies is replaced once
// its lease has run out (TTL).
//
// Fencing: before each external effect (a broadcast, a Telegram message),
// the work calls Check(ctx), which refuses once the lease may have run
// out by this parent's own clock. The local deadline is measured from the
// moment the acquiring request was sent, minus a margin, so it ends
// before the store's (the store's clock starts its TTL later than ours).
// What no lease can fence is an effect already on the wire when the
// parent stalls past its deadline; docs/threat-model.md says what that
// costs for each effect.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/storage"
)

// ErrLost: the lease ran out, was taken by another holder, or could not
// be renewed; the effect must not happen.
var ErrLost = errors.New("lease lost")

// Store is the part of storage.Store a lease needs.
type Store interface {
	AcquireLease(name, holder string, ttl time.Duration) (storage.Lease, bool, error)
	ReleaseLease(name, holder string) error
}

// Config names the lease and its timing.
type Config struct {
	Store  Store
	Name   string // "tracker/<chain id>", "watch/<chain id>", "alerts", "cards"
	Holder string // this parent's instance name (unique per parent)
	// TTL is the lease's length (default 15 s): how long a dead parent's
	// work waits for another parent.
	TTL time.Duration
	// Renew is the pause between renewals (default TTL/3): two renewals
	// may fail before the lease can run out.
	Renew time.Duration
	// Retry is the pause between tries while another parent holds the
	// lease (default 2 s, at most Renew).
	Retry  time.Duration
	Logger *slog.Logger
	// Metrics, if set, gets autowallet_lease_held{name}: 1 while this
	// parent holds the lease, 0 otherwise. Summed over the parents, 0 for
	// long means the work runs nowhere: a lease row kept by something that
	// is not a parent (review 12, finding 4) or parents that cannot renew.
	Metrics *metrics.Metrics
}

func (c *Config) setDefaults() {
	if c.TTL <= 0 {
		c.TTL = 15 * time.Second
	}
	if c.Renew <= 0 {
		c.Renew = c.TTL / 3
	}
	if c.Retry <= 0 {
		c.Retry = min(2*time.Second, c.Renew)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// margin is the part of the TTL the local deadline gives up for clock rate
// differences and the store's own delay.
func (c *Config) margin() time.Duration { return c.TTL / 5 }

// Held is a lease while its work runs.
type Held struct {
	Name  string
	Token uint64 // the store's fencing token of this tenure

	mu       sync.Mutex
	deadline time.Time // local (monotonic) end of the tenure
	lost     error
	cancel   context.CancelFunc
	timer    *time.Timer
}

// Check returns nil while the lease is held and its local deadline has not
// passed, ErrLost (wrapped, with the reason) otherwise.
func (h *Held) Check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil {
		return h.lost
	}
	if !time.Now().Before(h.deadline) {
		return fmt.Errorf("%w: %s: its deadline passed before a renewal", ErrLost, h.Name)
	}
	return nil
}

// lose ends the tenure: every later Check fails and the work's context ends.
func (h *Held) lose(err error) {
	h.mu.Lock()
	if h.lost == nil {
		h.lost = err
	}
	h.mu.Unlock()
	h.cancel()
}

// extend moves the local deadline to sent+d (sent: when the renewal was
// sent) and rearms the watchdog that stops the work at it.
func (h *Held) extend(sent time.Time, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deadline = sent.Add(d)
	wait := time.Until(h.deadline)
	if h.timer == nil {
		h.timer = time.AfterFunc(wait, func() {
			h.lose(fmt.Errorf("%w: %s: not renewed in time", ErrLost, h.Name))
		})
	} else {
		h.timer.Reset(wait)
	}
}

type ctxKey struct{}

// Check is the fence of work run by Run: nil while the lease carried by
// ctx is held. A context without a lease (a single parent's tests, a
// caller that does not lease) passes.
func Check(ctx context.Context) error {
	if h, ok := ctx.Value(ctxKey{}).(*Held); ok {
		return h.Check()
	}
	return ctx.Err()
}

// FromContext returns the lease work runs under, if any.
func FromContext(ctx context.Context) (*Held, bool) {
	h, ok := ctx.Value(ctxKey{}).(*Held)
	return h, ok
}

// Work is run while the lease is held; it must return soon after ctx ends.
type Work func(ctx context.Context) error

// Run takes the lease whenever it can and runs work under it, until ctx
// ends; then it releases the lease (if held) and returns ctx's error. Work
// that returns while the lease is held is started again after Retry.
func Run(ctx context.Context, c Config, work Work) error {
	c.setDefaults()
	if err := checkConfig(c); err != nil {
		return err
	}
	log := c.Logger.With("lease", c.Name)
	for {
		sent := time.Now()
		l, held, err := c.Store.AcquireLease(c.Name, c.Holder, c.TTL)
		c.Metrics.LeaseHeld(c.Name, err == nil && held)
		switch {
		case err != nil:
			log.Warn("lease: acquiring failed", "err", err)
		case held:
			log.Info("lease: held; work starts", "token", l.Token)
			err := runHeld(ctx, c, l, sent, work)
			c.Metrics.LeaseHeld(c.Name, false)
			if ctx.Err() != nil {
				// A clean stop: hand the work over now, not after the TTL.
				if rerr := c.Store.ReleaseLease(c.Name, c.Holder); rerr != nil {
					log.Warn("lease: release failed; another parent waits for the TTL", "err", rerr)
				}
				log.Info("lease: released")
				return ctx.Err()
			}
			log.Warn("lease: work stopped", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.Retry):
		}
	}
}

func checkConfig(c Config) error {
	if c.Store == nil || c.Name == "" || c.Holder == "" {
		return errors.New("lease: store, name and holder are required")
	}
	if c.Renew >= c.TTL-c.margin() {
		return fmt.Errorf("lease: %s: renewal every %v leaves no time before the deadline %v", c.Name, c.Renew, c.TTL-c.margin())
	}
	return nil
}

// runHeld runs work under the lease l until ctx ends, the work returns, or
// the lease is lost; it returns once the work has returned.
func runHeld(ctx context.Context, c Config, l storage.Lease, sent time.Time, work Work) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &Held{Name: c.Name, Token: l.Token, cancel: cancel}
	h.extend(sent, c.TTL-c.margin())
	defer func() {
		h.mu.Lock()
		h.timer.Stop()
		h.mu.Unlock()
	}()
	wctx = context.WithValue(wctx, ctxKey{}, h)
	done := make(chan error, 1)
	go func() { done <- work(wctx) }()
	tick := time.NewTicker(c.Renew)
	defer tick.Stop()
	tickC := tick.C // nil once the tenure is over: no renewal of a lease nobody works under
	for {
		select {
		case err := <-done:
			if lost := h.Check(); lost != nil {
				return lost
			}
			return err
		case <-tickC:
			sent := time.Now()
			nl, held, err := c.Store.AcquireLease(c.Name, c.Holder, c.TTL)
			switch {
			case err != nil:
				// One failed renewal stops the work: the store may be
				// reachable to the others, who then take over.
				h.lose(fmt.Errorf("%w: %s: renewal failed: %w", ErrLost, c.Name, err))
			case !held:
				h.lose(fmt.Errorf("%w: %s: held by %s now", ErrLost, c.Name, nl.Holder))
			case nl.Token != h.Token:
				// Ours again, but it ran out in between: another parent
				// may have worked meanwhile. This tenure is over.
				h.lose(fmt.Errorf("%w: %s: it ran out before the renewal (token %d, now %d)", ErrLost, c.Name, h.Token, nl.Token))
			default:
				h.extend(sent, c.TTL-c.margin())
			}
			if h.Check() != nil {
				c.Metrics.LeaseHeld(c.Name, false)
				tickC = nil
			}
		}
	}
}
