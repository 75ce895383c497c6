package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // photo dimensions
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	maxBody       = 1 << 20  // JSON and urlencoded bodies
	maxUploadBody = 12 << 20 // multipart: Telegram's photo limit is 10 MB
	maxPhoto      = 10 << 20
	maxParts      = 64
	maxTextLen    = 4096 // UTF-16 units, as Telegram counts
	maxCaptionLen = 1024
)

// apiError is a Bot API error reply.
type apiError struct {
	code       int
	desc       string
	retryAfter int
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: 400, desc: "Bad Request: " + fmt.Sprintf(format, args...)}
}

// params are a request's parameters from the query string and the body,
// whatever its encoding: JSON values that are not strings are kept as their
// JSON text, which is also how form encodings carry them.
type params struct {
	v     map[string]string
	files map[string][]byte
}

func (p params) has(k string) bool { _, ok := p.v[k]; return ok }

func (p params) int(k string) (int64, bool, *apiError) {
	s, ok := p.v[k]
	if !ok || s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, false, badRequest("invalid %s specified", k)
	}
	return n, true, nil
}

func (p params) bool(k string) bool {
	s := strings.ToLower(p.v[k])
	return s == "true" || s == "1"
}

func readParams(r *http.Request) (params, *apiError) {
	p := params{v: map[string]string{}, files: map[string][]byte{}}
	for k, vs := range r.URL.Query() {
		p.v[k] = vs[0]
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	tooLarge := &apiError{code: 413, desc: "Request Entity Too Large"}
	switch ct {
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(nil, r.Body, maxUploadBody)
		if ctParams["boundary"] == "" {
			return p, badRequest("invalid multipart body")
		}
		mr, err := r.MultipartReader()
		if err != nil {
			return p, badRequest("invalid multipart body")
		}
		for i := 0; ; i++ {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return p, tooLarge
			}
			if err != nil || i >= maxParts {
				return p, badRequest("invalid multipart body")
			}
			data, err := io.ReadAll(part)
			if errors.As(err, &mbe) {
				return p, tooLarge
			}
			if err != nil {
				return p, badRequest("invalid multipart body")
			}
			if part.FileName() != "" {
				p.files[part.FormName()] = data
			} else {
				p.v[part.FormName()] = string(data)
			}
		}
	case "application/x-www-form-urlencoded":
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
		if err != nil {
			return p, tooLarge
		}
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return p, badRequest("invalid urlencoded body")
		}
		for k, vs := range vals {
			p.v[k] = vs[0]
		}
	case "application/json":
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
		if err != nil {
			return p, tooLarge
		}
		if len(bytes.TrimSpace(body)) == 0 {
			break
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return p, badRequest("invalid JSON body")
		}
		for k, raw := range obj {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				p.v[k] = s
			} else if string(raw) != "null" {
				p.v[k] = string(raw)
			}
		}
	}
	return p, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Replies keep Telegram's field order.
type okReply struct {
	OK     bool `json:"ok"`
	Result any  `json:"result"`
}

type errorReply struct {
	OK          bool         `json:"ok"`
	ErrorCode   int          `json:"error_code"`
	Description string       `json:"description"`
	Parameters  *replyParams `json:"parameters,omitempty"`
}

type replyParams struct {
	RetryAfter int `json:"retry_after"`
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	body := errorReply{ErrorCode: e.code, Description: e.desc}
	if e.retryAfter > 0 {
		body.Parameters = &replyParams{RetryAfter: e.retryAfter}
	}
	writeJSON(w, e.code, body)
}

