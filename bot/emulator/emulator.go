package emulator

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds on what the emulator keeps in memory. When a bound is reached the
// oldest entries go, as Telegram forgets unfetched updates after a while.
const (
	maxUsers          = 1000
	maxHistory        = 500  // messages per chat
	maxPendingUpdates = 1000 // updates not yet confirmed by getUpdates
	maxFiles          = 500
	maxFileBytes      = 64 << 20 // all stored files together
	maxPollTimeout    = 50 * time.Second
	maxPendingQueries = 1000
)

// Config configures an Emulator.
type Config struct {
	// BotToken is "<bot id>:<secret>", as BotFather issues it; the bot id is
	// the part before the colon.
	BotToken string
	// BotUsername (without @) and BotName (default: the username) are what
	// getMe returns.
	BotUsername string
	BotName     string
	// MiniAppShortName is the short name of the Mini App registered with
	// BotFather: direct links are https://t.me/<BotUsername>/<MiniAppShortName>.
	MiniAppShortName string
	// MiniAppURL is the page a launch opens, e.g. http://127.0.0.1:8080/miniapp/.
	MiniAppURL string
	// SigningKey stands in for Telegram's Ed25519 key; generated when nil.
	SigningKey ed25519.PrivateKey
	// CallbackTimeout bounds how long Press waits for answerCallbackQuery
	// (default 10s).
	CallbackTimeout time.Duration
	// Webhook tunes delivery to a webhook set with setWebhook (webhook.go).
	Webhook WebhookOptions
	// Now is the clock (default time.Now); Log the logger (default: discard).
	Now func() time.Time
	Log *slog.Logger
}

// Errors returned by the Go API.
var (
	ErrNoSuchMessage     = errors.New("emulator: no such message in the chat")
	ErrNoSuchButton      = errors.New("emulator: the message has no callback button with that data")
	ErrNoAnswer          = errors.New("emulator: the bot did not answer the callback query in time")
	ErrNotMiniAppLink    = errors.New("emulator: not a direct link to this bot's Mini App")
	ErrInvalidStartParam = errors.New("emulator: invalid startapp parameter (Telegram does not open the link)")
	ErrClosed            = errors.New("emulator: closed")
)

// Emulator is a local stand-in for Telegram: a Bot API server, simulated
// users and their private chats with the bot, Mini App launches and a web
// chat page. It is safe for concurrent use.
type Emulator struct {
	cfg     Config
	botID   int64
	key     ed25519.PrivateKey
	now     func() time.Time
	log     *slog.Logger
	done    chan struct{}
	closeMu sync.Once

	mu         sync.Mutex
	calls      []Call        // calls.go
	changed    chan struct{} // closed and replaced on every change
	version    int64
	users      map[int64]*User
	userOrder  []int64
	nextUserID int64
	updates    []wireUpdate
	nextUpdate int64
	pollGen    int64
	pollEnd    string // why a waiting getUpdates was ended (409 description)
	wh         webhookState
	queries    map[string]*pendingQuery
	files      map[string]*storedFile
	fileOrder  []string
	fileBytes  int
	commands   []BotCommand
	failures   map[string][]failure
	delays     map[string][]time.Duration
	menuButton string
}

type failure struct {
	code       int
	desc       string
	retryAfter int
}

// CallbackAnswer is the bot's answerCallbackQuery.
type CallbackAnswer struct {
	Text      string `json:"text"`
	ShowAlert bool   `json:"show_alert"`
	URL       string `json:"url,omitempty"`
}

type pendingQuery struct {
	ch       chan CallbackAnswer // buffered 1
	answered bool
}

type storedFile struct {
	id, uniqueID, path, contentType string
	data                            []byte
	width, height                   int
}

// User is a simulated Telegram user. Their private chat with the bot has
// chat id = user id.
type User struct {
	e         *Emulator
	id        int64
	firstName string
	lastName  string
	username  string
	lang      string

	// Guarded by e.mu.
	history []*storedMessage
	nextMsg int
}

type storedMessage struct {
	id        int
	fromBot   bool
	date      int64
	editDate  int64
	raw       string // text or caption as sent
	parseMode string
	f         formatted
	photo     *storedFile
	markup    *wireMarkup
}

// Message is a message of a chat as the user sees it now (edits applied).
type Message struct {
	ID      int
	FromBot bool
	// Text is the plain text of a text message, Caption that of a photo,
	// both with formatting removed; Raw is what the bot sent (e.g. HTML).
	Text, Caption, Raw, ParseMode string
	// PhotoFileID is set for photos; Emulator.File returns the bytes.
	PhotoFileID string
	Buttons     [][]Button
	Edited      bool
	Date        time.Time
}

