package emulator

import (
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

//go:embed static
var staticFS embed.FS

const (
	maxPageBody = 64 << 10
	maxPageWait = 25 * time.Second
)

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.StripPrefix("/emu/static/", noCache(http.FileServerFS(sub)))
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func (e *Emulator) serveIndex(w http.ResponseWriter, r *http.Request) {
	b, _ := staticFS.ReadFile("static/index.html")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	// The page loads nothing from elsewhere; frames only from this origin.
	frames := "'self'"
	if u, err := url.Parse(e.cfg.MiniAppURL); err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		frames += " " + u.Scheme + "://" + u.Host
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-src "+frames)
	_, _ = w.Write(b)
}

// The chat page's JSON API. It is unauthenticated: the emulator is a local
// development tool, bound to loopback by dev mode.
func (e *Emulator) registerPageAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /emu/api/state", e.pageState)
	mux.HandleFunc("POST /emu/api/users", e.pageAddUser)
	mux.HandleFunc("POST /emu/api/send", e.pageSend)
	mux.HandleFunc("POST /emu/api/press", e.pagePress)
	mux.HandleFunc("POST /emu/api/open", e.pageOpen)
	mux.HandleFunc("GET /emu/api/files/{id}", e.pageFile)
}

type pageButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
	WebAppURL    string `json:"web_app_url,omitempty"`
	MiniApp      bool   `json:"miniapp,omitempty"`
}

type pageNode struct {
	T       string      `json:"t"`
	V       string      `json:"v,omitempty"`
	Href    string      `json:"href,omitempty"`
	MiniApp bool        `json:"miniapp,omitempty"`
	C       []*pageNode `json:"c,omitempty"`
}

type pageMessage struct {
	ID       int            `json:"id"`
	FromBot  bool           `json:"from_bot"`
	Date     int64          `json:"date"`
	Edited   bool           `json:"edited"`
	Text     string         `json:"text"` // plain text or caption
	Tree     []*pageNode    `json:"tree"`
	PhotoURL string         `json:"photo_url,omitempty"`
	Buttons  [][]pageButton `json:"buttons,omitempty"`
}

type pageUser struct {
	ID        int64  `json:"id"`
	FirstName string `json:"first_name"`
	Username  string `json:"username,omitempty"`
}

func (e *Emulator) isMiniAppLink(link string) bool {
	_, ok, _ := e.miniAppLink(link)
	return ok
}

func (e *Emulator) pageTree(ns []*node, depth int) []*pageNode {
	out := make([]*pageNode, 0, len(ns))
	for _, n := range ns {
		pn := &pageNode{T: n.T, V: n.V, Href: n.Href}
		if n.Href != "" {
			pn.MiniApp = e.isMiniAppLink(n.Href)
		}
		if depth < 40 {
			pn.C = e.pageTree(n.C, depth+1)
		}
		out = append(out, pn)
	}
	return out
}

func (e *Emulator) pageMessageLocked(m *storedMessage) pageMessage {
	pm := pageMessage{ID: m.id, FromBot: m.fromBot, Date: m.date, Edited: m.editDate != 0, Text: m.f.plain, Tree: e.pageTree(m.f.tree, 0)}
	if m.photo != nil {
		pm.PhotoURL = "/emu/api/files/" + m.photo.id
	}
	if m.markup != nil {
		for _, row := range m.markup.InlineKeyboard {
			var r []pageButton
			for _, b := range row {
				pb := pageButton{Text: b.Text, CallbackData: b.CallbackData, URL: b.URL}
				if b.WebApp != nil {
					pb.WebAppURL = b.WebApp.URL
				}
				if b.URL != "" {
					pb.MiniApp = e.isMiniAppLink(b.URL)
				}
				r = append(r, pb)
			}
			pm.Buttons = append(pm.Buttons, r)
		}
	}
	return pm
}

func pageError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func readPageJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPageBody))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		pageError(w, http.StatusBadRequest, "bad request body")
		return false
	}
	return true
}

func (e *Emulator) pageUser(w http.ResponseWriter, id int64) *User {
	e.mu.Lock()
	u := e.users[id]
	e.mu.Unlock()
	if u == nil {
		pageError(w, http.StatusNotFound, "no such user")
	}
	return u
}

