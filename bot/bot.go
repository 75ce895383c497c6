// Package bot is the Telegram front end of autowallet: commands, buttons and
// cards on github.com/go-telegram/bot, over the parent's wallet service. It
// decides nothing about security: it builds transfers and shows them; only
// Telegram-signed approvals in the Mini App, checked by the enclave, move funds.
//
// Handlers are registered in one place (register, below), one file per
// command; callback queries are answered at once; every call to the Bot API
// goes through Sender, which keeps to Telegram's limits.
package bot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage"
)

// DefaultAPIURL is Telegram's Bot API server.
const DefaultAPIURL = "https://api.telegram.org"

// Faucet hands out test ETH (dev mode only).
type Faucet interface {
	Drip(ctx context.Context, to common.Address) (amount *big.Int, tx common.Hash, err error)
}

// Config of the bot.
type Config struct {
	Token string
	// APIURL is the Bot API server (Telegram's, or the dev emulator).
	APIURL string
	// MiniAppLink is the Mini App's direct link, https://t.me/<bot>/<app>;
	// transfers are opened as MiniAppLink?startapp=<intent>.
	MiniAppLink string
	// Faucet, when set, enables /faucet (dev mode).
	Faucet Faucet
	Log    *slog.Logger
	// Instance names this parent among several of one bot: the holder of
	// the "cards" lease (default "bot-<pid>"). LeaseTTL tunes that lease
	// (lease.Config.TTL; 0: its default).
	Instance string
	LeaseTTL time.Duration
	// Webhook, when set, takes updates by webhook (webhook.go) instead of
	// long polling: Run sets the webhook and WebhookHandler serves it.
	Webhook *WebhookConfig
	// Metrics counts updates and Bot API calls (nil: none).
	Metrics *metrics.Metrics
	// DropWebhook lets long polling delete a webhook it finds set. Off, a
	// poller that finds a webhook waits (checking every WebhookCheck)
	// rather than switch off the parents that take the updates by webhook
	// (autowallet parent -drop-webhook; autowallet dev with its emulator).
	DropWebhook bool
	// WebhookCheck is how often getWebhookInfo is asked (default
	// DefaultWebhookCheck): in webhook mode to set the webhook again when
	// it was deleted or changed; polling, while a webhook is set.
	WebhookCheck time.Duration
	// FlowTTL is how long a guided /send waits for the next answer
	// (0: 15 minutes), on the store's clock (flowstate.go).
	FlowTTL time.Duration
}

// Bot is the running Telegram bot.
type Bot struct {
	cfg  Config
	api  *tgbot.Bot
	svc  *parent.Service
	send *Sender
	log  *slog.Logger

	flows      flows
	busy       sync.Map // user id -> struct{}: a wallet creation in flight
	faucetLast sync.Map // user id -> time.Time of the last drip
	cards      *cardQueue
	cardWake   chan struct{} // cardoutbox.go
	hook       *hookState    // webhook mode; nil: long polling
}

