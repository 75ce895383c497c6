// Package emulator is a local stand-in for Telegram, for `autowallet dev`
// and tests. It speaks Telegram's real wire formats, so the real bot code
// (github.com/go-telegram/bot) and the real Mini App page run against it
// unchanged:
//
//   - a Bot API server (/bot<token>/<method>, /file/bot<token>/<path>) with
//     getMe, getUpdates (long poll), sendMessage, sendPhoto, the edit
//     methods, answerCallbackQuery, deleteMessage, commands, getFile and a
//     few no-ops; Telegram's error replies (401, 404, 400 "Bad Request: ...",
//     409, 429 with retry_after via FailNext);
//   - simulated users, each with a private chat (chat id = user id) whose
//     history, with edits applied, is kept in memory (bounded);
//   - Mini App launches from direct links https://t.me/<bot>/<app>?startapp=..
//     with initData signed like Telegram's: an Ed25519 `signature` with the
//     emulator's own key (PublicKey; dev mode makes the enclave trust it) and
//     the bot-token `hash`;
//   - a self-contained web chat page at / (no CDN, no build step).
//
// Typical test use:
//
//	e, _ := emulator.New(emulator.Config{BotToken: tok, BotUsername: "my_bot",
//		MiniAppShortName: "approve", MiniAppURL: srv.URL + "/miniapp/"})
//	mux := http.NewServeMux(); e.Register(mux) // with the rest of dev mode
//	b, _ := bot.New(tok, bot.WithServerURL(srv.URL))
//	alice := e.User(42, "Alice", "alice")
//	id := alice.Send("/start")
//	m, _ := alice.WaitMessage(ctx, func(m emulator.Message) bool { return m.FromBot && m.ID > id })
//	answer, _ := alice.Press(m.ID, "create")
//	launchURL, initData, _ := alice.OpenMiniApp(m.Buttons[1][0].URL)
//
// Updates reach the bot by getUpdates or, after setWebhook, by HTTP POST to
// the webhook with Telegram's retries (webhook.go).
//
// It is not Telegram: no groups, channels, inline mode, payments,
// media other than photos, or command scopes; Markdown parse modes are stored
// verbatim. See docs/emulator.md.
package emulator
