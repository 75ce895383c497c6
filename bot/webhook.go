package bot

// Webhook mode (docs/bot.md, "Webhook"): Telegram POSTs each update to a URL
// behind a load balancer in front of several parents. Each parent checks the
// secret header, claims the update in the shared store, handles it, marks it
// finished and only then answers 200, so that:
//   - an update retried by Telegram (a lost answer, a parent that died
//     mid-handling) is handled once: the retry finds it done, or claimed by
//     a live parent (409: Telegram retries later), or claimed by a dead one
//     whose claim ran out (taken over and handled);
//   - a parent that dies before answering leaves the update unacknowledged,
//     so Telegram redelivers it, possibly to another parent.
//
// go-telegram/bot's own WebhookHandler is not used: it compares the secret
// with !=, answers 200 to a wrong secret, and answers before the update is
// handled (it only queues it). The updates are fed to the library's
// dispatch (ProcessUpdate), so handlers and middlewares are the same in
// both modes.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/internal/safego"
	"github.com/autowallet/autowallet/storage"
)

// SecretHeader is the header Telegram sends the webhook's secret_token in.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// MaxUpdateBytes bounds a webhook request body. Telegram's updates for this
// bot (messages up to 4096 characters, callback queries) are a few KiB.
const MaxUpdateBytes = 256 << 10

// Webhook defaults (WebhookConfig).
const (
	DefaultClaimTTL       = 30 * time.Second
	DefaultHandleTimeout  = 20 * time.Second
	DefaultMaxConnections = 40
	// DefaultWebhookCheck: how often the webhook is checked with
	// getWebhookInfo (set again when changed; in polling mode, how often a
	// webhook that blocks polling is looked at again).
	DefaultWebhookCheck = time.Minute
	// MinSecretLen: the webhook secret is the only thing that tells
	// Telegram's POSTs from anyone's; Telegram accepts 1 character, we want
	// at least 32 (about 190 bits from its 64-character alphabet).
	MinSecretLen = 32
	// UpdateRetention: Telegram stops redelivering an update within a day,
	// so update records older than this are pruned (hourly).
	UpdateRetention = 24 * time.Hour
)

// UpdateStore is what the webhook needs of the store; storage.Store (bbolt
// and PostgreSQL) has it.
type UpdateStore interface {
	ClaimUpdate(updateID int64, holder string, ttl time.Duration) (storage.UpdateClaim, error)
	FinishUpdate(updateID int64, holder string) error
	PruneUpdates(olderThan time.Duration) (int, error)
}

var _ UpdateStore = storage.Store(nil)

// WebhookConfig turns webhook mode on (Config.Webhook).
type WebhookConfig struct {
	// URL is what Telegram posts to: https://<load balancer>/<path>.
	URL string
	// Secret is the secret_token (32-256 of A-Z a-z 0-9 _ -); all parents
	// behind one URL must share it (the last setWebhook wins). Empty: one
	// is generated, which only works with a single parent.
	Secret string
	// Instance is this parent's holder name for update claims.
	Instance string
	Store    UpdateStore
	// MaxConnections is setWebhook's max_connections (1-100, default 40).
	MaxConnections int
	// ClaimTTL is how long a claim holds without renewal (default 30 s);
	// it is renewed every ClaimTTL/3 while the update is being handled,
	// so it runs out only when the parent died or lost the store.
	ClaimTTL time.Duration
	// HandleTimeout is how long a request waits for the handling before
	// answering 503 (default 20 s, under the listener's 30 s write
	// timeout); the handling goes on and the retry is answered by the claim.
	HandleTimeout time.Duration
	// UpdateDeadline bounds the handling of one update (default 5 x
	// HandleTimeout): past it the handler's context is cancelled, the claim
	// is no longer renewed and the update is dropped (finished, counted,
	// logged by update_id), so a stuck handler cannot hold it for good.
	UpdateDeadline time.Duration
}

// ErrUpdateDeadline is the cause of a handler context cancelled at the
// update's deadline (WebhookConfig.UpdateDeadline).
var ErrUpdateDeadline = errors.New("bot: the update outlived its deadline")

// ErrWeakSecret is CheckSecret's refusal.
var ErrWeakSecret = errors.New("webhook secret refused")

