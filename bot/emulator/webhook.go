package emulator

// Webhook delivery: setWebhook, deleteWebhook, getWebhookInfo and the
// deliverer that POSTs each update to the webhook URL as Telegram does.
//
// What Telegram does and the emulator copies (docs/emulator.md):
//   - an update is one POST of its JSON with Content-Type application/json
//     and, when set, the X-Telegram-Bot-Api-Secret-Token header;
//   - any status other than 2xx, a timeout or a failed connection is a
//     failed delivery: the same update (same update_id) is sent again later,
//     with growing pauses, and given up on after a while;
//   - the updates of one chat are delivered one at a time, in order: the
//     next waits until the previous one was accepted or given up;
//   - at most max_connections deliveries are in flight at once;
//   - getUpdates answers 409 while a webhook is set, and setWebhook ends a
//     waiting getUpdates with 409;
//   - getWebhookInfo reports pending_update_count and the last error.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"syscall"
	"time"
)

// WebhookOptions tunes webhook delivery. Zero values take the defaults.
type WebhookOptions struct {
	// Timeout bounds one delivery, connection to answer (default 30 s).
	Timeout time.Duration
	// RetryMin is the pause before the first redelivery; it doubles up to
	// RetryMax (defaults 100 ms and 5 s). Telegram's own pauses are longer;
	// tests want them short.
	RetryMin, RetryMax time.Duration
	// GiveUp: an update still failing this long after its first attempt
	// is dropped (default 2 min; Telegram keeps trying for up to a day).
	GiveUp time.Duration
	// AnyHost allows a webhook URL whose host is not loopback (127.0.0.0/8,
	// ::1, localhost), e.g. an address in a test's network namespace. The
	// emulator refuses other hosts by default so that it never posts
	// updates off the machine.
	AnyHost bool
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(5*time.Second, o.RetryMin)
	}
	if o.GiveUp <= 0 {
		o.GiveUp = 2 * time.Minute
	}
	return o
}

// webhook is the webhook set by setWebhook; replaced as a whole on change.
type webhook struct {
	url            string
	secret         string
	maxConnections int
	allowed        []string
	ctx            context.Context // ends when the webhook is replaced or deleted, or at Close
	cancel         context.CancelFunc
	client         *http.Client
}

// webhookState is the emulator's delivery bookkeeping, guarded by e.mu.
type webhookState struct {
	hook      *webhook
	allowed   []string         // kept across setWebhook calls that omit allowed_updates
	inflight  map[int64]bool   // update ids being delivered (or waiting for a retry)
	lastErrAt int64            // unix time of the last failed delivery
	lastErr   string           // its message, as getWebhookInfo reports it
	stats     WebhookStats     // counters for tests
	perUpdate map[int64]int    // update id -> delivery attempts
	okUpdate  map[int64]int    // update id -> 2xx answers
	status    map[int]int      // HTTP status -> answers
	lastCodes map[int64][]int  // update id -> statuses of its attempts (0: no answer), bounded
	giveUps   map[int64]string // update id -> the error it was dropped with
}

// WebhookStats counts webhook deliveries since the emulator started.
type WebhookStats struct {
	Attempts  int // POSTs made (first deliveries and retries)
	Retries   int // POSTs of an update already tried
	Delivered int // updates accepted with a 2xx
	Failed    int // POSTs that failed (non-2xx, timeout, connection error)
	GaveUp    int // updates dropped after WebhookOptions.GiveUp
	// Status counts answers by HTTP status (failed connections are not in it).
	Status map[int]int
}

// WebhookStats returns the delivery counters.
func (e *Emulator) WebhookStats() WebhookStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.wh.stats
	s.Status = make(map[int]int, len(e.wh.status))
	for k, v := range e.wh.status {
		s.Status[k] = v
	}
	return s
}

// WebhookAttempts returns, per update id, how many times it was POSTed.
func (e *Emulator) WebhookAttempts() map[int64]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[int64]int, len(e.wh.perUpdate))
	for k, v := range e.wh.perUpdate {
		out[k] = v
	}
	return out
}

// WebhookStatuses returns the HTTP statuses of the attempts to deliver
// updateID, in order (0: no answer: timeout or failed connection).
func (e *Emulator) WebhookStatuses(updateID int64) []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.wh.lastCodes[updateID])
}

// PendingUpdates is the number of updates not yet delivered (webhook) or
// confirmed (getUpdates): getWebhookInfo's pending_update_count.
func (e *Emulator) PendingUpdates() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.updates)
}