// pageState returns everything the page shows. With since=<version> it
// long-polls (at most wait seconds, 25 at most) until the version changes.
func (e *Emulator) pageState(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	uid, _ := strconv.ParseInt(q.Get("user"), 10, 64)
	since, hasSince := int64(0), q.Has("since")
	if hasSince {
		since, _ = strconv.ParseInt(q.Get("since"), 10, 64)
	}
	waitS, _ := strconv.Atoi(q.Get("wait"))
	timer := time.NewTimer(min(time.Duration(max(waitS, 0))*time.Second, maxPageWait))
	defer timer.Stop()
	e.mu.Lock()
	for hasSince && since == e.version {
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			hasSince = false
		case <-r.Context().Done():
			return
		case <-e.done:
			hasSince = false
		}
		e.mu.Lock()
	}
	out := struct {
		Version  int64         `json:"version"`
		Bot      pageUser      `json:"bot"`
		Users    []pageUser    `json:"users"`
		Commands []BotCommand  `json:"commands"`
		User     *pageUser     `json:"user"`
		Messages []pageMessage `json:"messages"`
	}{Version: e.version, Bot: pageUser{ID: e.botID, FirstName: e.cfg.BotName, Username: e.cfg.BotUsername},
		Users: []pageUser{}, Commands: e.commands, Messages: []pageMessage{}}
	if out.Commands == nil {
		out.Commands = []BotCommand{}
	}
	for _, id := range e.userOrder {
		u := e.users[id]
		out.Users = append(out.Users, pageUser{ID: u.id, FirstName: u.firstName, Username: u.username})
	}
	if u := e.users[uid]; u != nil {
		out.User = &pageUser{ID: u.id, FirstName: u.firstName, Username: u.username}
		for _, m := range u.history {
			out.Messages = append(out.Messages, e.pageMessageLocked(m))
		}
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// pageAddUser returns the user with that username, creating it if needed.
func (e *Emulator) pageAddUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		FirstName string `json:"first_name"`
		Username  string `json:"username"`
	}
	if !readPageJSON(w, r, &req) {
		return
	}
	req.Username = strings.TrimPrefix(strings.TrimSpace(req.Username), "@")
	req.FirstName = strings.TrimSpace(req.FirstName)
	if len(req.Username) > 32 || strings.IndexFunc(req.Username, func(r rune) bool { return r > 127 || !isCmdByte(byte(r)) }) >= 0 ||
		utf8.RuneCountInString(req.FirstName) > 64 || (req.Username == "" && req.FirstName == "") {
		pageError(w, http.StatusBadRequest, "a username is 1-32 of A-Z a-z 0-9 _, a first name at most 64 characters")
		return
	}
	if req.FirstName == "" {
		req.FirstName = strings.ToUpper(req.Username[:1]) + req.Username[1:]
	}
	e.mu.Lock()
	u := e.userByUsername(req.Username)
	var err error
	if u == nil || req.Username == "" {
		u, err = e.addUserLocked(0, req.FirstName, req.Username, false)
	}
	e.mu.Unlock()
	if err != nil {
		pageError(w, http.StatusTooManyRequests, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, pageUser{ID: u.id, FirstName: u.firstName, Username: u.username})
}

func (e *Emulator) pageSend(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User int64  `json:"user"`
		Text string `json:"text"`
	}
	if !readPageJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Text) == "" || utf16Len(req.Text) > maxTextLen || !utf8.ValidString(req.Text) {
		pageError(w, http.StatusBadRequest, "a message is 1-4096 characters")
		return
	}
	if u := e.pageUser(w, req.User); u != nil {
		writeJSON(w, http.StatusOK, map[string]int{"message_id": u.Send(req.Text)})
	}
}

func (e *Emulator) pagePress(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User      int64  `json:"user"`
		MessageID int    `json:"message_id"`
		Data      string `json:"data"`
	}
	if !readPageJSON(w, r, &req) {
		return
	}
	u := e.pageUser(w, req.User)
	if u == nil {
		return
	}
	a, err := u.PressContext(r.Context(), req.MessageID, req.Data)
	switch {
	case errors.Is(err, ErrNoAnswer):
		writeJSON(w, http.StatusOK, map[string]any{"answered": false})
	case err != nil:
		pageError(w, http.StatusBadRequest, err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{"answered": true, "text": a.Text, "show_alert": a.ShowAlert, "url": a.URL})
	}
}

func (e *Emulator) pageOpen(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User int64  `json:"user"`
		URL  string `json:"url"`
	}
	if !readPageJSON(w, r, &req) {
		return
	}
	u := e.pageUser(w, req.User)
	if u == nil {
		return
	}
	launch, _, err := u.OpenMiniApp(req.URL)
	if err != nil {
		pageError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"launch_url": launch})
}

func (e *Emulator) pageFile(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	f := e.files[r.PathValue("id")]
	e.mu.Unlock()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(f.data)
}