// CheckSecret checks a webhook secret: MinSecretLen-256 characters of
// Telegram's alphabet (A-Z a-z 0-9 _ -). The error says which rule failed
// and never quotes the secret.
func CheckSecret(s string) error {
	switch {
	case len(s) < MinSecretLen:
		return fmt.Errorf("%w: shorter than %d characters (e.g. openssl rand -hex 32)", ErrWeakSecret, MinSecretLen)
	case len(s) > 256:
		return fmt.Errorf("%w: longer than 256 characters (Telegram's limit)", ErrWeakSecret)
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: characters other than A-Z a-z 0-9 _ - (Telegram's alphabet)", ErrWeakSecret)
		}
	}
	return nil
}

// ValidSecret reports whether CheckSecret accepts s.
func ValidSecret(s string) bool { return CheckSecret(s) == nil }

// GenerateSecret returns a random secret_token (256 bits, hex).
func GenerateSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *WebhookConfig) check() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("bot: webhook URL must be https://host/path")
	}
	if c.Secret == "" {
		c.Secret = GenerateSecret()
	}
	if err := CheckSecret(c.Secret); err != nil {
		return fmt.Errorf("bot: %w", err) // never quotes the secret
	}
	if c.Store == nil || c.Instance == "" || len(c.Instance) > storage.MaxHolderLen {
		return errors.New("bot: webhook needs a store and an instance name")
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	c.MaxConnections = min(c.MaxConnections, 100)
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = DefaultClaimTTL
	}
	if c.HandleTimeout <= 0 {
		c.HandleTimeout = DefaultHandleTimeout
	}
	if c.UpdateDeadline <= 0 {
		c.UpdateDeadline = 5 * c.HandleTimeout
	}
	if c.UpdateDeadline < c.HandleTimeout {
		return errors.New("bot: webhook update deadline is shorter than the handle timeout")
	}
	return nil
}

// hookState is the webhook's runtime state.
type hookState struct {
	cfg      *WebhookConfig
	secret   [32]byte                        // SHA-256 of the secret: compared in constant time
	ctx      atomic.Pointer[context.Context] // the handling context, set by Run
	handling sync.Map                        // update id -> struct{}: being handled here
}

type runKey struct{}

// updateRun is one webhook update's handling. Whichever comes first
// settles it: the handler returning (or panicking, recovered), or its
// context being cancelled (a stop, or the update's deadline). Only an
// update whose handler returned first is finished as handled: asking
// ctx.Err() after the handler returned would call a handling that
// completed just before a stop "cut short", and another parent would
// handle it a second time.
type updateRun struct {
	mu      sync.Mutex
	state   int           // runRunning, runReturned or runCancelled
	handled chan struct{} // closed when the handler returned
	// retry: a handler met the store unavailable (storage.ErrUnavailable)
	// and said nothing to the user; the update is left to Telegram's
	// redelivery instead of being finished (leaveToRetry).
	retry atomic.Bool
}

// leaveToRetry reports whether err is the store's unavailability and the
// update being handled came by webhook; if so it marks the update for
// Telegram's redelivery, and the caller must neither reply nor change
// anything more. In long polling (no redelivery) it is false: the user gets
// the error reply, as before.
func leaveToRetry(ctx context.Context, err error) bool {
	run, ok := ctx.Value(runKey{}).(*updateRun)
	if !ok || !errors.Is(err, storage.ErrUnavailable) {
		return false
	}
	run.retry.Store(true)
	return true
}

// Outcomes of handleAndFinish.
type handled int

const (
	handledDone    handled = iota // handled and finished: acknowledge
	handledStopped                // the parent is stopping: not acknowledged
	handledRetry                  // the store was unavailable: not acknowledged
)

const (
	runRunning = iota
	runReturned
	runCancelled
)

// settle records to as the outcome unless one is recorded already, and
// returns the outcome.
func (r *updateRun) settle(to int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == runRunning {
		r.state = to
	}
	return r.state
}

