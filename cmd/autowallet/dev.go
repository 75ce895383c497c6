package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/rpc"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/bot/miniapp"
	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
)

// The emulator's bot, when no real token is given.
const (
	devBotToken    = "7000000001:autowallet-dev-emulator"
	devBotUsername = "autowallet_dev_bot"
	devMiniApp     = "wallet"
)

// DevConfig is `autowallet dev`'s settings, from flags and the environment.
type DevConfig struct {
	DataDir           string
	HTTPAddr          string
	BotToken          string
	TelegramAPIURL    string
	TelegramPublicKey string
	MiniAppLink       string
	RPCURL            string
	BlockPeriod       time.Duration
	// L2BlockPeriod is the block period of the embedded Dev L2.
	L2BlockPeriod time.Duration
	Confirmations uint64
	IntentTTL     time.Duration
	// UnsafeMainnet and UnsafePublicListen lift dev mode's refusals of a
	// public mainnet and of a non-loopback listener (mainnets.go).
	UnsafeMainnet      bool
	UnsafePublicListen bool
	// Webhook makes the emulator deliver updates by webhook to this
	// listener (DevWebhookPath) instead of the bot polling (tests of the
	// webhook path; emulator only).
	Webhook bool
}

// DevWebhookPath is where `autowallet dev -webhook` takes updates.
const DevWebhookPath = "/telegram/webhook"

// DevMain is `autowallet dev`: the whole product on one machine. The enclave
// runs in-process on a loopback listener (the same HTTP API as on vsock), the
// vault key is a file in the data folder, the chain is embedded unless
// ETH_RPC_URL is set, and Telegram is the local emulator unless
// TELEGRAM_BOT_TOKEN is set.
type DevMain struct {
	Config DevConfig
	log    *slog.Logger
	stdout io.Writer

	host
	emu *emulator.Emulator
	// devChain and devL2 are the embedded Dev L1 and Dev L2 (nil with
	// ETH_RPC_URL); networks are the networks served, built once and
	// given to the service, the enclave's allowed chains and tokens and
	// the faucet alike.
	devChain *devchain.Chain
	devL2    *devchain.Chain
	networks networks.Set
	enclave  *enclave.Server
	nsm      *enclave.DevNSM
	// enclaveAddr is the in-process enclave's loopback address (tests).
	enclaveAddr string
}

// NewDevMain returns the dev program.
func NewDevMain(log *slog.Logger, stdout io.Writer) *DevMain {
	return &DevMain{log: log, stdout: stdout, host: host{log: log}}
}