// New connects to the Bot API (getMe) and registers the handlers.
func New(cfg Config, svc *parent.Service) (*Bot, error) {
	if cfg.Token == "" {
		return nil, errors.New("bot: no token")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if !strings.HasPrefix(cfg.MiniAppLink, "https://t.me/") {
		return nil, fmt.Errorf("bot: Mini App link %q is not https://t.me/<bot>/<app>", cfg.MiniAppLink)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Instance == "" {
		cfg.Instance = "bot-" + strconv.Itoa(os.Getpid())
	}
	b := &Bot{cfg: cfg, svc: svc, send: NewSender(cfg.Log), log: cfg.Log, cardWake: make(chan struct{}, 1)}
	// Telegram's limits hold for the bot, not per parent: every message
	// reserves its slot in the store (docs/bot.md, "Several parents").
	b.send.Share(svc.Store())
	b.send.SetMetrics(cfg.Metrics)
	if cfg.Webhook != nil {
		wc := *cfg.Webhook
		if err := wc.check(); err != nil {
			return nil, err
		}
		b.hook = &hookState{cfg: &wc, secret: sha256.Sum256([]byte(wc.Secret))}
	}
	api, err := tgbot.New(cfg.Token,
		tgbot.WithServerURL(strings.TrimRight(cfg.APIURL, "/")),
		tgbot.WithDefaultHandler(b.onOther),
		tgbot.WithErrorsHandler(func(err error) { b.log.Warn("telegram", "err", b.redact(err)) }),
		tgbot.WithMiddlewares(b.guard, b.countUpdates, b.rememberUser),
	)
	if err != nil {
		return nil, fmt.Errorf("bot: connecting to the Bot API: %w", b.redact(err))
	}
	b.api = api
	b.cards = newCardQueue(b)
	// A change on this parent wakes the card editor; changes on other
	// parents reach it through the store's queue (cardoutbox.go).
	svc.OnTransferChange(func(storage.Transfer) { b.wakeCards() })
	b.register()
	return b, nil
}

// command is one entry of the bot's command menu.
type command struct {
	name, help string
	run        func(ctx context.Context, m *models.Message, args string)
}

// commands lists the commands in menu order; /faucet only with a faucet.
func (b *Bot) commands() []command {
	cs := []command{
		{"start", "Your wallet, or create one", b.cmdStart},
		{"wallet", "Address, QR code and balance", b.cmdWallet},
		{"send", "Send: /send 0.05 ETH to 0x… or @username", b.cmdSend},
		{"history", "Your last transfers", b.cmdHistory},
		{"cancel", "Stop what you started", b.cmdCancel},
		{"help", "What this bot does", b.cmdHelp},
	}
	if b.cfg.Faucet != nil {
		cs = append(cs, command{"faucet", "Get test coins (dev networks)", b.cmdFaucet})
	}
	return cs
}

// register is the one place every handler is added.
func (b *Bot) register() {
	for _, c := range b.commands() {
		b.api.RegisterHandlerMatchFunc(func(u *models.Update) bool {
			if u.Message == nil {
				return false
			}
			name, _ := parseCommand(u.Message.Text)
			return name == c.name
		}, func(ctx context.Context, _ *tgbot.Bot, u *models.Update) {
			_, args := parseCommand(u.Message.Text)
			c.run(ctx, u.Message, args)
		})
	}
	callbacks := map[string]func(context.Context, *models.CallbackQuery, string){
		cbCreateWallet: b.cbCreateWallet,
		cbRefresh:      b.cbRefresh,
		cbSend:         b.cbSend,
		cbHistory:      b.cbHistory,
		cbCancel:       b.cbCancel,
		cbReplace:      b.cbReplace,
		cbFaucet:       b.cbFaucet,
		cbFlow:         b.cbFlow,
		cbAgain:        b.cbAgain,
	}
	for prefix, h := range callbacks {
		b.api.RegisterHandler(tgbot.HandlerTypeCallbackQueryData, prefix, tgbot.MatchTypePrefix,
			func(ctx context.Context, _ *tgbot.Bot, u *models.Update) {
				q := u.CallbackQuery
				// Answer at once, so the button stops spinning; the work's
				// result arrives as a message or an edited card.
				b.answer(ctx, q.ID, "")
				if q.Message.Message == nil {
					return
				}
				h(ctx, q, strings.TrimPrefix(q.Data, prefix))
			})
	}
}

// Callback data prefixes (Telegram allows 64 bytes of data).
const (
	cbCreateWallet = "w:create"
	cbRefresh      = "w:refresh"
	cbSend         = "w:send"
	cbHistory      = "h:"
	cbCancel       = "t:cancel:"
	cbReplace      = "t:replace:"
	cbFaucet       = "w:faucet"
	cbAgain        = "t:again:"
)

// Run sets the command menu, runs the background work (RunBackground) and
// takes updates until ctx ends: by long polling, or in webhook mode by
// setting the webhook (WebhookHandler then serves the updates).
func (b *Bot) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() { defer close(done); b.RunBackground(ctx) }()
	b.Poll(ctx)
	<-done // the lease released before the host closes the store
}

// Poll sets the command menu and takes updates (long polling, or the
// webhook) until ctx ends, without the background work.
func (b *Bot) Poll(ctx context.Context) {
	var menu []models.BotCommand
	for _, c := range b.commands() {
		menu = append(menu, models.BotCommand{Command: c.name, Description: c.help})
	}
	err := b.send.Do(ctx, 0, b.metered("setMyCommands", func(ctx context.Context) error {
		_, err := b.api.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{Commands: menu})
		return err
	}))
	if err != nil {
		b.log.Warn("setting the command menu", "err", b.redact(err))
	}
	if b.hook != nil {
		b.runWebhook(ctx)
		return
	}
	if !b.clearForPolling(ctx) {
		return
	}
	b.api.Start(ctx)
}

