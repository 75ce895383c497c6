package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/autowallet/autowallet/protocol"
)

var startParamRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,512}$`)

// themeParams is Telegram Web's light theme, sent as tgWebAppThemeParams.
const themeParams = `{"bg_color":"#ffffff","text_color":"#000000","hint_color":"#707579","link_color":"#3390ec",` +
	`"button_color":"#3390ec","button_text_color":"#ffffff","secondary_bg_color":"#f4f4f5","header_bg_color":"#ffffff",` +
	`"accent_text_color":"#3390ec","section_bg_color":"#ffffff","section_header_text_color":"#3390ec",` +
	`"subtitle_text_color":"#707579","destructive_text_color":"#e53935","bottom_bar_bg_color":"#ffffff"}`

// miniAppLink recognizes a direct link to this bot's Mini App:
// https://t.me/<bot>/<app>[?startapp=<param>] (also telegram.me and
// tg://resolve?domain=<bot>&appname=<app>). ok reports whether link is one;
// err whether Telegram would refuse to open it.
func (e *Emulator) miniAppLink(link string) (startParam string, ok bool, err error) {
	u, perr := url.Parse(link)
	if perr != nil || e.cfg.MiniAppShortName == "" {
		return "", false, ErrNotMiniAppLink
	}
	var bot, app string
	q := u.Query()
	switch {
	case (u.Scheme == "https" || u.Scheme == "http") && (strings.EqualFold(u.Host, "t.me") || strings.EqualFold(u.Host, "telegram.me")):
		var rest string
		bot, rest, _ = strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		app = strings.TrimSuffix(rest, "/")
	case u.Scheme == "tg" && u.Host == "resolve":
		bot, app = q.Get("domain"), q.Get("appname")
	default:
		return "", false, ErrNotMiniAppLink
	}
	if !strings.EqualFold(bot, e.cfg.BotUsername) || !strings.EqualFold(app, e.cfg.MiniAppShortName) {
		return "", false, ErrNotMiniAppLink
	}
	if !q.Has("startapp") || q.Get("startapp") == "" {
		return "", true, nil
	}
	sp := q.Get("startapp")
	if !startParamRE.MatchString(sp) {
		return "", true, ErrInvalidStartParam
	}
	return sp, true, nil
}

// initDataUser is the user object of initData, with Telegram's field order.
type initDataUser struct {
	ID              int64  `json:"id"`
	FirstName       string `json:"first_name"`
	LastName        string `json:"last_name,omitempty"`
	Username        string `json:"username,omitempty"`
	LanguageCode    string `json:"language_code,omitempty"`
	AllowsWriteToPM bool   `json:"allows_write_to_pm"`
}

// OpenMiniApp opens a direct link to the bot's Mini App in the user's
// private chat with the bot, as a tap on it in Telegram does. It returns the
// URL the Mini App's iframe loads (Config.MiniAppURL with Telegram's launch
// parameters) and the initData in it, signed with the emulator's Ed25519 key
// (the `signature` field) and the bot token (`hash`).
func (u *User) OpenMiniApp(link string) (launchURL, initData string, err error) {
	e := u.e
	sp, ok, err := e.miniAppLink(link)
	if !ok || err != nil {
		return "", "", err
	}
	if e.cfg.MiniAppURL == "" {
		return "", "", fmt.Errorf("emulator: Config.MiniAppURL is not set")
	}
	var ub bytes.Buffer
	enc := json.NewEncoder(&ub)
	enc.SetEscapeHTML(false) // Telegram does not escape <, > and & as \u003c...
	if err := enc.Encode(initDataUser{ID: u.id, FirstName: u.firstName, LastName: u.lastName,
		Username: u.username, LanguageCode: u.lang, AllowsWriteToPM: true}); err != nil {
		return "", "", err
	}
	values := map[string]string{
		"user":          strings.TrimSuffix(ub.String(), "\n"),
		"auth_date":     strconv.FormatInt(e.now().Unix(), 10),
		"chat_type":     "sender", // a direct link opened in the private chat with the bot
		"chat_instance": e.chatInstance(u.id),
	}
	if sp != "" {
		values["start_param"] = sp
	}
	initData = protocol.SignInitData(values, e.botID, e.key, e.cfg.BotToken)

	base, err := url.Parse(e.cfg.MiniAppURL)
	if err != nil {
		return "", "", fmt.Errorf("emulator: Config.MiniAppURL: %w", err)
	}
	if sp != "" {
		q := base.Query()
		q.Set("tgWebAppStartParam", sp)
		base.RawQuery = q.Encode()
	}
	// The fragment is built by hand: its values are percent-encoded once, as
	// Telegram Web's encodeURIComponent does, and url.URL would re-escape it.
	base.Fragment, base.RawFragment = "", ""
	launchURL = base.String() + "#tgWebAppData=" + url.QueryEscape(initData) +
		"&tgWebAppVersion=8.0&tgWebAppPlatform=web&tgWebAppThemeParams=" + url.QueryEscape(themeParams)
	e.log.Info("telegram emulator: Mini App opened", "user", u.id, "start_param", sp)
	return launchURL, initData, nil
}