// ParseFlags fills Config from flags, whose defaults come from the environment.
func (m *DevMain) ParseFlags(args []string) error {
	c := &m.Config
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data", envOr("AUTOWALLET_DATA", "autowallet-data"), "data folder: bbolt file, dev vault key, emulator key [AUTOWALLET_DATA]")
	fs.StringVar(&c.HTTPAddr, "http", envOr("AUTOWALLET_HTTP", "127.0.0.1:8080"), "listen address of the chat page, Mini App and API [AUTOWALLET_HTTP]")
	secretVar(fs, &c.BotToken, "bot-token", "TELEGRAM_BOT_TOKEN", "a real bot token; empty runs the Telegram emulator [TELEGRAM_BOT_TOKEN]")
	fs.StringVar(&c.TelegramAPIURL, "telegram-api", envOr("TELEGRAM_API_URL", ""), "Bot API server with a token (default Telegram's) [TELEGRAM_API_URL]")
	fs.StringVar(&c.TelegramPublicKey, "telegram-public-key", envOr("TELEGRAM_PUBLIC_KEY", ""), "hex Ed25519 key the dev enclave trusts for initData (default: the emulator's, or Telegram's with a token) [TELEGRAM_PUBLIC_KEY]")
	fs.StringVar(&c.MiniAppLink, "miniapp", envOr("TELEGRAM_MINIAPP", ""), "the Mini App's https://t.me/<bot>/<app> link (required with a token) [TELEGRAM_MINIAPP]")
	fs.StringVar(&c.RPCURL, "rpc", envOr("ETH_RPC_URL", ""), "an EVM node's JSON-RPC URL; empty runs an embedded chain [ETH_RPC_URL]")
	fs.DurationVar(&c.BlockPeriod, "block-period", time.Second, "embedded Dev L1: time between blocks")
	fs.DurationVar(&c.L2BlockPeriod, "l2-block-period", 250*time.Millisecond, "embedded Dev L2: time between blocks")
	fs.Uint64Var(&c.Confirmations, "confirmations", 1, "blocks before a transfer counts as confirmed")
	fs.DurationVar(&c.IntentTTL, "intent-ttl", 10*time.Minute, "how long a user has to approve a transfer")
	fs.BoolVar(&c.UnsafeMainnet, "unsafe-mainnet", unsafeEnv("AUTOWALLET_UNSAFE_MAINNET"), "UNSAFE: allow ETH_RPC_URL on a public mainnet (real funds behind a dev vault key file) [AUTOWALLET_UNSAFE_MAINNET]")
	fs.BoolVar(&c.UnsafePublicListen, "unsafe-public-listen", unsafeEnv("AUTOWALLET_UNSAFE_PUBLIC_LISTEN"), "UNSAFE: with a bot token, allow a non-loopback -http address [AUTOWALLET_UNSAFE_PUBLIC_LISTEN]")
	fs.BoolVar(&c.Webhook, "webhook", os.Getenv("AUTOWALLET_DEV_WEBHOOK") == "1", "the emulator delivers updates by webhook (secret from AUTOWALLET_WEBHOOK_SECRET or generated) instead of the bot polling [AUTOWALLET_DEV_WEBHOOK=1]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.Webhook && c.BotToken != "" {
		return errors.New("-webhook works with the emulator only; with a real bot use autowallet parent -webhook-url")
	}
	if c.BotToken != "" && c.MiniAppLink == "" {
		return errors.New("with a bot token, set TELEGRAM_MINIAPP (-miniapp) to your Mini App's https://t.me/<bot>/<app> link")
	}
	if c.BotToken == "" && c.TelegramAPIURL != "" {
		return errors.New("TELEGRAM_API_URL needs TELEGRAM_BOT_TOKEN")
	}
	if c.BotToken != "" {
		if _, err := botIDOf(c.BotToken); err != nil {
			return err
		}
	}
	if c.TelegramPublicKey != "" {
		if k, err := hex.DecodeString(c.TelegramPublicKey); err != nil || len(k) != ed25519.PublicKeySize {
			return errors.New("TELEGRAM_PUBLIC_KEY is not 64 hex characters")
		}
	}
	return nil
}

// botIDOf is the bot id in a token: the digits before the colon.
func botIDOf(token string) (int64, error) {
	digits, _, ok := strings.Cut(token, ":")
	id, err := strconv.ParseInt(digits, 10, 64)
	if !ok || err != nil || id <= 0 {
		return 0, errors.New("the bot token is not <bot id>:<secret>")
	}
	return id, nil
}