// Button is an inline keyboard button: exactly one of CallbackData, URL and
// WebAppURL is set.
type Button struct {
	Text, CallbackData, URL, WebAppURL string
}

// New checks cfg and returns an emulator with no users.
func New(cfg Config) (*Emulator, error) {
	idPart, secret, ok := strings.Cut(cfg.BotToken, ":")
	botID, err := strconv.ParseInt(idPart, 10, 64)
	if !ok || err != nil || botID <= 0 || secret == "" || strings.ContainsAny(cfg.BotToken, "/ ?#") {
		return nil, errors.New("emulator: BotToken must look like <bot id>:<secret>")
	}
	if cfg.BotUsername == "" || strings.HasPrefix(cfg.BotUsername, "@") {
		return nil, errors.New("emulator: BotUsername is required, without @")
	}
	e := &Emulator{
		cfg: cfg, botID: botID, key: cfg.SigningKey, now: cfg.Now, log: cfg.Log,
		done: make(chan struct{}), changed: make(chan struct{}),
		users: map[int64]*User{}, queries: map[string]*pendingQuery{},
		files: map[string]*storedFile{}, failures: map[string][]failure{}, delays: map[string][]time.Duration{},
		nextUserID: 100000001, menuButton: "default",
	}
	e.cfg.Webhook = e.cfg.Webhook.withDefaults()
	e.wh = webhookState{inflight: map[int64]bool{}, perUpdate: map[int64]int{}, okUpdate: map[int64]int{},
		status: map[int]int{}, lastCodes: map[int64][]int{}, giveUps: map[int64]string{}}
	if e.key == nil {
		_, e.key, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
	} else if len(e.key) != ed25519.PrivateKeySize {
		return nil, errors.New("emulator: SigningKey is not an Ed25519 private key")
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.cfg.BotName == "" {
		e.cfg.BotName = cfg.BotUsername
	}
	if e.cfg.CallbackTimeout <= 0 {
		e.cfg.CallbackTimeout = 10 * time.Second
	}
	// Telegram's update ids start at an arbitrary large number; so do ours,
	// so a bot that assumes they start at 1 is caught here.
	n, _ := rand.Int(rand.Reader, big.NewInt(800_000_000))
	e.nextUpdate = 100_000_000 + n.Int64()
	return e, nil
}

// BotID is the bot's user id (the numeric part of the token).
func (e *Emulator) BotID() int64 { return e.botID }

// PublicKey is the key initData signatures verify with; dev mode puts it in
// the enclave config in place of Telegram's.
func (e *Emulator) PublicKey() ed25519.PublicKey { return e.key.Public().(ed25519.PublicKey) }

// Close wakes every waiting request and call; they return at once from then
// on. Call it before shutting the HTTP server down.
func (e *Emulator) Close() {
	e.closeMu.Do(func() {
		close(e.done)
		e.mu.Lock()
		if e.wh.hook != nil {
			e.wh.hook.cancel() // ends deliveries in flight
		}
		e.mu.Unlock()
	})
}

// Register adds the emulator's routes to mux:
//
//	/{seg}/          Bot API /bot<token>/<method> and files /file/bot<token>/<path>
//	                 (a wildcard so a wrong token gets Telegram's 401, not the mux's 404)
//	GET /{$}         the chat page
//	/emu/            the page's assets (/emu/static/) and JSON API (/emu/api/)
//
// More specific patterns such as /miniapp/ or /healthz coexist with these.
func (e *Emulator) Register(mux *http.ServeMux) {
	mux.HandleFunc("/{seg}/", e.serveTelegram)
	mux.HandleFunc("GET /{$}", e.serveIndex)
	mux.Handle("GET /emu/static/", staticHandler())
	e.registerPageAPI(mux)
}

// Handler returns a mux with only the emulator's routes.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	e.Register(mux)
	return mux
}

// FailNext makes the next `times` calls of method (case-insensitive) fail
// with 429 Too Many Requests and parameters.retry_after = retryAfter.
func (e *Emulator) FailNext(method string, times, retryAfter int) {
	e.FailNextWith(method, times, http.StatusTooManyRequests,
		fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), retryAfter)
}

// FailNextWith makes the next `times` calls of method fail with the given
// error code and description, e.g. 403 "Forbidden: bot was blocked by the
// user". retryAfter is sent only when positive.
func (e *Emulator) FailNextWith(method string, times, code int, description string, retryAfter int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := strings.ToLower(method)
	for range min(times, 1000) {
		e.failures[m] = append(e.failures[m], failure{code: code, desc: description, retryAfter: retryAfter})
	}
}

