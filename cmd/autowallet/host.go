package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
)

// host is what `autowallet dev` and `autowallet parent` both run: storage,
// the chain client, the wallet service with its tracker, the HTTP listener
// for the Mini App API and, given a token, the Telegram bot.
type host struct {
	log   *slog.Logger
	store storage.Store // bbolt in DataDir, or PostgreSQL (hostConfig.DatabaseURL)
	// metered is store as the parent's parts use it: every method timed
	// (internal/metrics). metrics is the process's registry, ready its
	// readiness checks (/readyz).
	metered  storage.Store
	metrics  *metrics.Metrics
	ready    *metrics.Readiness
	chains   []*parent.Chain
	service  *parent.Service
	server   *http.Server
	listener net.Listener
	runCtx   context.Context // ends at close: the lifetime of background work
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	// hookServer serves the webhook on -webhook-listen (webhook.go).
	hookServer   *http.Server
	hookListener net.Listener
}

// hostConfig says what the host runs.
type hostConfig struct {
	DataDir string
	// DatabaseURL, when set, is the PostgreSQL database to keep the state
	// in (storage/postgres) instead of the bbolt file in DataDir.
	DatabaseURL string
	// Networks are the networks served, each with its RPCURL; the first
	// is the default one.
	Networks networks.Set
	Enclave  *parent.EnclaveClient
	Service  parent.ServiceConfig
	// Routes adds handlers beside the Mini App API (the page, the emulator,
	// attestation); Wrap wraps the whole mux (CORS).
	Routes func(*http.ServeMux)
	Wrap   func(http.Handler) http.Handler
	// Bot, when set, runs the Telegram front end once the listener serves.
	// With Bot.Webhook it takes updates by webhook: served on the listener
	// at the URL's path, or on WebhookListen when set (webhook.go).
	Bot           *bot.Config
	WebhookListen string
	// ServeMetrics adds GET /metrics to the listener (dev: its one
	// loopback listener). The parent serves it on the admin listener.
	ServeMetrics bool
	// Instance names this parent among several on one store: the holder of
	// the leases on background work (default: hostname-pid).
	Instance string
}

// leases is the configuration of this host's leases on background work
// (parent/lease): the tracker and watcher of each network, the alert
// deliverer and the card editor each run on one parent at a time.
func (h *host) leases(c hostConfig) lease.Config {
	if c.Instance == "" {
		c.Instance = defaultInstance()
	}
	return lease.Config{Store: h.store, Holder: c.Instance, Logger: h.log.With("component", "lease"), Metrics: h.metrics}
}

// open creates the data folder, opens storage, dials every network's node
// (checking its chain id) and makes the service. Nothing runs in the
// background yet.
func (h *host) open(ctx context.Context, c hostConfig) error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data folder: %w", err)
	}
	if err := h.openStore(ctx, c); err != nil {
		return err
	}
	var err error
	var names []string
	for _, n := range c.Networks {
		names = append(names, n.Name)
	}
	h.metrics = metrics.New(metrics.Options{Networks: names})
	h.metered = metrics.Store(h.store, h.metrics)
	c.Enclave.SetMetrics(h.metrics)
	c.Service.Metrics = h.metrics
	var nets []parent.NetworkChain
	for _, n := range c.Networks {
		ch, err := parent.DialChain(ctx, n.RPCURL, n.ChainID, parent.ChainOptions{Logger: h.log, Metrics: h.metrics, Network: n.Name})
		if err != nil {
			return fmt.Errorf("dialing %s (chain %d): %w", n.Name, n.ChainID, err)
		}
		h.chains = append(h.chains, ch)
		nets = append(nets, parent.NetworkChain{Network: n, Chain: ch})
	}
	if h.service, err = parent.NewService(h.metered, c.Enclave, nets, c.Service, h.log); err != nil {
		return err
	}
	h.ready = readiness(c.Enclave, h.service.VaultKeyCheck, h.metered, nets)
	h.metrics.WatchStore(h.metered)
	h.metrics.WatchReadiness(h.ready)
	h.runCtx, h.cancel = context.WithCancel(context.Background())
	return nil
}