// RunBackground runs the bot's work that is not an answer to an update,
// until ctx ends: this parent's card queue, the pruning of send slots
// (prune.go), and the card editor of the
// store's queue under the "cards" lease (one parent at a time). Run calls
// it; a parent that takes no updates itself runs it alone.
func (b *Bot) RunBackground(ctx context.Context) {
	go b.cards.run(ctx)
	go keepSendSlotsPruned(ctx, b.svc.Store(), SendSlotPruneEvery, b.log, b.cfg.Metrics) // prune.go
	_ = lease.Run(ctx, lease.Config{Store: b.svc.Store(), Name: CardsLease, Holder: b.cfg.Instance,
		TTL: b.cfg.LeaseTTL, Logger: b.log, Metrics: b.cfg.Metrics}, b.runCards)
}

// clearForPolling is called before long polling. While a webhook is set,
// getUpdates fails with 409 Conflict; deleting it would switch off every
// parent taking the updates by webhook (they would get nothing until
// their next check sets it again). So the webhook is deleted only with
// DropWebhook (pending updates kept, they reach this poller); without it
// the poller waits, looking again every WebhookCheck, until the webhook is
// gone or ctx ends (false). A failed getWebhookInfo does not hold polling.
func (b *Bot) clearForPolling(ctx context.Context) bool {
	for warned := false; ; {
		info, err := b.api.GetWebhookInfo(ctx)
		if err != nil || info.URL == "" {
			return ctx.Err() == nil
		}
		// The URL is not logged: it may carry a secret path.
		if b.cfg.DropWebhook {
			b.log.Warn("a webhook is set; deleting it to take updates by long polling")
			err := b.send.Do(ctx, 0, b.metered("deleteWebhook", func(ctx context.Context) error {
				_, err := b.api.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{})
				return err
			}))
			if err != nil {
				b.log.Warn("deleteWebhook failed", "err", b.redact(err))
			}
			return ctx.Err() == nil
		}
		if !warned {
			warned = true
			b.log.Error("a webhook is set for this bot: not polling, which would switch off the parents taking updates by webhook; " +
				"stop them and pass -drop-webhook to take the updates by long polling")
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(b.webhookCheck()):
		}
	}
}

// parseCommand splits "/send@mybot 0.05 to 0x…" into "send" and the rest.
func parseCommand(text string) (name, args string) {
	if !strings.HasPrefix(text, "/") {
		return "", ""
	}
	first, rest, _ := strings.Cut(strings.TrimSpace(text[1:]), " ")
	first, _, _ = strings.Cut(first, "@")
	return strings.ToLower(first), strings.TrimSpace(rest)
}

// rememberUser keeps each user's profile up to date in storage.
func (b *Bot) rememberUser(next tgbot.HandlerFunc) tgbot.HandlerFunc {
	return func(ctx context.Context, api *tgbot.Bot, u *models.Update) {
		var from *models.User
		var chatID int64
		switch {
		case u.Message != nil && u.Message.From != nil:
			from, chatID = u.Message.From, u.Message.Chat.ID
		case u.CallbackQuery != nil:
			from = &u.CallbackQuery.From
			if m := u.CallbackQuery.Message.Message; m != nil {
				chatID = m.Chat.ID
			}
		}
		if from != nil && !from.IsBot {
			if err := b.svc.RememberUser(storage.User{ID: from.ID, ChatID: chatID, FirstName: from.FirstName, Username: from.Username, Language: from.LanguageCode}); err != nil {
				b.log.Warn("remembering user", "user", from.ID, "err", err)
				// The store is away: a webhook update is left to
				// Telegram's redelivery before any handler runs.
				if leaveToRetry(ctx, err) {
					return
				}
			}
		}
		next(ctx, api, u)
	}
}

// redact removes the bot token from an error: the Bot API client's errors
// quote request URLs, and the token is part of every URL.
// The webhook's secret is removed too, should an error ever quote it.
func (b *Bot) redact(err error) error {
	if err == nil {
		return err
	}
	msg := err.Error()
	if b.hook != nil && strings.Contains(msg, b.hook.cfg.Secret) {
		msg = strings.ReplaceAll(msg, b.hook.cfg.Secret, "<webhook secret>")
	}
	if b.cfg.Token == "" || !strings.Contains(msg, b.cfg.Token) {
		if msg == err.Error() {
			return err
		}
		return errors.New(msg)
	}
	return errors.New(strings.ReplaceAll(msg, b.cfg.Token, "<token>"))
}