// Run starts every part, in dependency order, and returns once serving.
func (m *DevMain) Run(ctx context.Context) error {
	c := m.Config
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data folder: %w", err)
	}
	// Checked before listening (":8080" has no IP: every interface) and
	// again on the address actually bound.
	if a, err := net.ResolveTCPAddr("tcp", c.HTTPAddr); err == nil {
		if err := checkDevListen(a, c.BotToken == "", c.UnsafePublicListen); err != nil {
			return err
		}
	}
	var err error
	if m.listener, err = net.Listen("tcp", c.HTTPAddr); err != nil {
		return fmt.Errorf("listening on %s: %w", c.HTTPAddr, err)
	}
	if err := checkDevListen(m.listener.Addr(), c.BotToken == "", c.UnsafePublicListen); err != nil {
		return err
	}
	base := "http://" + m.listener.Addr().String()

	// Telegram: the emulator unless a token is given.
	token, apiURL, link := c.BotToken, c.TelegramAPIURL, c.MiniAppLink
	var trusted ed25519.PublicKey
	if token == "" {
		key, err := loadOrCreateEmulatorKey(filepath.Join(c.DataDir, "emulator.key"))
		if err != nil {
			return err
		}
		m.emu, err = emulator.New(emulator.Config{
			BotToken: devBotToken, BotUsername: devBotUsername, BotName: "autowallet (dev)", MiniAppShortName: devMiniApp,
			MiniAppURL: base + miniapp.Prefix, SigningKey: key, Log: m.log.With("component", "emulator"),
		})
		if err != nil {
			return fmt.Errorf("starting the Telegram emulator: %w", err)
		}
		token, apiURL, link = devBotToken, base, "https://t.me/"+devBotUsername+"/"+devMiniApp
		trusted = m.emu.PublicKey()
	} else {
		// With a real bot, Telegram's Ed25519 key is the only proof of an
		// approval: the host holds the bot token, so a bot-token HMAC
		// would let it approve anything (no hmac_bot_token below).
		pub, _ := hex.DecodeString(TelegramProductionKey)
		trusted = pub
	}
	if c.TelegramPublicKey != "" {
		trusted, _ = hex.DecodeString(c.TelegramPublicKey)
	}
	botID, _ := botIDOf(token)

	// The chains: the embedded Dev L1 and Dev L2 unless a node is given.
	if c.RPCURL == "" {
		if err := m.startDevChains(c); err != nil {
			return err
		}
	} else {
		chainID, err := nodeChainID(ctx, c.RPCURL)
		if err != nil {
			return fmt.Errorf("asking %s for its chain id: %w", redactedURL(c.RPCURL), err)
		}
		n := networks.ForChainID(chainID)
		n.RPCURL = c.RPCURL
		m.networks = networks.Set{n}
	}
	for _, n := range m.networks {
		if err := checkDevChain(n.ChainID, n.RPCURL, c.UnsafeMainnet); err != nil {
			return err
		}
	}
	// The enclave allows exactly the networks served and their tokens.
	allowedIDs, allowedTokens := enclaveAllowed(m.networks)

	// The enclave, in-process on loopback, with a dev config and vault key.
	// It never takes the bot-token HMAC: with the emulator there is no
	// token to speak of, and with a real token the host holds it.
	encAddr, err := m.startEnclave(&enclave.Config{
		Dev: true, BotID: botID, TelegramPublicKey: trusted,
		AllowedChainIDs: allowedIDs, AllowedTokens: allowedTokens, MaxAuthAge: time.Hour, ClockSkew: time.Minute,
	}, filepath.Join(c.DataDir, "vault.key"))
	if err != nil {
		return err
	}
	m.enclaveAddr = encAddr

	var faucet bot.Faucet
	if m.devChain != nil {
		faucet = &devFaucet{chains: []*devchain.Chain{m.devChain, m.devL2}, nets: m.networks}
	}
	hc := hostConfig{
		DataDir: c.DataDir, Networks: m.networks, Enclave: parent.NewEnclaveClientTCP(encAddr, 15*time.Second),
		Service: parent.ServiceConfig{
			IntentTTL: c.IntentTTL, Confirmations: c.Confirmations, PollInterval: time.Second,
		},
		Routes: func(mux *http.ServeMux) {
			// The page's config.json lists the same networks and tokens as
			// the service and the enclave: one networks.Set for all three.
			mux.Handle(miniapp.Prefix, miniapp.Handler(m.miniAppOptions(encAddr, botID, hex.EncodeToString(trusted), m.networks)...))
			if m.emu != nil {
				m.emu.Register(mux)
			}
		},
		// With its own emulator dev may delete a webhook left set; with a
		// real bot it must not switch off the parents serving it.
		Bot:          &bot.Config{Token: token, APIURL: apiURL, MiniAppLink: link, Faucet: faucet, DropWebhook: c.BotToken == ""},
		ServeMetrics: true,
	}
	if c.Webhook {
		secret := os.Getenv("AUTOWALLET_WEBHOOK_SECRET")
		if secret == "" {
			secret = bot.GenerateSecret() // 64 hex characters
		} else if err := bot.CheckSecret(secret); err != nil {
			return fmt.Errorf("AUTOWALLET_WEBHOOK_SECRET: %w", err) // never quotes the secret
		}
		hc.Bot.Webhook = &bot.WebhookConfig{URL: base + DevWebhookPath, Secret: secret, Instance: "dev"}
	}
	if err := m.open(ctx, hc); err != nil {
		return err
	}
	listener := m.listener
	m.listener = nil // serve takes it
	if err := m.serve(listener, hc); err != nil {
		return err
	}

	if m.emu != nil {
		fmt.Fprintf(m.stdout, "autowallet dev is running: open %s/ to chat with the bot\n", base)
	} else {
		fmt.Fprintf(m.stdout, "autowallet dev is running with your bot; the Mini App page and API are at %s%s\n", base, miniapp.Prefix)
	}
	fmt.Fprintf(m.stdout, "  Mini App %s%s  API %s/miniapp/api/  health %s/healthz  ready %s/readyz  metrics %s/metrics\n", base, miniapp.Prefix, base, base, base, base)
	for _, n := range m.networks {
		fmt.Fprintf(m.stdout, "  %s: chain %d at %s", n.Name, n.ChainID, redactedURL(n.RPCURL))
		for _, t := range n.Tokens {
			fmt.Fprintf(m.stdout, ", %s %s", t.Symbol, t.Address.Hex())
		}
		fmt.Fprintln(m.stdout)
	}
	fmt.Fprintf(m.stdout, "  attestation (dev root, never AWS's): autowallet verify -url %s -pcr0 %x -root-sha256 %s\n", base, m.nsm.PCR0(), m.nsm.Root().SHA256())
	return nil
}

