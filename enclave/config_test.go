package enclave

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// configJSON is a valid config file with one field changed (or, with an
// empty value, removed). Keys are the file's JSON names.
func configJSON(changes map[string]string) string {
	fields := map[string]string{
		"version":             `1`,
		"mode":                `"production"`,
		"bot_id":              `7000000001`,
		"telegram_public_key": `"` + hex.EncodeToString(testConfig().TelegramPublicKey) + `"`,
		"allowed_chain_ids":   `[11155111, 1]`,
		"max_auth_age":        `"1h"`,
		"clock_skew":          `"1m"`,
		"kms_key_arn":         `"` + testKMSConfig().KeyARN + `"`,
		"kms_region":          `"` + testKMSConfig().Region + `"`,
		"kms_proxy_port":      `8000`,
	}
	for k, v := range changes {
		fields[k] = v
	}
	var parts []string
	for _, k := range []string{"version", "mode", "bot_id", "telegram_public_key", "hmac_bot_token", "allowed_chain_ids", "chains", "max_auth_age", "clock_skew", "kms_key_arn", "kms_region", "kms_proxy_port", "extra"} {
		if v, ok := fields[k]; ok && v != "" {
			parts = append(parts, `"`+k+`": `+v)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(configJSON(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dev || c.BotID != testvectors.BotID || c.HMACBotToken != "" || c.MaxAuthAge != time.Hour || c.ClockSkew != time.Minute ||
		len(c.AllowedChainIDs) != 2 || !c.TelegramPublicKey.Equal(testConfig().TelegramPublicKey) {
		t.Fatalf("parsed %+v", c)
	}
	dev, err := ParseConfig([]byte(configJSON(map[string]string{"mode": `"dev"`, "hmac_bot_token": `"1:dev"`, "kms_key_arn": "", "kms_region": "", "kms_proxy_port": ""})))
	if err != nil || !dev.Dev || dev.HMACBotToken != "1:dev" {
		t.Fatalf("dev config: %+v, %v", dev, err)
	}
}

func TestParseConfigRefusals(t *testing.T) {
	cases := map[string]string{
		"hmac_bot_token in production": configJSON(map[string]string{"hmac_bot_token": `"1:token"`}),
		"hmac_bot_token with KMS":      configJSON(map[string]string{"mode": `"dev"`, "hmac_bot_token": `"1:token"`}),
		"dev with KMS":                 configJSON(map[string]string{"mode": `"dev"`}),
		"unknown field":                configJSON(map[string]string{"extra": `true`}),
		"key not hex":                  configJSON(map[string]string{"telegram_public_key": `"not hex"`}),
		"key 31 bytes":                 configJSON(map[string]string{"telegram_public_key": `"` + strings.Repeat("ab", 31) + `"`}),
		"no key":                       configJSON(map[string]string{"telegram_public_key": ""}),
		"version 3":                    configJSON(map[string]string{"version": `3`}),
		"no version":                   configJSON(map[string]string{"version": ""}),
		"unknown mode":                 configJSON(map[string]string{"mode": `"test"`}),
		"no mode":                      configJSON(map[string]string{"mode": ""}),
		"bot id zero":                  configJSON(map[string]string{"bot_id": `0`}),
		"bot id negative":              configJSON(map[string]string{"bot_id": `-5`}),
		"no chains":                    configJSON(map[string]string{"allowed_chain_ids": `[]`}),
		"chain zero":                   configJSON(map[string]string{"allowed_chain_ids": `[1, 0]`}),
		"negative chain":               configJSON(map[string]string{"allowed_chain_ids": `[-1]`}),
		"max age zero":                 configJSON(map[string]string{"max_auth_age": `"0s"`}),
		"max age over a day":           configJSON(map[string]string{"max_auth_age": `"25h"`}),
		"max age not a duration":       configJSON(map[string]string{"max_auth_age": `"an hour"`}),
		"negative skew":                configJSON(map[string]string{"clock_skew": `"-1s"`}),
		"skew over 5 minutes":          configJSON(map[string]string{"clock_skew": `"6m"`}),
		"no skew":                      configJSON(map[string]string{"clock_skew": ""}),
		"trailing object":              configJSON(nil) + `{}`,
		"trailing brace":               configJSON(nil) + `}`,
		"trailing bracket":             configJSON(nil) + `]`,
		"not JSON":                     `version: 1`,
		"empty":                        ``,
		"array":                        `[]`,
	}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := ParseConfig([]byte(file))
			if !errors.Is(err, ErrBadConfig) || c != nil {
				t.Fatalf("want ErrBadConfig, got %+v, %v", c, err)
			}
		})
	}
}

// A config built in code (dev mode) meets the same rules as a parsed one.
func TestConfigValidate(t *testing.T) {
	if err := testConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := testConfig()
	c.HMACBotToken = "1:token"
	if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("production config with a bot token: %v", err)
	}
	c.Dev = true
	if err := c.Validate(); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "hmac_bot_token and kms_") {
		t.Fatalf("dev config with a bot token and KMS: %v", err)
	}
	c.HMACBotToken = ""
	if err := c.Validate(); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), `mode "dev" with kms_`) {
		t.Fatalf("dev config with KMS: %v", err)
	}
	c.KMS, c.HMACBotToken = nil, "1:token"
	if err := c.Validate(); err != nil {
		t.Fatalf("dev config with a bot token, no KMS: %v", err)
	}
}

// TestConfigKMSRefusalReasons: each refusal names its own rule, so an
// operator reading the error knows which field to remove.
func TestConfigKMSRefusalReasons(t *testing.T) {
	noKMS := map[string]string{"kms_key_arn": "", "kms_region": "", "kms_proxy_port": ""}
	cases := []struct {
		name    string
		changes map[string]string
		want    string
	}{
		{"hmac in production", map[string]string{"hmac_bot_token": `"1:t"`}, `allowed only in mode "dev"`},
		{"hmac with KMS in dev", map[string]string{"mode": `"dev"`, "hmac_bot_token": `"1:t"`}, "hmac_bot_token and kms_"},
		{"dev with KMS", map[string]string{"mode": `"dev"`}, `mode "dev" with kms_`},
		{"production without KMS", noKMS, "needs kms_key_arn"},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(configJSON(c.changes)))
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadConfig saying %q", c.name, err, c.want)
		}
	}
}

// TestParseConfigStrictJSON: the config file is strict JSON, like every
// request: keys exact and once, valid UTF-8, no null.
func TestParseConfigStrictJSON(t *testing.T) {
	good := configJSON(nil)
	if _, err := ParseConfig([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]string{
		"key in another case": strings.Replace(good, `"bot_id"`, `"Bot_ID"`, 1),
		"duplicate key":       strings.Replace(good, `"bot_id": 7000000001`, `"bot_id": 7000000001, "bot_id": 7000000002`, 1),
		"null field":          configJSON(map[string]string{"kms_region": `null`}),
		"null chain id":       configJSON(map[string]string{"allowed_chain_ids": `[1, null]`}),
		"null file":           `null`,
		"invalid UTF-8":       configJSON(map[string]string{"hmac_bot_token": "\"\xff\""}),
		"lone surrogate":      configJSON(map[string]string{"mode": `"dev\ud800"`}),
	} {
		if _, err := ParseConfig([]byte(cfg)); !errors.Is(err, ErrBadConfig) || !errors.Is(err, protocol.ErrStrictJSON) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
