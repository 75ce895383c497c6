package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// TelegramProductionKey is Telegram's Ed25519 key for third-party validation
// of Mini App initData.
const TelegramProductionKey = "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d"

// ParentConfig is everything the host needs, from flags and the environment.
type ParentConfig struct {
	DataDir  string
	HTTPAddr string
	RPCURL   string
	ChainID  uint64
	// Networks are the networks served (networks_config.go): from
	// -networks, or the one network of -rpc and -chain-id.
	Networks          networks.Set
	EnclaveCID        uint
	EnclavePort       uint
	EnclaveTCP        string
	BotID             int64
	BotToken          string
	TelegramAPIURL    string
	MiniAppLink       string
	TelegramPublicKey string
	Confirmations     uint64
	IntentTTL         time.Duration
	PollInterval      time.Duration
	MiniAppOrigins    []string
	// AdminAddr is the loopback admin listener (GET /backup, and the
	// operators' /metrics, /healthz, /readyz); empty: none.
	AdminAddr string
	// KMSRegion, when set, makes the parent unlock the enclave with KMS at
	// start and whenever it restarts, lending credentials from the default
	// AWS chain (the instance role). The key ARN is in the enclave config.
	KMSRegion string
	// IdentityKey, when set (64 lowercase hex), makes the parent serve the
	// Mini App page with a config.json pinning it (identity.go); the parent
	// refuses to start when the enclave's identity key differs, and (with
	// KMS) refuses wallet work after any unlock whose key is not it
	// (parent.EnclaveClient.PinIdentityKey).
	IdentityKey string
	// InitVaultKey lets this parent make the deployment's first vault key
	// (a new deployment's first start; parent.EnclaveClient.AllowNewVaultKey).
	// With KMS a parent needs it or IdentityKey: without either, nothing
	// outside the database would say which key is the deployment's
	// (docs/kms.md, "The database is not trusted with the key").
	InitVaultKey bool
	// Instance names this parent among several on one database: the holder
	// of the Telegram updates it claims and of the background-work leases it
	// takes (storage.Store.ClaimUpdate, AcquireLease). Default:
	// <hostname>-<pid>, unique per process.
	Instance string
	// Webhook mode (docs/bot.md): WebhookURL empty keeps long polling.
	// WebhookSecret comes from AUTOWALLET_WEBHOOK_SECRET only (never a
	// flag: flags are visible in the process list) and is required: every
	// parent behind the URL must share it. WebhookListen, when set, serves
	// the webhook on a listener of its own instead of -http.
	WebhookURL            string
	WebhookListen         string
	WebhookSecret         string
	WebhookMaxConnections int
	WebhookClaimTTL       time.Duration
	// WebhookUpdateDeadline bounds one update's handling (0: 5 x the
	// handle timeout): past it the update is cancelled and dropped.
	WebhookUpdateDeadline time.Duration
	// DropWebhook lets long polling delete a webhook it finds set; without
	// it a polling parent waits rather than switch off the webhook parents.
	DropWebhook bool

	// DatabaseURL is the PostgreSQL database (postgres://… or key=value);
	// empty: the bbolt file in DataDir.
	DatabaseURL string
}

// ParentMain is `autowallet parent`: storage, the enclave client, the chain
// client, the transfer service with its tracker, and the HTTP listener.
type ParentMain struct {
	Config ParentConfig
	log    *slog.Logger
	stdout io.Writer

	host
	admin *adminServer
}

// NewParentMain returns the parent program with defaults from the environment.
func NewParentMain(log *slog.Logger, stdout io.Writer) *ParentMain {
	return &ParentMain{log: log, stdout: stdout, host: host{log: log}}
}