// guard is the outermost middleware, in both modes. go-telegram/bot runs
// each handler in a goroutine of its own without recover(): a panicking
// handler would kill the parent before it answers Telegram, the claim would
// run out, Telegram would redeliver the update to the next parent, which
// would die too. guard recovers the panic, counts it and logs the update_id
// and where it panicked only (never the update's text, initData nor the
// panic's value, which may quote them); the update then counts as handled:
// finished and answered 200, so a poison update is dropped once. In webhook
// mode guard also tells handleAndFinish that the handler returned.
func (b *Bot) guard(next tgbot.HandlerFunc) tgbot.HandlerFunc {
	return func(ctx context.Context, api *tgbot.Bot, u *models.Update) {
		run, _ := ctx.Value(runKey{}).(*updateRun)
		defer func() {
			if p := recover(); p != nil {
				b.cfg.Metrics.UpdateDropped("panic")
				b.log.Error("update handler panicked; the update is dropped", "update_id", u.ID, "at", safego.Site())
			}
			if run != nil {
				run.settle(runReturned)
				close(run.handled)
			}
		}()
		next(ctx, api, u)
	}
}

// runWebhook sets the webhook and keeps the update records pruned until ctx
// ends. It does not delete the webhook on the way out: the other parents
// behind the URL go on serving it.
func (b *Bot) runWebhook(ctx context.Context) {
	h := b.hook
	params := &tgbot.SetWebhookParams{
		URL: h.cfg.URL, SecretToken: h.cfg.Secret, MaxConnections: h.cfg.MaxConnections,
		AllowedUpdates: []string{"message", "callback_query"},
	}
	for pause := time.Second; ; pause = min(2*pause, time.Minute) {
		err := b.send.Do(ctx, 0, b.metered("setWebhook", func(ctx context.Context) error {
			_, err := b.api.SetWebhook(ctx, params)
			return err
		}))
		if err == nil {
			break
		}
		// The URL may carry a secret path: log neither it nor the secret.
		b.log.Error("setWebhook failed; retrying", "err", b.redact(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
	h.ctx.Store(&ctx)
	b.log.Info("taking updates by webhook", "instance", h.cfg.Instance)
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	check := time.NewTicker(b.webhookCheck())
	defer check.Stop()
	for {
		// The store's own clock decides what is a day old (PruneUpdates).
		if n, err := h.cfg.Store.PruneUpdates(UpdateRetention); err != nil {
			b.log.Warn("pruning update records", "err", err)
		} else if n > 0 {
			b.log.Info("pruned update records", "count", n)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-check.C:
				b.keepWebhook(ctx, params)
			case <-prune.C:
				break wait
			}
		}
	}
}

// keepWebhook sets the webhook again when getWebhookInfo shows another URL
// or none: a process polling with the same bot token (deleteWebhook), or a
// setWebhook elsewhere, would otherwise switch every webhook parent off
// silently until they restart. One getWebhookInfo per check and at most
// one setWebhook (Telegram's retries are Sender's). Two parents configured
// with different URLs would take it from each other every check: the
// warning and autowallet_telegram_webhook_resets_total show it.
func (b *Bot) keepWebhook(ctx context.Context, params *tgbot.SetWebhookParams) {
	var info *models.WebhookInfo
	err := b.send.Do(ctx, 0, b.metered("getWebhookInfo", func(ctx context.Context) error {
		var err error
		info, err = b.api.GetWebhookInfo(ctx)
		return err
	}))
	if err != nil {
		b.log.Warn("getWebhookInfo failed", "err", b.redact(err))
		return
	}
	if info.URL == params.URL {
		return
	}
	// Neither URL is logged: either may carry a secret path.
	b.cfg.Metrics.WebhookReset()
	b.log.Warn("the bot's webhook was deleted or changed (a poller or another deployment with this token?); setting it again",
		"was_deleted", info.URL == "")
	err = b.send.Do(ctx, 0, b.metered("setWebhook", func(ctx context.Context) error {
		_, err := b.api.SetWebhook(ctx, params)
		return err
	}))
	if err != nil {
		b.log.Error("setWebhook failed; retrying at the next check", "err", b.redact(err))
	}
}

// webhookCheck is the interval of getWebhookInfo checks.
func (b *Bot) webhookCheck() time.Duration {
	if b.cfg.WebhookCheck > 0 {
		return b.cfg.WebhookCheck
	}
	return DefaultWebhookCheck
}

// WebhookHandler is the http.Handler Telegram's POSTs reach (mounted at the
// webhook URL's path). Answers (docs/bot.md has the table):
//
//	200  handled now (after FinishUpdate), or handled before (a retry), or
//	     dropped after a handler panic or the update's deadline
//	400  not an update; 405 not POST; 413 body too large; 415 not JSON
//	401  no secret header; 403 wrong secret (nothing read, nothing stored)
//	409  claimed by another parent (or being handled here): retry later
//	503  not serving yet, the store failed (at the claim, or in a handler:
//	     nothing was said to the user, the claim is released), or the
//	     handling outlasted HandleTimeout (it goes on; the retry is
//	     answered by the claim)
//
// Every status but 200 makes Telegram deliver the update again later.
func (b *Bot) WebhookHandler() http.Handler {
	return http.HandlerFunc(b.serveWebhook)
}

func (b *Bot) serveWebhook(w http.ResponseWriter, r *http.Request) {
	h := b.hook
	if h == nil {
		http.Error(w, "webhook mode is off", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// The secret first, before the body is read: a caller without it
	// learns nothing and costs nothing. Hashing both sides makes the
	// comparison constant-time in the length too.
	got, present := r.Header[http.CanonicalHeaderKey(SecretHeader)]
	if !present || len(got) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	sum := sha256.Sum256([]byte(got[0]))
	if subtle.ConstantTimeCompare(sum[:], h.secret[:]) != 1 {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		http.Error(w, "want application/json", http.StatusUnsupportedMediaType)
		return
	}
	ctxp := h.ctx.Load()
	if ctxp == nil || (*ctxp).Err() != nil {
		http.Error(w, "not serving", http.StatusServiceUnavailable)
		return
	}
	u, status := readUpdate(w, r)
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	b.handleClaimed(w, *ctxp, u)
}

// readUpdate reads one update: a JSON object with a non-negative update_id,
// nothing after it, at most MaxUpdateBytes. It returns a status on refusal.
func readUpdate(w http.ResponseWriter, r *http.Request) (*models.Update, int) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxUpdateBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge
		}
		return nil, http.StatusBadRequest
	}
	var head struct {
		UpdateID *int64 `json:"update_id"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if dec.Decode(&head) != nil || head.UpdateID == nil || *head.UpdateID < 0 || dec.More() {
		return nil, http.StatusBadRequest
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, http.StatusBadRequest
	}
	u := &models.Update{}
	if err := json.Unmarshal(body, u); err != nil || u.ID != *head.UpdateID {
		return nil, http.StatusBadRequest
	}
	return u, 0
}

// handleClaimed claims u, handles it, finishes it and answers.
func (b *Bot) handleClaimed(w http.ResponseWriter, ctx context.Context, u *models.Update) {
	h := b.hook
	// A retry of an update this parent is still handling (the first
	// request timed out) must not be handled again: the store would say
	// "claimed" to its own holder.
	if _, busy := h.handling.LoadOrStore(u.ID, struct{}{}); busy {
		http.Error(w, "being handled", http.StatusConflict)
		return
	}
	claim, err := h.cfg.Store.ClaimUpdate(u.ID, h.cfg.Instance, h.cfg.ClaimTTL)
	if err != nil {
		h.handling.Delete(u.ID)
		b.log.Error("claiming update", "update_id", u.ID, "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	switch claim {
	case storage.UpdateDone:
		h.handling.Delete(u.ID)
		w.WriteHeader(http.StatusOK)
		return
	case storage.UpdateInProgress:
		h.handling.Delete(u.ID)
		http.Error(w, "claimed by another parent", http.StatusConflict)
		return
	case storage.UpdateClaimed:
	default:
		h.handling.Delete(u.ID)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	done := make(chan handled, 1)
	go b.handleAndFinish(ctx, u, done)
	t := time.NewTimer(h.cfg.HandleTimeout)
	defer t.Stop()
	select {
	case outcome := <-done:
		if outcome == handledRetry {
			// The store was away mid-handling; nothing was said to the
			// user. 503: Telegram delivers the update again, to whichever
			// parent, once the store is back (the claim was released).
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		if outcome == handledStopped {
			// The parent is stopping and the handling was cut short: not
			// acknowledged, so Telegram delivers it again (to another
			// parent once this claim runs out).
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		// Handled (FinishUpdate attempted): acknowledge, whatever the
		// finish's outcome. An error status now would have another parent
		// handle it a second time.
		w.WriteHeader(http.StatusOK)
	case <-t.C:
		b.log.Warn("update still being handled; Telegram will retry", "update_id", u.ID)
		http.Error(w, "still handling", http.StatusServiceUnavailable)
	}
}

// afterHandled, when set (tests), runs after the handler returned and
// before the outcome is decided: the window of a stop racing a handling.
var afterHandled atomic.Pointer[func()]

// handleAndFinish runs the update through the library's dispatch with a
// context that ends at the update's deadline, keeps the claim renewed
// meanwhile, then marks it finished. It sends on done (buffered) the
// outcome: handledStopped when the bot's context ended (a stop) before the
// handler returned, which may have cut it short; handledRetry when a
// handler met the store unavailable (leaveToRetry).
func (b *Bot) handleAndFinish(ctx context.Context, u *models.Update, done chan<- handled) {
	h := b.hook
	result := handledStopped
	defer func() { done <- result }()
	defer h.handling.Delete(u.ID)
	// The handler's context is cancelled only here, and only after the
	// outcome is settled as "cancelled": a handler that returns because it
	// saw the cancellation can never count as having returned first.
	hctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	run := &updateRun{handled: make(chan struct{})}
	b.api.ProcessUpdate(context.WithValue(hctx, runKey{}, run), u)
	renew := time.NewTicker(h.cfg.ClaimTTL / 3)
	defer renew.Stop()
	deadline := time.NewTimer(h.cfg.UpdateDeadline)
	defer deadline.Stop()
	lost, expired := false, false
	outcome := runRunning
	for outcome == runRunning {
		select {
		case <-run.handled:
			if f := afterHandled.Load(); f != nil {
				(*f)()
			}
			outcome = run.settle(runReturned)
		case <-ctx.Done():
			// A stop: renewals end here; the handler's return, if it came
			// first, still counts.
			if outcome = run.settle(runCancelled); outcome == runCancelled {
				cancel(context.Cause(ctx))
			}
		case <-deadline.C:
			if outcome = run.settle(runCancelled); outcome == runCancelled {
				expired = true
				cancel(ErrUpdateDeadline)
			}
		case <-renew.C:
			// Renewal by the same holder; "in progress" means the claim ran
			// out (this parent stalled or lost the store) and another parent
			// took the update over: it will be handled twice.
			c, err := h.cfg.Store.ClaimUpdate(u.ID, h.cfg.Instance, h.cfg.ClaimTTL)
			if err != nil {
				b.log.Warn("renewing update claim", "update_id", u.ID, "err", err)
			} else if c != storage.UpdateClaimed && !lost {
				lost = true
				b.log.Warn("update claim lost mid-handling: another parent took it over", "update_id", u.ID, "claim", c.String())
			}
		}
	}
	if outcome == runCancelled {
		if !expired {
			b.log.Warn("stopping mid-handling; the update is left to Telegram's retry", "update_id", u.ID)
			return
		}
		// The update's deadline: its handler is stuck (or far too slow).
		// It is dropped like a poison update, finished so that no parent
		// takes it up again; the handler's context is cancelled.
		b.cfg.Metrics.UpdateDropped("deadline")
		b.log.Error("update outlived its deadline; cancelled and dropped", "update_id", u.ID, "deadline", h.cfg.UpdateDeadline)
	} else if run.retry.Load() {
		result = handledRetry
		b.log.Warn("store unavailable mid-handling; the update is left to Telegram's retry", "update_id", u.ID)
		// Release the claim (it runs out at once), so that the redelivery
		// may go to another parent without waiting for ClaimTTL. The store
		// may still be away: then the release fails, and the claim runs out
		// by itself within ClaimTTL (a redelivery to this parent reclaims
		// it at once, being its holder; another parent gets 409 and
		// Telegram tries again later). Nothing is lost either way.
		if _, err := h.cfg.Store.ClaimUpdate(u.ID, h.cfg.Instance, time.Microsecond); err != nil {
			b.log.Warn("releasing update claim", "update_id", u.ID, "err", err)
		}
		return
	}
	result = handledDone
	var err error
	for attempt := range 3 {
		if err = h.cfg.Store.FinishUpdate(u.ID, h.cfg.Instance); err == nil || errors.Is(err, storage.ErrInvalid) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	if err != nil {
		b.log.Warn("finishing update", "update_id", u.ID, "err", err)
	}
}