// serveTelegram serves /bot<token>/<method> and /file/bot<token>/<path>.
func (e *Emulator) serveTelegram(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/file/bot"); ok {
		e.serveFile(w, r, rest)
		return
	}
	rest, ok := strings.CutPrefix(path, "/bot")
	if !ok {
		http.NotFound(w, r)
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	if !e.tokenOK(token) {
		writeAPIError(w, &apiError{code: 401, desc: "Unauthorized"})
		return
	}
	if method == "" || strings.Contains(method, "/") {
		writeAPIError(w, &apiError{code: 404, desc: "Not Found"})
		return
	}
	m := strings.ToLower(method) // Telegram's method names are case-insensitive
	handler, known := botMethods[m]
	if !known {
		writeAPIError(w, &apiError{code: 404, desc: "Not Found"})
		return
	}
	p, perr := readParams(r)
	arrived := e.now()
	if perr == nil {
		perr = e.takeFailure(m)
	}
	if d := e.takeDelay(m); d > 0 && perr == nil {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-e.done:
		}
		t.Stop()
		if r.Context().Err() != nil {
			return // the client gave up while delayed: the call has no effect
		}
	}
	var result any
	if perr == nil {
		result, perr = handler(e, r.Context(), p)
	}
	if p.v != nil {
		e.recordCall(m, p, arrived, perr)
	}
	if perr != nil {
		e.log.Info("telegram emulator: bot API error", "method", method, "code", perr.code, "description", perr.desc)
		writeAPIError(w, perr)
		return
	}
	e.log.Debug("telegram emulator: bot API call", "method", method)
	writeJSON(w, http.StatusOK, okReply{OK: true, Result: result})
}

func (e *Emulator) tokenOK(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(e.cfg.BotToken)) == 1
}

func (e *Emulator) takeFailure(method string) *apiError {
	e.mu.Lock()
	defer e.mu.Unlock()
	fs := e.failures[method]
	if len(fs) == 0 {
		return nil
	}
	f := fs[0]
	e.failures[method] = fs[1:]
	return &apiError{code: f.code, desc: f.desc, retryAfter: f.retryAfter}
}

func (e *Emulator) takeDelay(method string) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	ds := e.delays[method]
	if len(ds) == 0 {
		return 0
	}
	e.delays[method] = ds[1:]
	return ds[0]
}

type methodFunc func(e *Emulator, ctx context.Context, p params) (any, *apiError)

var botMethods map[string]methodFunc

func init() {
	ok := func(e *Emulator, _ context.Context, _ params) (any, *apiError) { return true, nil }
	botMethods = map[string]methodFunc{
		"getme":                  (*Emulator).apiGetMe,
		"getupdates":             (*Emulator).apiGetUpdates,
		"sendmessage":            (*Emulator).apiSendMessage,
		"sendphoto":              (*Emulator).apiSendPhoto,
		"editmessagetext":        (*Emulator).apiEditText,
		"editmessagecaption":     (*Emulator).apiEditCaption,
		"editmessagereplymarkup": (*Emulator).apiEditReplyMarkup,
		"answercallbackquery":    (*Emulator).apiAnswerCallback,
		"setmycommands":          (*Emulator).apiSetMyCommands,
		"getmycommands":          (*Emulator).apiGetMyCommands,
		"deletemycommands":       (*Emulator).apiDeleteMyCommands,
		"deletemessage":          (*Emulator).apiDeleteMessage,
		"getfile":                (*Emulator).apiGetFile,
		"setchatmenubutton":      (*Emulator).apiSetChatMenuButton,
		"getchatmenubutton":      (*Emulator).apiGetChatMenuButton,
		"setwebhook":             (*Emulator).apiSetWebhook,
		"deletewebhook":          (*Emulator).apiDeleteWebhook,
		"sendchataction":         ok,
		"getwebhookinfo":         (*Emulator).apiGetWebhookInfo,
	}
}

func (e *Emulator) apiGetMe(context.Context, params) (any, *apiError) {
	t, f := true, false
	u := e.botWire()
	u.CanJoinGroups, u.CanReadAllGroupMessages, u.SupportsInlineQueries, u.HasMainWebApp = &t, &f, &f, &f
	return u, nil
}