// ParseFlags fills Config from flags, whose defaults come from the environment.
func (m *ParentMain) ParseFlags(args []string) error {
	c := &m.Config
	fs := flag.NewFlagSet("parent", flag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data", envOr("AUTOWALLET_DATA", "autowallet-data"), "data folder (bbolt file) [AUTOWALLET_DATA]")
	secretVar(fs, &c.DatabaseURL, "database", "AUTOWALLET_DATABASE_URL", "PostgreSQL database (postgres://user@host/db or key=value; prefer the env var or PGPASSWORD for the password); empty: the bbolt file in -data [AUTOWALLET_DATABASE_URL]")
	fs.StringVar(&c.HTTPAddr, "http", envOr("AUTOWALLET_HTTP", "127.0.0.1:8080"), "listen address of the Mini App API [AUTOWALLET_HTTP]")
	networksFile := fs.String("networks", envOr("AUTOWALLET_NETWORKS", ""), "JSON file of the networks to serve (presets by name or full descriptions, docs/networks.md); RPC URLs from AUTOWALLET_RPC_<NAME> [AUTOWALLET_NETWORKS]")
	fs.StringVar(&c.RPCURL, "rpc", envOr("ETH_RPC_URL", ""), "without -networks: the one network's JSON-RPC URL [ETH_RPC_URL]")
	chainID := fs.String("chain-id", envOr("ETH_CHAIN_ID", ""), "without -networks: the chain id the node must report [ETH_CHAIN_ID]")
	fs.UintVar(&c.EnclaveCID, "enclave-cid", 16, "vsock context id of the enclave")
	fs.UintVar(&c.EnclavePort, "enclave-port", 5000, "vsock port of the enclave")
	fs.StringVar(&c.EnclaveTCP, "enclave-tcp", envOr("AUTOWALLET_ENCLAVE_TCP", ""), "dial the enclave on this loopback TCP address instead of vsock [AUTOWALLET_ENCLAVE_TCP]")
	botID := fs.String("bot-id", envOr("TELEGRAM_BOT_ID", ""), "numeric id of the Telegram bot; taken from the token when one is given [TELEGRAM_BOT_ID]")
	secretVar(fs, &c.BotToken, "bot-token", "TELEGRAM_BOT_TOKEN", "the bot's token; empty runs the Mini App API without the Telegram front end [TELEGRAM_BOT_TOKEN]")
	fs.StringVar(&c.TelegramAPIURL, "telegram-api", envOr("TELEGRAM_API_URL", ""), "Bot API server (default Telegram's) [TELEGRAM_API_URL]")
	fs.StringVar(&c.MiniAppLink, "miniapp", envOr("TELEGRAM_MINIAPP", ""), "the Mini App's https://t.me/<bot>/<app> link (required with a token) [TELEGRAM_MINIAPP]")
	fs.StringVar(&c.TelegramPublicKey, "telegram-public-key", envOr("TELEGRAM_PUBLIC_KEY", TelegramProductionKey), "hex Ed25519 key that signs initData [TELEGRAM_PUBLIC_KEY]")
	fs.Uint64Var(&c.Confirmations, "confirmations", 0, "blocks before a transfer counts as confirmed on every network (0: each network's own, docs/networks.md)")
	fs.DurationVar(&c.IntentTTL, "intent-ttl", 10*time.Minute, "how long a user has to approve a transfer")
	fs.DurationVar(&c.PollInterval, "poll", 2*time.Second, "how often open transfers are checked on the chain")
	fs.StringVar(&c.KMSRegion, "kms-region", envOr("AWS_REGION", ""), "unlock the enclave with AWS KMS, lending instance-role credentials; empty: the enclave has a dev key [AWS_REGION]")
	origins := fs.String("miniapp-origin", envOr("AUTOWALLET_MINIAPP_ORIGIN", ""), "comma-separated origins the Mini App page is served from, allowed to call the API [AUTOWALLET_MINIAPP_ORIGIN]")
	fs.StringVar(&c.AdminAddr, "admin", envOr("AUTOWALLET_ADMIN", ""), "loopback address of the admin listener (GET /backup for autowallet backup; /metrics, /healthz, /readyz), e.g. 127.0.0.1:8081; empty: off [AUTOWALLET_ADMIN]")
	fs.StringVar(&c.IdentityKey, "identity-key", envOr("AUTOWALLET_IDENTITY_KEY", ""), "the deployment identity key (64 lowercase hex, as autowallet verify prints it): serve the Mini App page and its config.json under /miniapp/; must equal the enclave's, at start and after every unlock [AUTOWALLET_IDENTITY_KEY]")
	fs.BoolVar(&c.InitVaultKey, "init-vault-key", os.Getenv("AUTOWALLET_INIT_VAULT_KEY") == "1", "with -kms-region on a new deployment's first start: this parent may make the vault key (once; then restart every parent with -identity-key instead) [AUTOWALLET_INIT_VAULT_KEY=1]")
	fs.StringVar(&c.Instance, "instance", envOr("AUTOWALLET_INSTANCE", defaultInstance()), "this parent's name among several on one database (holder of updates and leases) [AUTOWALLET_INSTANCE]")
	fs.StringVar(&c.WebhookURL, "webhook-url", envOr("AUTOWALLET_WEBHOOK_URL", ""), "take Telegram updates by webhook at this https://…/path (the load balancer's); needs AUTOWALLET_WEBHOOK_SECRET; empty: long polling [AUTOWALLET_WEBHOOK_URL]")
	fs.StringVar(&c.WebhookListen, "webhook-listen", envOr("AUTOWALLET_WEBHOOK_LISTEN", ""), "serve the webhook on this address of its own; empty: on -http at the URL's path [AUTOWALLET_WEBHOOK_LISTEN]")
	fs.IntVar(&c.WebhookMaxConnections, "webhook-max-connections", bot.DefaultMaxConnections, "setWebhook's max_connections (1-100): deliveries Telegram keeps in flight")
	fs.DurationVar(&c.WebhookClaimTTL, "webhook-claim-ttl", bot.DefaultClaimTTL, "how long an update claim holds unrenewed: a dead parent's updates are taken over after it")
	fs.DurationVar(&c.WebhookUpdateDeadline, "webhook-update-deadline", 5*bot.DefaultHandleTimeout, "how long one update may be handled: past it its handling is cancelled and the update dropped (counted, logged by update_id)")
	fs.BoolVar(&c.DropWebhook, "drop-webhook", false, "long polling: delete a webhook found set (switches off every parent taking updates by that webhook); without it the parent waits until none is set")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Instance == "" || len(c.Instance) > storage.MaxHolderLen {
		return fmt.Errorf("-instance must be 1..%d bytes", storage.MaxHolderLen)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := c.checkWebhook(); err != nil {
		return err
	}
	if c.IdentityKey != "" && (len(c.IdentityKey) != 64 || strings.Trim(c.IdentityKey, "0123456789abcdef") != "") {
		return errors.New("-identity-key is not 64 lowercase hex characters")
	}
	if err := c.checkVaultKeyAnchor(); err != nil {
		return err
	}
	if c.AdminAddr != "" {
		if err := checkLoopback(c.AdminAddr); err != nil {
			return err
		}
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.MiniAppOrigins = append(c.MiniAppOrigins, o)
		}
	}
	var missing []string
	switch {
	case *networksFile != "" && (c.RPCURL != "" || *chainID != ""):
		return errors.New("give either -networks (AUTOWALLET_NETWORKS) or -rpc and -chain-id (ETH_RPC_URL, ETH_CHAIN_ID), not both")
	case *networksFile == "":
		if c.RPCURL == "" {
			missing = append(missing, "-networks (AUTOWALLET_NETWORKS) or -rpc (ETH_RPC_URL)")
		}
		if *chainID == "" {
			missing = append(missing, "-chain-id (ETH_CHAIN_ID)")
		}
	}
	if c.BotToken != "" {
		id, err := botIDOf(c.BotToken)
		if err != nil {
			return err
		}
		if *botID != "" && *botID != strconv.FormatInt(id, 10) {
			return fmt.Errorf("-bot-id %s differs from the bot id in the token", *botID)
		}
		*botID = strconv.FormatInt(id, 10)
		if c.MiniAppLink == "" {
			missing = append(missing, "-miniapp (TELEGRAM_MINIAPP)")
		}
	}
	if *botID == "" {
		missing = append(missing, "-bot-token (TELEGRAM_BOT_TOKEN) or -bot-id (TELEGRAM_BOT_ID)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing settings: %v", missing)
	}
	var err error
	if *networksFile != "" {
		if c.Networks, err = loadNetworks(*networksFile, os.Getenv); err != nil {
			return err
		}
	} else {
		if c.ChainID, err = strconv.ParseUint(*chainID, 10, 64); err != nil || c.ChainID == 0 {
			return fmt.Errorf("-chain-id %q is not a positive integer", *chainID)
		}
		// The one network of -rpc: the preset of that chain id (with its
		// tokens) or a bare "Chain <id>" with ETH.
		n := networks.ForChainID(c.ChainID)
		n.RPCURL = c.RPCURL
		c.Networks = networks.Set{n}
	}
	if c.BotID, err = strconv.ParseInt(*botID, 10, 64); err != nil || c.BotID <= 0 {
		return fmt.Errorf("-bot-id %q is not a positive integer", *botID)
	}
	if k, err := hex.DecodeString(c.TelegramPublicKey); err != nil || len(k) != ed25519.PublicKeySize {
		return errors.New("-telegram-public-key is not 64 hex characters")
	}
	return nil
}

// Run opens storage, dials the chain (checking its id), connects the enclave
// client, starts the tracker and the HTTP listener. It returns once serving.
func (m *ParentMain) Run(ctx context.Context) error {
	c := m.Config
	var enc *parent.EnclaveClient
	if c.EnclaveTCP != "" {
		enc = parent.NewEnclaveClientTCP(c.EnclaveTCP, 15*time.Second)
	} else {
		enc = parent.NewEnclaveClientVsock(uint32(c.EnclaveCID), uint32(c.EnclavePort), 15*time.Second)
	}
	hc := hostConfig{
		DataDir: c.DataDir, DatabaseURL: c.DatabaseURL, Networks: c.Networks, Enclave: enc, Instance: c.Instance,
		Service: parent.ServiceConfig{
			IntentTTL:        c.IntentTTL,
			Confirmations:    c.Confirmations,
			PollInterval:     c.PollInterval,
			RequireVaultBlob: c.KMSRegion != "",
		},
		Wrap: func(h http.Handler) http.Handler { return parent.CORS(h, c.MiniAppOrigins) },
	}
	if c.IdentityKey != "" {
		// config.json also publishes the bot id and Telegram's key, with
		// which the page checks its own launch data (docs/miniapp.md).
		// and the networks with their token lists, the same the service
		// serves and the enclave allows (checked at start below).
		hc.Routes = miniAppRoutes(c.IdentityKey, c.BotID, c.TelegramPublicKey, c.Networks, hc.Routes)
	}
	if c.BotToken != "" {
		hc.Bot = &bot.Config{Token: c.BotToken, APIURL: c.TelegramAPIURL, MiniAppLink: c.MiniAppLink, DropWebhook: c.DropWebhook}
		if c.WebhookURL != "" {
			hc.Bot.Webhook = &bot.WebhookConfig{URL: c.WebhookURL, Secret: c.WebhookSecret, Instance: c.Instance,
				MaxConnections: c.WebhookMaxConnections, ClaimTTL: c.WebhookClaimTTL, UpdateDeadline: c.WebhookUpdateDeadline}
			hc.WebhookListen = c.WebhookListen
		}
	} else {
		m.log.Warn("no TELEGRAM_BOT_TOKEN: serving the Mini App API without the Telegram front end")
	}
	if err := m.open(ctx, hc); err != nil {
		return err
	}
	l, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.HTTPAddr, err)
	}
	if err := m.serve(l, hc); err != nil {
		return err
	}
	if c.IdentityKey != "" {
		// Every unlock, not only the first, must give the pinned key: a
		// database writer could otherwise move the parent to another
		// genuine blob of the deployment at the next enclave restart.
		enc.PinIdentityKey(c.IdentityKey)
	}
	if c.InitVaultKey {
		enc.AllowNewVaultKey()
		m.log.Warn("first start of a new deployment (-init-vault-key): this parent may make the vault key; once it is made, read the identity key (autowallet verify) and restart every parent with -identity-key instead")
	}
	if err := m.startUnlocker(m.runCtx, enc); err != nil {
		return err
	}
	if c.IdentityKey != "" {
		if err := checkIdentityKey(ctx, enc, c.IdentityKey); err != nil {
			return err
		}
	}
	// The networks served must be what the enclave may sign for: the
	// same chains, and per chain the same token contracts.
	if err := checkEnclaveNetworks(ctx, enc, c.Networks); err != nil {
		return err
	}
	if c.AdminAddr != "" {
		if m.admin, err = startAdmin(c.AdminAddr, c.DataDir, m.store, m.log, m.opsRoutes); err != nil {
			return err
		}
		fmt.Fprintf(m.stdout, "autowallet parent admin on http://%s\n", m.admin.Addr())
	}
	fmt.Fprintf(m.stdout, "autowallet parent listening on http://%s\n", m.listener.Addr())
	return nil
}