// openStore opens the engine the configuration names: PostgreSQL when
// DatabaseURL is set (its host and database are logged, never the
// password), else the bbolt file in DataDir.
func (h *host) openStore(ctx context.Context, c hostConfig) error {
	if c.DatabaseURL == "" {
		db, err := bolt.Open(c.DataDir, bolt.Options{Logger: h.log})
		if err != nil {
			return fmt.Errorf("opening storage: %w", err)
		}
		h.store = db
		return nil
	}
	db, err := postgres.Open(ctx, c.DatabaseURL, postgres.Options{Logger: h.log})
	if err != nil {
		return fmt.Errorf("opening PostgreSQL (%s): %w", postgres.Describe(c.DatabaseURL), err)
	}
	h.log.Info("storage: PostgreSQL", "database", postgres.Describe(c.DatabaseURL), "schema", postgres.SchemaVersion())
	if why := postgres.Unverified(c.DatabaseURL); why != "" {
		// Whoever sits on the path can then read and write what the bot
		// tells users (docs/postgres.md, "Connecting").
		h.log.Warn("storage: the connection to PostgreSQL does not verify the server", "database", postgres.Describe(c.DatabaseURL), "why", why)
	}
	h.store = db
	return nil
}

// serve starts the HTTP server on l, the tracker and, if configured, the bot.
func (h *host) serve(l net.Listener, c hostConfig) error {
	mux := http.NewServeMux()
	h.service.RegisterAPI(mux)
	// /readyz on the public listener too: the load balancer's health
	// check cannot reach the loopback admin listener (docs/deploy.md).
	mux.Handle("GET "+metrics.PathReadyz, h.ready.Handler())
	if c.ServeMetrics {
		mux.Handle("GET "+metrics.PathMetrics, h.metrics.Handler())
	}
	if c.Routes != nil {
		c.Routes(mux)
	}
	var hook *webhookRoute
	if c.Bot != nil && c.Bot.Webhook != nil {
		var err error
		if hook, err = h.mountWebhook(mux, c.Bot.Webhook, c.WebhookListen); err != nil {
			return err
		}
	}
	var handler http.Handler = mux
	if c.Wrap != nil {
		handler = c.Wrap(mux)
	}
	h.listener, h.server = l, parent.NewHTTPServer(handler, h.log)
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		if err := h.server.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("http server", "err", err)
		}
	}()
	go func() { defer h.wg.Done(); h.service.TrackLeased(h.runCtx, h.leases(c)) }()
	if c.Bot == nil {
		return nil
	}
	c.Bot.Log = h.log.With("component", "bot")
	c.Bot.Metrics = h.metrics
	c.Bot.Instance = h.leases(c).Holder
	if c.Bot.Webhook != nil {
		wc := *c.Bot.Webhook
		wc.Store = h.metered // update claims, shared by every parent on the store
		c.Bot.Webhook = &wc
	}
	b, err := bot.New(*c.Bot, h.service)
	if err != nil {
		return err
	}
	if hook != nil {
		hook.set(b.WebhookHandler())
	}
	// Incoming-funds alerts (docs/watcher.md): a watcher per network with
	// an RPC URL; the bot tells the owner "Received …" (bot.Notify).
	if _, err := h.startAlerts(c.Networks, b.Notify, h.leases(c)); err != nil {
		return err
	}
	h.wg.Add(1)
	go func() { defer h.wg.Done(); b.Run(h.runCtx) }()
	return nil
}

// close stops the background work and the listener, then closes the chain
// client and storage. It is safe after a failed open or serve.
func (h *host) close() error {
	var errs []error
	if h.cancel != nil {
		h.cancel()
	}
	if h.server != nil {
		errs = append(errs, shutdown(h.server, 5*time.Second))
	} else if h.listener != nil {
		h.listener.Close()
	}
	if h.hookServer != nil {
		errs = append(errs, shutdown(h.hookServer, 5*time.Second))
	}
	h.wg.Wait()
	for _, ch := range h.chains {
		ch.Close()
	}
	if h.store != nil {
		errs = append(errs, h.store.Close())
	}
	return errors.Join(errs...)
}

// Addr is the HTTP listener's address (after Run).
func (h *host) Addr() net.Addr { return h.listener.Addr() }

// Service is the wallet service (after Run).
func (h *host) Service() *parent.Service { return h.service }

// shutdown stops srv (an http.Server, or dev's in-process enclave.Server),
// letting requests in flight finish for up to grace; what is still open
// then is closed. net/http's Shutdown also waits (5 s)
// for connections that were dialled but never sent a request, as a client
// whose request was cancelled mid-dial leaves behind: those carry no work, so
// closing them after the grace period is a clean stop, not an error.
func shutdown(srv interface {
	Shutdown(context.Context) error
	Close() error
}, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return srv.Close()
	}
	return err
}