// apiGetUpdates long-polls as Telegram does: offset confirms earlier
// updates; a newer getUpdates makes a waiting one fail with 409 Conflict.
func (e *Emulator) apiGetUpdates(ctx context.Context, p params) (any, *apiError) {
	offset, _, err := p.int("offset")
	if err != nil {
		return nil, err
	}
	limit, hasLimit, err := p.int("limit")
	if err != nil {
		return nil, err
	}
	if !hasLimit || limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _, err := p.int("timeout")
	if err != nil {
		return nil, err
	}
	wait := min(time.Duration(max(timeout, 0))*time.Second, maxPollTimeout)
	var allowed []string
	if s := p.v["allowed_updates"]; s != "" {
		_ = json.Unmarshal([]byte(s), &allowed)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wh.hook != nil {
		return nil, &apiError{code: 409, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	e.pollGen++
	e.pollEnd = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	gen := e.pollGen
	e.notifyLocked()
	switch {
	case offset > 0:
		i := 0
		for i < len(e.updates) && e.updates[i].UpdateID < offset {
			i++
		}
		e.updates = slices.Delete(e.updates, 0, i)
	case offset < 0:
		if keep := int(-offset); keep < len(e.updates) {
			e.updates = slices.Delete(e.updates, 0, len(e.updates)-keep)
		}
	}
	for {
		if gen != e.pollGen {
			return nil, &apiError{code: 409, desc: e.pollEnd}
		}
		out := []wireUpdate{}
		for _, u := range e.updates {
			if len(out) == int(limit) {
				break
			}
			if len(allowed) == 0 || (u.Message != nil && slices.Contains(allowed, "message")) ||
				(u.CallbackQuery != nil && slices.Contains(allowed, "callback_query")) {
				out = append(out, u)
			}
		}
		if len(out) > 0 || wait == 0 {
			return out, nil
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
			e.mu.Lock()
		case <-timer.C:
			e.mu.Lock()
			return []wireUpdate{}, nil
		case <-ctx.Done():
			e.mu.Lock()
			return nil, &apiError{code: 499, desc: "request canceled"}
		case <-e.done:
			e.mu.Lock()
			return []wireUpdate{}, nil
		}
	}
}

// chatLocked resolves chat_id to a user's private chat.
func (e *Emulator) chatLocked(p params) (*User, *apiError) {
	s, ok := p.v["chat_id"]
	if !ok || s == "" {
		return nil, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return nil, badRequest("chat not found")
	}
	u, ok := e.users[id]
	if !ok {
		return nil, badRequest("chat not found")
	}
	return u, nil
}

// parseMarkup reads reply_markup: inline keyboards are kept; reply
// keyboards, remove_keyboard and force_reply are accepted and ignored.
func parseMarkup(s string) (*wireMarkup, *apiError) {
	if s == "" {
		return nil, nil
	}
	var raw struct {
		InlineKeyboard *[][]struct {
			Text         *string         `json:"text"`
			URL          *string         `json:"url"`
			CallbackData *string         `json:"callback_data"`
			WebApp       *wireWebApp     `json:"web_app"`
			Other        json.RawMessage `json:"switch_inline_query"`
			Pay          *bool           `json:"pay"`
			LoginURL     json.RawMessage `json:"login_url"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	if raw.InlineKeyboard == nil {
		return nil, nil
	}
	m := &wireMarkup{InlineKeyboard: [][]wireButton{}}
	count := 0
	for _, row := range *raw.InlineKeyboard {
		var out []wireButton
		for _, b := range row {
			if count++; count > 100 {
				return nil, badRequest("too many inline keyboard buttons")
			}
			if b.Text == nil || *b.Text == "" {
				return nil, badRequest("can't parse inline keyboard button: Text must be non-empty")
			}
			wb := wireButton{Text: *b.Text}
			kinds := 0
			if b.URL != nil {
				kinds++
				u, err := url.Parse(*b.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "tg") || (u.Scheme != "tg" && u.Host == "") {
					return nil, badRequest("inline keyboard button URL '%s' is invalid: Wrong HTTP URL", *b.URL)
				}
				wb.URL = *b.URL
			}
			if b.CallbackData != nil {
				kinds++
				if *b.CallbackData == "" || len(*b.CallbackData) > 64 {
					return nil, badRequest("BUTTON_DATA_INVALID")
				}
				wb.CallbackData = *b.CallbackData
			}
			if b.WebApp != nil {
				kinds++
				if u, err := url.Parse(b.WebApp.URL); err != nil || u.Scheme != "https" {
					return nil, badRequest("inline keyboard button Web App URL '%s' is invalid: Only HTTPS links are allowed", b.WebApp.URL)
				}
				wb.WebApp = b.WebApp
			}
			if len(b.Other) > 0 || b.Pay != nil || len(b.LoginURL) > 0 {
				return nil, badRequest("this inline keyboard button type is not supported by the emulator")
			}
			if kinds != 1 {
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			}
			out = append(out, wb)
		}
		if len(out) > 0 {
			m.InlineKeyboard = append(m.InlineKeyboard, out)
		}
	}
	if len(m.InlineKeyboard) == 0 {
		return nil, nil
	}
	return m, nil
}

// formatParam parses text/caption in the request's parse_mode.
func formatParam(p params, key string, limit int, emptyErr string) (formatted, *apiError) {
	f, err := format(p.v[key], p.v["parse_mode"])
	if err != nil {
		if p.v["parse_mode"] != "" && !strings.EqualFold(p.v["parse_mode"], "html") {
			return f, badRequest("unsupported parse_mode")
		}
		return f, badRequest("can't parse entities: %s", err.Error())
	}
	if emptyErr != "" && strings.TrimSpace(f.plain) == "" {
		return f, badRequest("%s", emptyErr)
	}
	if utf16Len(f.plain) > limit {
		if key == "caption" {
			return f, badRequest("message caption is too long")
		}
		return f, badRequest("message is too long")
	}
	return f, nil
}

func (e *Emulator) apiSendMessage(_ context.Context, p params) (any, *apiError) {
	f, err := formatParam(p, "text", maxTextLen, "message text is empty")
	if err != nil {
		return nil, err
	}
	markup, err := parseMarkup(p.v["reply_markup"])
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, err := e.chatLocked(p)
	if err != nil {
		return nil, err
	}
	m := &storedMessage{fromBot: true, date: e.now().Unix(), raw: p.v["text"], parseMode: p.v["parse_mode"], f: f, markup: markup}
	u.appendLocked(m)
	e.notifyLocked()
	return e.wireLocked(u, m), nil
}

func (e *Emulator) apiSendPhoto(_ context.Context, p params) (any, *apiError) {
	f, err := formatParam(p, "caption", maxCaptionLen, "")
	if err != nil {
		return nil, err
	}
	markup, err := parseMarkup(p.v["reply_markup"])
	if err != nil {
		return nil, err
	}
	data, upload := p.files["photo"]
	ref := p.v["photo"]
	if name, ok := strings.CutPrefix(ref, "attach://"); ok {
		data, upload = p.files[name]
		if !upload {
			return nil, badRequest("wrong file identifier/HTTP URL specified")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, err := e.chatLocked(p)
	if err != nil {
		return nil, err
	}
	var file *storedFile
	switch {
	case upload:
		if file, err = e.storePhotoLocked(data); err != nil {
			return nil, err
		}
	case ref == "":
		return nil, badRequest("there is no photo in the request")
	case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
		// Telegram would fetch it; the emulator makes no outgoing requests.
		return nil, badRequest("wrong file identifier/HTTP URL specified (the emulator does not fetch URLs)")
	default:
		if file = e.files[ref]; file == nil {
			return nil, badRequest("wrong file identifier/HTTP URL specified")
		}
	}
	m := &storedMessage{fromBot: true, date: e.now().Unix(), raw: p.v["caption"], parseMode: p.v["parse_mode"], f: f, photo: file, markup: markup}
	u.appendLocked(m)
	e.notifyLocked()
	return e.wireLocked(u, m), nil
}

func (e *Emulator) storePhotoLocked(data []byte) (*storedFile, *apiError) {
	if len(data) == 0 {
		return nil, badRequest("file must be non-empty")
	}
	if len(data) > maxPhoto {
		return nil, badRequest("PHOTO_INVALID_DIMENSIONS")
	}
	cfg, kind, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, badRequest("IMAGE_PROCESS_FAILED")
	}
	sum := sha256.Sum256(data)
	n := len(e.fileOrder)
	f := &storedFile{
		id:       "AgAC" + base64.RawURLEncoding.EncodeToString(sum[:24]),
		uniqueID: "AQAD" + base64.RawURLEncoding.EncodeToString(sum[:9]),
		data:     data, width: cfg.Width, height: cfg.Height,
		contentType: "image/" + kind,
	}
	ext := map[string]string{"jpeg": "jpg"}[kind]
	if ext == "" {
		ext = kind
	}
	f.path = fmt.Sprintf("photos/file_%d.%s", n, ext)
	if old := e.files[f.id]; old != nil {
		return old, nil
	}
	e.files[f.id] = f
	e.fileOrder = append(e.fileOrder, f.id)
	e.fileBytes += len(data)
	// Forget the oldest files beyond the bounds; messages that show them keep
	// their reference, as Telegram keeps files of messages.
	for len(e.fileOrder) > 1 && (len(e.fileOrder) > maxFiles || e.fileBytes > maxFileBytes) {
		old := e.files[e.fileOrder[0]]
		e.fileBytes -= len(old.data)
		delete(e.files, old.id)
		e.fileOrder = e.fileOrder[1:]
	}
	return f, nil
}

// editTarget finds the bot message an edit method refers to.
func (e *Emulator) editTargetLocked(p params, verb string) (*User, *storedMessage, *apiError) {
	if p.v["inline_message_id"] != "" {
		return nil, nil, badRequest("inline messages are not supported by the emulator")
	}
	u, err := e.chatLocked(p)
	if err != nil {
		return nil, nil, err
	}
	id, ok, err := p.int("message_id")
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, badRequest("message identifier is not specified")
	}
	_, m := u.findLocked(int(id))
	if m == nil {
		return nil, nil, badRequest("message to %s not found", verb)
	}
	if !m.fromBot {
		return nil, nil, badRequest("message can't be edited")
	}
	return u, m, nil
}

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

func sameContent(a formatted, b formatted) bool {
	ja, _ := json.Marshal(a.entities)
	jb, _ := json.Marshal(b.entities)
	return a.plain == b.plain && bytes.Equal(ja, jb)
}

func sameMarkup(a, b *wireMarkup) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// An edit without reply_markup removes the inline keyboard, as in Telegram.
func (e *Emulator) apiEditText(_ context.Context, p params) (any, *apiError) {
	return e.editBody(p, "text", maxTextLen, "message text is empty", false)
}

func (e *Emulator) apiEditCaption(_ context.Context, p params) (any, *apiError) {
	return e.editBody(p, "caption", maxCaptionLen, "", true)
}

// editBody replaces the text (of a text message) or the caption (of a
// photo) named by field, and the keyboard, refusing an edit that changes
// nothing with Telegram's "message is not modified".
func (e *Emulator) editBody(p params, field string, maxLen int, emptyErr string, photo bool) (any, *apiError) {
	f, err := formatParam(p, field, maxLen, emptyErr)
	if err != nil {
		return nil, err
	}
	markup, err := parseMarkup(p.v["reply_markup"])
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, m, err := e.editTargetLocked(p, "edit")
	if err != nil {
		return nil, err
	}
	if (m.photo != nil) != photo {
		return nil, badRequest("there is no %s in the message to edit", field)
	}
	if sameContent(m.f, f) && sameMarkup(m.markup, markup) {
		return nil, badRequest(notModified)
	}
	m.raw, m.parseMode, m.f, m.markup, m.editDate = p.v[field], p.v["parse_mode"], f, markup, e.now().Unix()
	e.notifyLocked()
	return e.wireLocked(u, m), nil
}

func (e *Emulator) apiEditReplyMarkup(_ context.Context, p params) (any, *apiError) {
	markup, err := parseMarkup(p.v["reply_markup"])
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, m, err := e.editTargetLocked(p, "edit")
	if err != nil {
		return nil, err
	}
	if sameMarkup(m.markup, markup) {
		return nil, badRequest(notModified)
	}
	m.markup, m.editDate = markup, e.now().Unix()
	e.notifyLocked()
	return e.wireLocked(u, m), nil
}

func (e *Emulator) apiDeleteMessage(_ context.Context, p params) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, err := e.chatLocked(p)
	if err != nil {
		return nil, err
	}
	id, ok, err := p.int("message_id")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, badRequest("message identifier is not specified")
	}
	i, _ := u.findLocked(int(id))
	if i < 0 {
		return nil, badRequest("message to delete not found")
	}
	u.history = slices.Delete(u.history, i, i+1)
	e.notifyLocked()
	return true, nil
}

func (e *Emulator) apiAnswerCallback(_ context.Context, p params) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queries[p.v["callback_query_id"]]
	if q == nil || q.answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	if utf8.RuneCountInString(p.v["text"]) > 200 {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	q.answered = true
	q.ch <- CallbackAnswer{Text: p.v["text"], ShowAlert: p.bool("show_alert"), URL: p.v["url"]}
	return true, nil
}

func (e *Emulator) apiSetMyCommands(_ context.Context, p params) (any, *apiError) {
	var cmds []BotCommand
	if err := json.Unmarshal([]byte(p.v["commands"]), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	if len(cmds) > 100 {
		return nil, badRequest("BOT_COMMANDS_TOO_MUCH")
	}
	for _, c := range cmds {
		if c.Command == "" || len(c.Command) > 32 || strings.IndexFunc(c.Command, func(r rune) bool { return r > 127 || !isCmdByte(byte(r)) || r >= 'A' && r <= 'Z' }) >= 0 {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if d := utf8.RuneCountInString(c.Description); d == 0 || d > 256 {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	// Scopes and language codes are not modelled: one menu for everyone.
	e.mu.Lock()
	defer e.mu.Unlock()
	e.commands = cmds
	e.notifyLocked()
	return true, nil
}

func (e *Emulator) apiGetMyCommands(context.Context, params) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.commands == nil {
		return []BotCommand{}, nil
	}
	return e.commands, nil
}

func (e *Emulator) apiDeleteMyCommands(context.Context, params) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.commands = nil
	e.notifyLocked()
	return true, nil
}

func (e *Emulator) apiSetChatMenuButton(_ context.Context, p params) (any, *apiError) {
	var mb struct {
		Type string `json:"type"`
	}
	if s := p.v["menu_button"]; s != "" {
		if err := json.Unmarshal([]byte(s), &mb); err != nil {
			return nil, badRequest("can't parse menu button")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.menuButton = cmp(mb.Type, "default")
	return true, nil
}

func (e *Emulator) apiGetChatMenuButton(context.Context, params) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return map[string]string{"type": e.menuButton}, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (e *Emulator) apiGetFile(_ context.Context, p params) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.files[p.v["file_id"]]
	if f == nil {
		return nil, badRequest("invalid file_id")
	}
	return wireFile{FileID: f.id, FileUniqueID: f.uniqueID, FileSize: len(f.data), FilePath: f.path}, nil
}

// serveFile serves /file/bot<token>/<file_path>.
func (e *Emulator) serveFile(w http.ResponseWriter, r *http.Request, rest string) {
	token, path, _ := strings.Cut(rest, "/")
	if !e.tokenOK(token) {
		writeAPIError(w, &apiError{code: 401, desc: "Unauthorized"})
		return
	}
	e.mu.Lock()
	var f *storedFile
	for _, id := range e.fileOrder {
		if e.files[id].path == path {
			f = e.files[id]
			break
		}
	}
	e.mu.Unlock()
	if f == nil {
		writeAPIError(w, &apiError{code: 404, desc: "Not Found"})
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}