// DelayNext makes the next `times` calls of method (case-insensitive) wait
// d before they are carried out, as a slow Bot API would: a handler that
// calls it is slow.
func (e *Emulator) DelayNext(method string, times int, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := strings.ToLower(method)
	for range min(times, 1000) {
		e.delays[m] = append(e.delays[m], d)
	}
}

// notifyLocked wakes every waiter; e.mu must be held.
func (e *Emulator) notifyLocked() {
	e.version++
	close(e.changed)
	e.changed = make(chan struct{})
}

// User returns the simulated user with this id, creating it if needed (an
// id <= 0 picks a fresh one). An existing user keeps its names.
func (e *Emulator) User(id int64, firstName, username string) *User {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, _ := e.addUserLocked(id, firstName, username, true)
	return u
}

// Users lists the users in the order they were created.
func (e *Emulator) Users() []*User {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*User, 0, len(e.userOrder))
	for _, id := range e.userOrder {
		out = append(out, e.users[id])
	}
	return out
}

func (e *Emulator) addUserLocked(id int64, firstName, username string, unbounded bool) (*User, error) {
	if id > 0 {
		if u, ok := e.users[id]; ok {
			return u, nil
		}
	}
	if !unbounded && len(e.users) >= maxUsers {
		return nil, errors.New("too many users")
	}
	if id <= 0 {
		for e.users[e.nextUserID] != nil {
			e.nextUserID++
		}
		id = e.nextUserID
		e.nextUserID++
	}
	if firstName == "" {
		firstName = "User"
	}
	u := &User{e: e, id: id, firstName: firstName, username: username, lang: "en"}
	e.users[id] = u
	e.userOrder = append(e.userOrder, id)
	e.notifyLocked()
	return u, nil
}

func (e *Emulator) userByUsername(name string) *User {
	for _, id := range e.userOrder {
		if u := e.users[id]; u.username != "" && strings.EqualFold(u.username, name) {
			return u
		}
	}
	return nil
}

// ID, FirstName and Username identify the user.
func (u *User) ID() int64         { return u.id }
func (u *User) FirstName() string { return u.firstName }
func (u *User) Username() string  { return u.username }

func (u *User) wire() wireUser {
	return wireUser{ID: u.id, FirstName: u.firstName, LastName: u.lastName, Username: u.username, LanguageCode: u.lang}
}

func (u *User) wireChat() wireChat {
	return wireChat{ID: u.id, Type: "private", FirstName: u.firstName, LastName: u.lastName, Username: u.username}
}

// chatInstance is Telegram's opaque, stable id of the chat (a signed 64-bit
// decimal), derived from the emulator key so it is stable per key.
func (e *Emulator) chatInstance(userID int64) string {
	h := sha256.New()
	h.Write(e.key.Seed())
	h.Write([]byte("chat_instance"))
	_ = binary.Write(h, binary.BigEndian, userID)
	return strconv.FormatInt(int64(binary.BigEndian.Uint64(h.Sum(nil))), 10)
}

func (e *Emulator) botWire() *wireUser {
	return &wireUser{ID: e.botID, IsBot: true, FirstName: e.cfg.BotName, Username: e.cfg.BotUsername}
}

// wireLocked renders a stored message as the Bot API sends it.
func (e *Emulator) wireLocked(u *User, m *storedMessage) *wireMessage {
	w := &wireMessage{MessageID: m.id, Chat: u.wireChat(), Date: m.date, EditDate: m.editDate, ReplyMarkup: m.markup}
	if m.fromBot {
		w.From = e.botWire()
	} else {
		from := u.wire()
		w.From = &from
	}
	if m.photo != nil {
		w.Photo = []wirePhotoSize{m.photo.size()}
		w.Caption, w.CaptionEntities = m.f.plain, m.f.entities
	} else {
		w.Text, w.Entities = m.f.plain, m.f.entities
	}
	return w
}

func (f *storedFile) size() wirePhotoSize {
	return wirePhotoSize{FileID: f.id, FileUniqueID: f.uniqueID, Width: f.width, Height: f.height, FileSize: len(f.data)}
}

func (m *storedMessage) public() Message {
	out := Message{ID: m.id, FromBot: m.fromBot, Raw: m.raw, ParseMode: m.parseMode,
		Edited: m.editDate != 0, Date: time.Unix(m.date, 0)}
	if m.photo != nil {
		out.PhotoFileID, out.Caption = m.photo.id, m.f.plain
	} else {
		out.Text = m.f.plain
	}
	if m.markup != nil {
		for _, row := range m.markup.InlineKeyboard {
			var r []Button
			for _, b := range row {
				pb := Button{Text: b.Text, CallbackData: b.CallbackData, URL: b.URL}
				if b.WebApp != nil {
					pb.WebAppURL = b.WebApp.URL
				}
				r = append(r, pb)
			}
			out.Buttons = append(out.Buttons, r)
		}
	}
	return out
}

