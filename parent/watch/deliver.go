package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/safego"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage"
)

// Notify delivers one alert (the bot sends the owner a message). It returns
// nil only once the message was accepted; an error wrapping ErrUndeliverable
// drops the alert (for example the user blocked the bot); any other error is
// retried with backoff. Its errors are logged: they must not carry the bot
// token (the Bot API client's errors can hold the request URL: redact them).
type Notify func(ctx context.Context, d storage.Deposit) error

// ErrUndeliverable: the alert can never be delivered; it is dropped.
var ErrUndeliverable = errors.New("alert cannot be delivered")

// Deliverer sends the outbox's alerts through Notify and removes each one
// after Notify succeeded. Alerts of one owner are delivered in the order they
// were found: while one waits for a retry, the owner's later ones wait too;
// other owners carry on.
type Deliverer struct {
	store  storage.Store
	notify Notify
	log    *slog.Logger
	wake   chan struct{}
	// MinBackoff and MaxBackoff bound the wait before an alert's next try
	// (doubled after each failure; defaults 1 s and 5 min).
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often the outbox is read without a Wake (default 5 s).
	Poll time.Duration
	// Metrics counts a panic in Notify (nil: none).
	Metrics *metrics.Metrics

	mu    sync.Mutex
	retry map[uint64]retryState // by outbox sequence; in memory only
	now   func() time.Time
}

type retryState struct {
	next  time.Time
	delay time.Duration
}

// outboxPage is the most alerts one pass reads.
const outboxPage = 1000

// NewDeliverer delivers store's alerts through notify.
func NewDeliverer(store storage.Store, notify Notify, log *slog.Logger) *Deliverer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{store: store, notify: notify, log: log, wake: make(chan struct{}, 1),
		MinBackoff: time.Second, MaxBackoff: 5 * time.Minute, Poll: 5 * time.Second,
		retry: map[uint64]retryState{}, now: time.Now}
}

// Wake makes Run read the outbox now (a watcher stored new deposits).
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Retry waits start afresh with each run (a
// new lease tenure: another parent may have delivered meanwhile).
func (d *Deliverer) Run(ctx context.Context) error {
	d.mu.Lock()
	clear(d.retry)
	d.mu.Unlock()
	for {
		if _, err := d.Deliver(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("watch: reading the alert outbox failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.wake:
		case <-time.After(d.nextWait()):
		}
	}
}

// nextWait is Poll, or less when a retry falls due sooner.
func (d *Deliverer) nextWait() time.Duration {
	wait := d.Poll
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.retry {
		wait = min(wait, max(r.next.Sub(now), 10*time.Millisecond))
	}
	return wait
}

// Deliver makes one pass over the outbox: every alert that is due and not
// behind a waiting alert of the same owner is sent. It returns how many
// were delivered (or dropped as undeliverable).
func (d *Deliverer) Deliver(ctx context.Context) (int, error) {
	done := 0
	waiting := map[int64]bool{} // owners with an earlier alert not delivered
	for after := uint64(0); ; {
		alerts, err := d.store.PendingAlertsAfter(after, outboxPage)
		if err != nil || len(alerts) == 0 {
			return done, err
		}
		after = alerts[len(alerts)-1].Seq
		n, err := d.deliverPage(ctx, alerts, waiting)
		done += n
		if err != nil {
			return done, err
		}
	}
}

// deliverPage sends one page of the outbox, in order, skipping owners in
// waiting (and adding those whose alert fails).
func (d *Deliverer) deliverPage(ctx context.Context, alerts []storage.Alert, waiting map[int64]bool) (int, error) {
	done := 0
	for _, a := range alerts {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		owner := a.Deposit.Owner
		if waiting[owner] {
			continue
		}
		d.mu.Lock()
		r, retrying := d.retry[a.Seq]
		d.mu.Unlock()
		if retrying && d.now().Before(r.next) {
			waiting[owner] = true
			continue
		}
		// The fence: only the holder of the "alerts" lease sends, and it
		// stops sending once its lease may have run out.
		if err := lease.Check(ctx); err != nil {
			return done, err
		}
		// The window: a crash after notify succeeded and before
		// AlertDelivered commits repeats this one alert at the next start
		// (or on the parent that takes the lease over).
		var err error
		if safego.Call(d.log, d.Metrics, "alerts", func() { err = d.notify(ctx, a.Deposit) }) {
			// A panic in Notify (a bug, logged and counted) drops this
			// alert as undeliverable: retried, it would most likely panic
			// again and hold up the owner's later alerts for good.
			err = fmt.Errorf("%w: Notify panicked", ErrUndeliverable)
		}
		if err != nil && !errors.Is(err, ErrUndeliverable) {
			delay := d.MinBackoff
			if retrying {
				delay = min(2*r.delay, d.MaxBackoff)
			}
			d.mu.Lock()
			d.retry[a.Seq] = retryState{next: d.now().Add(delay), delay: delay}
			d.mu.Unlock()
			waiting[owner] = true
			d.log.Warn("watch: alert not delivered; will retry", "seq", a.Seq, "owner", owner, "retry_in", delay, "err", err)
			continue
		}
		if err != nil {
			d.log.Warn("watch: alert dropped", "seq", a.Seq, "owner", owner, "err", err)
		}
		if err := d.store.AlertDelivered(a.Seq); err != nil {
			return done, err
		}
		d.mu.Lock()
		delete(d.retry, a.Seq)
		d.mu.Unlock()
		done++
	}
	return done, nil
}