// Close stops the admin listener, then the host: background work, the
// listener, the chain client and storage.
func (m *ParentMain) Close() error {
	var errs []error
	if m.admin != nil {
		errs = append(errs, m.admin.Close())
	}
	return errors.Join(append(errs, m.close())...)
}

// checkWebhook checks the webhook settings and reads the secret from the
// environment. The secret is never quoted in an error.
func (c *ParentConfig) checkWebhook() error {
	c.WebhookSecret = os.Getenv("AUTOWALLET_WEBHOOK_SECRET")
	if c.WebhookURL == "" {
		if c.WebhookListen != "" {
			return errors.New("-webhook-listen without -webhook-url")
		}
		return nil
	}
	if c.DropWebhook {
		return errors.New("-drop-webhook is for long polling; not with -webhook-url")
	}
	if c.BotToken == "" {
		return errors.New("-webhook-url needs the bot token (TELEGRAM_BOT_TOKEN)")
	}
	if err := checkWebhookURL(c.WebhookURL, c.TelegramAPIURL); err != nil {
		return err
	}
	if c.WebhookSecret == "" {
		return errors.New("-webhook-url needs AUTOWALLET_WEBHOOK_SECRET, the same on every parent (32-256 of A-Z a-z 0-9 _ -; e.g. openssl rand -hex 32)")
	}
	if err := bot.CheckSecret(c.WebhookSecret); err != nil {
		return fmt.Errorf("AUTOWALLET_WEBHOOK_SECRET: %w", err) // names the rule, never the secret
	}
	if c.WebhookMaxConnections < 1 || c.WebhookMaxConnections > 100 {
		return errors.New("-webhook-max-connections must be 1-100")
	}
	if c.WebhookClaimTTL < 3*time.Second || c.WebhookClaimTTL > time.Hour {
		return errors.New("-webhook-claim-ttl must be between 3s and 1h")
	}
	if c.WebhookUpdateDeadline < bot.DefaultHandleTimeout || c.WebhookUpdateDeadline > 24*time.Hour {
		return fmt.Errorf("-webhook-update-deadline must be between %v and 24h", bot.DefaultHandleTimeout)
	}
	return nil
}

// defaultInstance is <hostname>-<pid>: two parents never share it, even on
// one host.
func defaultInstance() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "parent"
	}
	if len(h) > 100 {
		h = h[:100]
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// checkVaultKeyAnchor: with KMS, the vault key is anchored outside the
// database, by the pinned identity key, or this is the first start that
// makes it. The database alone never decides (review 13): a parent with
// neither could be made to take another genuine blob by whoever writes it.
func (c *ParentConfig) checkVaultKeyAnchor() error {
	switch {
	case c.InitVaultKey && c.KMSRegion == "":
		return errors.New("-init-vault-key needs -kms-region: without KMS the enclave has a dev key")
	case c.InitVaultKey && c.IdentityKey != "":
		return errors.New("give -init-vault-key or -identity-key, not both: a deployment whose identity key is known has its vault key, and a pinned parent never makes one")
	case c.KMSRegion != "" && !c.InitVaultKey && c.IdentityKey == "":
		return errors.New("-kms-region needs -identity-key (the deployment's identity key, as the Mini App's config.json pins it and autowallet verify prints it), or -init-vault-key on a new deployment's first start: otherwise only the database would say which vault key is the deployment's")
	}
	return nil
}
