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
	// Secret is the secret_token (1-256 of A-Z a-z 0-9 _ -); all parents
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
}

// ValidSecret reports whether s is a valid secret_token.
func ValidSecret(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

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
	if !ValidSecret(c.Secret) {
		// Never quote the secret.
		return errors.New("bot: webhook secret must be 1-256 characters of A-Z a-z 0-9 _ -")
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
	return nil
}

// hookState is the webhook's runtime state.
type hookState struct {
	cfg      *WebhookConfig
	secret   [32]byte                        // SHA-256 of the secret: compared in constant time
	ctx      atomic.Pointer[context.Context] // the handling context, set by Run
	handling sync.Map                        // update id -> struct{}: being handled here
}

type doneKey struct{}

// signalDone is the outermost middleware: it tells the webhook handler
// that the library's dispatch (which runs handlers in a goroutine) has
// finished the update.
func signalDone(next tgbot.HandlerFunc) tgbot.HandlerFunc {
	return func(ctx context.Context, api *tgbot.Bot, u *models.Update) {
		if ch, ok := ctx.Value(doneKey{}).(chan struct{}); ok {
			defer close(ch)
		}
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
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := h.cfg.Store.PruneUpdates(UpdateRetention); err != nil {
			b.log.Warn("pruning update records", "err", err)
		} else if n > 0 {
			b.log.Info("pruned update records", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WebhookHandler is the http.Handler Telegram's POSTs reach (mounted at the
// webhook URL's path). Answers (docs/bot.md has the table):
//
//	200  handled now (after FinishUpdate), or handled before (a retry)
//	400  not an update; 405 not POST; 413 body too large; 415 not JSON
//	401  no secret header; 403 wrong secret (nothing read, nothing stored)
//	409  claimed by another parent (or being handled here): retry later
//	503  not serving yet, the store failed, or the handling outlasted
//	     HandleTimeout (it goes on; the retry is answered by the claim)
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
	done := make(chan bool, 1)
	go b.handleAndFinish(ctx, u, done)
	t := time.NewTimer(h.cfg.HandleTimeout)
	defer t.Stop()
	select {
	case finished := <-done:
		if !finished {
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

// handleAndFinish runs the update through the library's dispatch, keeps the
// claim renewed meanwhile, then marks it finished. It sends on done
// (buffered) whether the update was finished: not when the bot's context
// ended meanwhile (a stop), which may have cut the handlers short.
func (b *Bot) handleAndFinish(ctx context.Context, u *models.Update, done chan<- bool) {
	h := b.hook
	finished := false
	defer func() { done <- finished }()
	defer h.handling.Delete(u.ID)
	handled := make(chan struct{})
	b.api.ProcessUpdate(context.WithValue(ctx, doneKey{}, handled), u)
	renew := time.NewTicker(h.cfg.ClaimTTL / 3)
	defer renew.Stop()
	lost := false
wait:
	for {
		select {
		case <-handled:
			break wait
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
	if ctx.Err() != nil {
		b.log.Warn("stopping mid-handling; the update is left to Telegram's retry", "update_id", u.ID)
		return
	}
	finished = true
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