// appendLocked adds a message to the chat, forgetting the oldest beyond the bound.
func (u *User) appendLocked(m *storedMessage) {
	u.nextMsg++
	m.id = u.nextMsg
	u.history = append(u.history, m)
	if len(u.history) > maxHistory {
		u.history = slices.Delete(u.history, 0, len(u.history)-maxHistory)
	}
}

func (u *User) findLocked(id int) (int, *storedMessage) {
	for i, m := range u.history {
		if m.id == id {
			return i, m
		}
	}
	return -1, nil
}

// enqueueLocked adds an update for getUpdates.
func (e *Emulator) enqueueLocked(upd wireUpdate) {
	upd.UpdateID = e.nextUpdate
	e.nextUpdate++
	e.updates = append(e.updates, upd)
	if len(e.updates) > maxPendingUpdates {
		e.updates = slices.Delete(e.updates, 0, len(e.updates)-maxPendingUpdates)
	}
	e.notifyLocked()
}

// Send is the user sending text to the bot; it returns the message id.
func (u *User) Send(text string) int {
	e := u.e
	e.mu.Lock()
	defer e.mu.Unlock()
	m := &storedMessage{date: e.now().Unix(), raw: text, f: plainText(text)}
	m.f.entities = commandEntities(text)
	u.appendLocked(m)
	e.enqueueLocked(wireUpdate{Message: e.wireLocked(u, m)})
	return m.id
}

// Press taps the callback button with callbackData under message messageID
// and waits (Config.CallbackTimeout at most) for the bot's
// answerCallbackQuery; it returns the answer's text.
func (u *User) Press(messageID int, callbackData string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), u.e.cfg.CallbackTimeout)
	defer cancel()
	a, err := u.PressContext(ctx, messageID, callbackData)
	return a.Text, err
}

// PressContext is Press with a context bounding the wait.
func (u *User) PressContext(ctx context.Context, messageID int, callbackData string) (CallbackAnswer, error) {
	e := u.e
	e.mu.Lock()
	_, m := u.findLocked(messageID)
	if m == nil {
		e.mu.Unlock()
		return CallbackAnswer{}, ErrNoSuchMessage
	}
	found := false
	if m.markup != nil {
		for _, row := range m.markup.InlineKeyboard {
			for _, b := range row {
				found = found || (b.CallbackData != "" && b.CallbackData == callbackData)
			}
		}
	}
	if !found {
		e.mu.Unlock()
		return CallbackAnswer{}, ErrNoSuchButton
	}
	id := randomDecimal()
	q := &pendingQuery{ch: make(chan CallbackAnswer, 1)}
	if len(e.queries) >= maxPendingQueries {
		clear(e.queries)
	}
	e.queries[id] = q
	e.enqueueLocked(wireUpdate{CallbackQuery: &wireCallbackQuery{
		ID: id, From: u.wire(), Message: e.wireLocked(u, m), ChatInstance: e.chatInstance(u.id), Data: callbackData,
	}})
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.queries, id)
		e.mu.Unlock()
	}()
	select {
	case a := <-q.ch:
		return a, nil
	case <-ctx.Done():
		return CallbackAnswer{}, fmt.Errorf("%w: %w", ErrNoAnswer, ctx.Err())
	case <-e.done:
		return CallbackAnswer{}, ErrClosed
	}
}

func randomDecimal() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1, 10)
}

// Messages is the chat as the user sees it now, oldest first.
func (u *User) Messages() []Message {
	u.e.mu.Lock()
	defer u.e.mu.Unlock()
	out := make([]Message, len(u.history))
	for i, m := range u.history {
		out[i] = m.public()
	}
	return out
}

// WaitMessage returns the first message of the chat (oldest first, edits
// applied) for which match is true, waiting for changes until ctx ends.
// To wait for a new message, match on ID greater than one already seen.
func (u *User) WaitMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	e := u.e
	for {
		e.mu.Lock()
		ch := e.changed
		for _, m := range u.history {
			if pm := m.public(); match(pm) {
				e.mu.Unlock()
				return pm, nil
			}
		}
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-e.done:
			return Message{}, ErrClosed
		}
	}
}

// File returns a stored file's bytes (e.g. a photo the bot sent).
func (e *Emulator) File(fileID string) ([]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.files[fileID]
	if !ok {
		return nil, false
	}
	return slices.Clone(f.data), true
}

// Commands is the bot's command menu as last set with setMyCommands.
func (e *Emulator) Commands() []BotCommand {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.commands)
}