func (m *DevMain) startEnclave(cfg *enclave.Config, vaultPath string) (string, error) {
	// The dev NSM attests under a dev root kept in the data folder, with
	// PCR0 = SHA-384 of the dev config (docs/attestation.md).
	root, err := enclave.LoadOrCreateDevRoot(filepath.Join(filepath.Dir(vaultPath), "dev-attestation-root.pem"))
	if err != nil {
		return "", err
	}
	if m.nsm, err = enclave.NewDevNSM(root, enclave.EncodeConfig(cfg), nil); err != nil {
		return "", err
	}
	signer, err := enclave.NewSigner(cfg, enclave.Options{Entropy: rand.Reader, Attester: m.nsm})
	if err != nil {
		return "", fmt.Errorf("enclave: %w", err)
	}
	key, err := enclave.LoadOrCreateDevVaultKey(vaultPath)
	if err != nil {
		return "", err
	}
	err = signer.Unlock(key)
	clear(key)
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("enclave: listening on loopback: %w", err)
	}
	m.enclave = enclave.NewServer(signer, m.log.With("component", "enclave"))
	go enclave.Serve(m.enclave, l)
	return l.Addr().String(), nil
}

// nodeChainID asks a node for its chain id.
func nodeChainID(ctx context.Context, url string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, err := rpc.DialContext(ctx, url)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var id string
	if err := cl.CallContext(ctx, &id, "eth_chainId"); err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimPrefix(id, "0x"), 16, 64)
}

// loadOrCreateEmulatorKey keeps the emulator's Ed25519 seed in the data
// folder, so initData signed before a restart still verifies after it.
func loadOrCreateEmulatorKey(path string) (ed25519.PrivateKey, error) {
	seed, err := os.ReadFile(path)
	if err == nil && len(seed) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err == nil {
		return nil, fmt.Errorf("emulator key %s: %d bytes, want %d", path, len(seed), ed25519.SeedSize)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("emulator key: %w", err)
	}
	seed = make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	if err := os.WriteFile(path, seed, 0o600); err != nil {
		return nil, fmt.Errorf("emulator key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// Emulator is the Telegram emulator, nil with a real token (after Run).
func (m *DevMain) Emulator() *emulator.Emulator { return m.emu }

// DevNSM is the enclave's dev NSM (after Run).
func (m *DevMain) DevNSM() *enclave.DevNSM { return m.nsm }

// Close stops everything in reverse order; a restart on the same data folder
// keeps wallets and transfers (the embedded chain starts again from genesis).
func (m *DevMain) Close() error {
	// The emulator first: it wakes the bot's long poll, which would
	// otherwise hold the server's shutdown.
	if m.emu != nil {
		m.emu.Close()
	}
	errs := []error{m.close()}
	if m.enclave != nil {
		errs = append(errs, shutdown(m.enclave, 5*time.Second))
	}
	for _, c := range []*devchain.Chain{m.devChain, m.devL2} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
