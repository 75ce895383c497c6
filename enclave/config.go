package enclave

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/protocol"
)

// Config is what counts as a valid approval. In production it is a file baked
// into the enclave image (so PCR0 covers it) and never comes from the parent.
type Config struct {
	// Dev marks a development configuration. Only a dev configuration may
	// accept the bot-token HMAC.
	Dev bool
	// BotID is the Telegram bot whose Mini App signs approvals.
	BotID int64
	// TelegramPublicKey verifies initData's Ed25519 signature: Telegram's
	// production key, or in dev the emulator's.
	TelegramPublicKey ed25519.PublicKey
	// HMACBotToken, dev only: also accept initData signed with this bot
	// token's HMAC (real Telegram without third-party validation).
	HMACBotToken string
	// AllowedChainIDs lists the chains the enclave signs for.
	AllowedChainIDs []uint64
	// AllowedTokens lists, per chain id (each one of AllowedChainIDs), the
	// ERC-20 contracts the enclave may sign transfer(to, amount) of
	// (tokens.go). A chain with none: the native coin only.
	AllowedTokens map[uint64][]common.Address
	// MaxAuthAge is how old initData's auth_date may be; ClockSkew how far
	// in the future it may be.
	MaxAuthAge time.Duration
	ClockSkew  time.Duration
	// KMS is where the vault key comes from (kmsconfig.go); required in
	// production, refused in dev (which keeps the key file) and refused
	// together with HMACBotToken.
	KMS *KMSConfig
}

// Limits on config values, so a typo cannot make approvals last for days.
const (
	maxAuthAgeLimit = 24 * time.Hour
	clockSkewLimit  = 5 * time.Minute
)

// configFile is the JSON form of Config (docs/protocol.md, section 5):
// version 2 lists chains with their tokens in "chains"; version 1, still
// read, lists chain ids in "allowed_chain_ids" and allows no token.
type configFile struct {
	Version           int                    `json:"version"`
	Mode              string                 `json:"mode"`
	BotID             int64                  `json:"bot_id"`
	TelegramPublicKey string                 `json:"telegram_public_key"`
	HMACBotToken      string                 `json:"hmac_bot_token,omitempty"`
	AllowedChainIDs   []uint64               `json:"allowed_chain_ids,omitempty"` // version 1 only
	Chains            []protocol.ChainTokens `json:"chains,omitempty"`            // version 2 only
	MaxAuthAge        string                 `json:"max_auth_age"`
	ClockSkew         string                 `json:"clock_skew"`
	KMSKeyARN         string                 `json:"kms_key_arn,omitempty"`
	KMSRegion         string                 `json:"kms_region,omitempty"`
	KMSProxyPort      uint32                 `json:"kms_proxy_port,omitempty"`
}

// Config file versions ParseConfig reads; EncodeConfig writes the latest.
const (
	configV1      = 1 // allowed_chain_ids: native coin only
	configV2      = 2 // chains with their tokens
	ConfigVersion = configV2
)

// ErrBadConfig is wrapped by every config error.
var ErrBadConfig = errors.New("bad enclave config")

// ParseConfig reads a version 2 (or version 1) config file strictly.
func ParseConfig(b []byte) (*Config, error) {
	// Strict JSON (protocol.DecodeStrict): keys exact and once, valid
	// UTF-8, no null, no unknown field, nothing after the object. The file
	// is baked into the image, but what it says must have one reading for
	// an auditor too.
	var f configFile
	if err := protocol.DecodeStrict(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	c := &Config{BotID: f.BotID, HMACBotToken: f.HMACBotToken}
	if err := parseChains(&f, c); err != nil {
		return nil, err
	}
	switch f.Mode {
	case "production":
	case "dev":
		c.Dev = true
	default:
		return nil, fmt.Errorf("%w: mode %q, want \"production\" or \"dev\"", ErrBadConfig, f.Mode)
	}
	key, err := hex.DecodeString(f.TelegramPublicKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: telegram_public_key is not 32 bytes of hex", ErrBadConfig)
	}
	c.TelegramPublicKey = key
	if c.MaxAuthAge, err = time.ParseDuration(f.MaxAuthAge); err != nil {
		return nil, fmt.Errorf("%w: max_auth_age: %v", ErrBadConfig, err)
	}
	if c.ClockSkew, err = time.ParseDuration(f.ClockSkew); err != nil {
		return nil, fmt.Errorf("%w: clock_skew: %v", ErrBadConfig, err)
	}
	if c.KMS, err = parseKMS(&f, c.Dev); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks a config, whether parsed or built in code (dev mode).
func (c *Config) Validate() error {
	switch {
	case c.BotID <= 0:
		return fmt.Errorf("%w: bot_id must be positive", ErrBadConfig)
	case len(c.TelegramPublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: telegram_public_key must be 32 bytes", ErrBadConfig)
	case c.HMACBotToken != "" && !c.Dev:
		// Anyone with the bot token (the host) could make HMAC initData, so
		// a production enclave must never accept it.
		return fmt.Errorf("%w: hmac_bot_token is allowed only in mode \"dev\"", ErrBadConfig)
	case c.HMACBotToken != "" && c.KMS != nil:
		// A KMS key releases a real vault key; an enclave holding it must not
		// also take approvals the host can forge with the bot token. Stated
		// on its own so the refusal names both fields, whatever the mode.
		return fmt.Errorf("%w: hmac_bot_token and kms_* together: an enclave that holds a KMS vault key accepts Telegram's Ed25519 signature only", ErrBadConfig)
	case c.Dev && c.KMS != nil:
		// A dev config is one step from an unsafe one (a dev vault key
		// file, a dev NSM, an HMAC): it must never reach a real KMS key, or
		// a "dev" image with a production key would be a production signer
		// with dev rules.
		return fmt.Errorf("%w: mode \"dev\" with kms_* fields: a dev enclave keeps its vault key in a file and never uses a KMS key; use mode \"production\"", ErrBadConfig)
	case len(c.AllowedChainIDs) == 0:
		return fmt.Errorf("%w: allowed_chain_ids is empty", ErrBadConfig)
	case slices.Contains(c.AllowedChainIDs, 0):
		return fmt.Errorf("%w: chain id 0 is not a chain", ErrBadConfig)
	case hasDuplicate(c.AllowedChainIDs):
		return fmt.Errorf("%w: a chain id is listed twice", ErrBadConfig)
	case c.MaxAuthAge <= 0 || c.MaxAuthAge > maxAuthAgeLimit:
		return fmt.Errorf("%w: max_auth_age must be in (0, %s]", ErrBadConfig, maxAuthAgeLimit)
	case c.ClockSkew < 0 || c.ClockSkew > clockSkewLimit:
		return fmt.Errorf("%w: clock_skew must be in [0, %s]", ErrBadConfig, clockSkewLimit)
	}
	if err := c.validateTokens(); err != nil {
		return err
	}
	return c.KMS.validate()
}

func (c *Config) verifyConfig() protocol.VerifyConfig {
	return protocol.VerifyConfig{
		BotID:        c.BotID,
		PublicKey:    c.TelegramPublicKey,
		HMACBotToken: c.HMACBotToken,
		MaxAge:       c.MaxAuthAge,
		ClockSkew:    c.ClockSkew,
	}
}