// WaitDelivered waits until no update is pending (every update was
// delivered, confirmed or given up on) or ctx ends.
func (e *Emulator) WaitDelivered(ctx context.Context) error {
	for {
		e.mu.Lock()
		n, ch := len(e.updates), e.changed
		e.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("emulator: %d updates still pending: %w", n, ctx.Err())
		case <-e.done:
			return ErrClosed
		}
	}
}

// secretOK is Telegram's rule for secret_token: 1-256 characters of
// A-Z, a-z, 0-9, _ and -.
func secretOK(s string) bool {
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

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (e *Emulator) apiSetWebhook(_ context.Context, p params) (any, *apiError) {
	raw := p.v["url"]
	if raw == "" {
		return e.removeWebhook(p.bool("drop_pending_updates")), nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, badRequest("bad webhook: invalid webhook URL specified")
	}
	// Telegram wants https on ports 443, 80, 88 or 8443; the emulator
	// delivers to a local server, so plain http on any port is accepted.
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	if !e.cfg.Webhook.AnyHost && !loopbackHost(u.Hostname()) {
		return nil, badRequest("bad webhook: the emulator delivers only to loopback hosts (WebhookOptions.AnyHost)")
	}
	secret, hasSecret := p.v["secret_token"]
	if hasSecret && secret != "" && !secretOK(secret) {
		if len(secret) > 256 {
			return nil, badRequest("secret token is too long")
		}
		return nil, badRequest("secret token contains unallowed characters")
	}
	maxConn, has, aerr := p.int("max_connections")
	if aerr != nil {
		return nil, aerr
	}
	if !has || maxConn <= 0 {
		maxConn = 40
	}
	maxConn = min(maxConn, 100)
	var allowed []string
	if s, ok := p.v["allowed_updates"]; ok && s != "" {
		if err := json.Unmarshal([]byte(s), &allowed); err != nil {
			return nil, badRequest("can't parse allowed updates")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts := e.cfg.Webhook
	h := &webhook{url: raw, secret: secret, maxConnections: int(maxConn), ctx: ctx, cancel: cancel,
		client: &http.Client{
			Timeout: opts.Timeout,
			// Telegram does not follow redirects: a 3xx is a failed delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				Proxy:               nil, // never through an environment proxy
				MaxConnsPerHost:     int(maxConn),
				MaxIdleConnsPerHost: int(maxConn),
				IdleConnTimeout:     30 * time.Second,
			},
		}}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := p.v["allowed_updates"]; ok {
		e.wh.allowed = allowed
	}
	h.allowed = e.wh.allowed
	if e.wh.hook != nil {
		e.wh.hook.cancel()
	}
	e.wh.hook = h
	if p.bool("drop_pending_updates") {
		e.updates = e.updates[:0]
	}
	// A waiting getUpdates ends with 409, as in Telegram.
	e.pollGen++
	e.pollEnd = "Conflict: terminated by setWebhook request"
	e.notifyLocked()
	go e.runWebhook(h)
	return true, nil
}

func (e *Emulator) apiDeleteWebhook(_ context.Context, p params) (any, *apiError) {
	return e.removeWebhook(p.bool("drop_pending_updates")), nil
}

// removeWebhook ends webhook delivery; pending updates stay for getUpdates
// unless dropped. Deliveries in flight are cancelled and their updates kept.
func (e *Emulator) removeWebhook(drop bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wh.hook != nil {
		e.wh.hook.cancel()
		e.wh.hook = nil
	}
	if drop {
		e.updates = e.updates[:0]
	}
	e.notifyLocked()
	return true
}

func (e *Emulator) apiGetWebhookInfo(context.Context, params) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	info := map[string]any{"url": "", "has_custom_certificate": false, "pending_update_count": len(e.updates)}
	if h := e.wh.hook; h != nil {
		info["url"] = h.url
		info["max_connections"] = h.maxConnections
		info["ip_address"] = "127.0.0.1"
		if len(h.allowed) > 0 {
			info["allowed_updates"] = h.allowed
		}
	}
	if e.wh.lastErr != "" {
		info["last_error_date"] = e.wh.lastErrAt
		info["last_error_message"] = e.wh.lastErr
	}
	return info, nil
}

// chatOf is the chat an update belongs to (delivery is ordered per chat).
func chatOf(u *wireUpdate) int64 {
	switch {
	case u.Message != nil:
		return u.Message.Chat.ID
	case u.CallbackQuery != nil:
		return u.CallbackQuery.From.ID
	}
	return 0
}

func allowedType(allowed []string, u *wireUpdate) bool {
	return len(allowed) == 0 || (u.Message != nil && slices.Contains(allowed, "message")) ||
		(u.CallbackQuery != nil && slices.Contains(allowed, "callback_query"))
}

// runWebhook starts deliveries while h is the webhook: for each chat its
// oldest pending update, when none of that chat is in flight, up to
// max_connections at once.
func (e *Emulator) runWebhook(h *webhook) {
	for {
		e.mu.Lock()
		if e.wh.hook != h {
			e.mu.Unlock()
			return
		}
		// Updates of types the webhook does not want are never sent.
		n := len(e.updates)
		e.updates = slices.DeleteFunc(e.updates, func(u wireUpdate) bool { return !allowedType(h.allowed, &u) })
		if len(e.updates) != n {
			e.notifyLocked() // pending_update_count changed
		}
		var start []wireUpdate
		seen := map[int64]bool{}
		inflight := len(e.wh.inflight)
		for _, u := range e.updates {
			chat := chatOf(&u)
			if seen[chat] {
				continue
			}
			seen[chat] = true
			if e.wh.inflight[u.UpdateID] || inflight >= h.maxConnections {
				continue
			}
			e.wh.inflight[u.UpdateID] = true
			inflight++
			start = append(start, u)
		}
		ch := e.changed
		e.mu.Unlock()
		for _, u := range start {
			go e.deliver(h, u)
		}
		select {
		case <-ch:
		case <-h.ctx.Done():
			return
		case <-e.done:
			return
		}
	}
}

// deliver POSTs u until it is accepted, the webhook changes, or it is
// given up on; the pause between attempts doubles from RetryMin to RetryMax.
func (e *Emulator) deliver(h *webhook, u wireUpdate) {
	opts := e.cfg.Webhook
	body, _ := json.Marshal(u)
	first := time.Now()
	pause := opts.RetryMin
	for attempt := 1; ; attempt++ {
		code, errMsg := e.post(h, body)
		e.mu.Lock()
		e.wh.stats.Attempts++
		e.wh.perUpdate[u.UpdateID]++
		if attempt > 1 {
			e.wh.stats.Retries++
		}
		if code != 0 {
			e.wh.status[code]++
		}
		if codes := e.wh.lastCodes[u.UpdateID]; len(codes) < 100 {
			e.wh.lastCodes[u.UpdateID] = append(codes, code)
		}
		finish := func() {
			delete(e.wh.inflight, u.UpdateID)
			e.notifyLocked()
			e.mu.Unlock()
		}
		if errMsg == "" {
			e.wh.stats.Delivered++
			e.wh.okUpdate[u.UpdateID]++
			e.dropUpdateLocked(u.UpdateID)
			finish()
			return
		}
		e.wh.stats.Failed++
		e.wh.lastErrAt, e.wh.lastErr = e.now().Unix(), errMsg
		if e.wh.hook != h {
			finish() // webhook replaced or deleted: the update stays pending
			return
		}
		if time.Since(first) >= opts.GiveUp {
			e.wh.stats.GaveUp++
			e.wh.giveUps[u.UpdateID] = errMsg
			e.dropUpdateLocked(u.UpdateID)
			e.log.Info("telegram emulator: gave up delivering an update", "update_id", u.UpdateID, "err", errMsg)
			finish()
			return
		}
		e.mu.Unlock()
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-h.ctx.Done():
			t.Stop()
		case <-e.done:
			t.Stop()
		}
		pause = min(2*pause, opts.RetryMax)
		e.mu.Lock()
		gone := e.wh.hook != h
		if gone {
			finish()
			return
		}
		e.mu.Unlock()
	}
}

func (e *Emulator) dropUpdateLocked(id int64) {
	e.updates = slices.DeleteFunc(e.updates, func(u wireUpdate) bool { return u.UpdateID == id })
}

// post makes one delivery. It returns the status (0 without an answer) and,
// for a failed delivery, Telegram's wording of the error.
func (e *Emulator) post(h *webhook, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return 0, "Invalid webhook URL"
	}
	req.Header.Set("Content-Type", "application/json")
	if h.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", h.secret)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return 0, "Connection refused"
		case errors.As(err, &ne) && ne.Timeout():
			return 0, "Read timeout expired"
		case errors.Is(err, context.Canceled):
			return 0, "Webhook was removed"
		}
		return 0, "Connection failed"
	}
	// Telegram reads (a method call may be answered in the body); the
	// emulator only drains a bounded amount so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Sprintf("Wrong response from the webhook: %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return resp.StatusCode, ""
}
