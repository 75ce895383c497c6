package protocol

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests run the verifier on initData that Telegram itself signed. Each
// file's "expect" map drives them: a key without a test here fails, so a new
// expectation added to the shared vectors cannot be silently ignored.

// telegramOutcomes maps the words of the shared vectors to the verifier's
// reasons; "valid" is success.
var telegramOutcomes = map[string]error{
	"valid":         nil,
	"bad signature": ErrBadSignature,
	"bad hash":      ErrBadSignature,
	"expired":       ErrStaleAuth,
}

type telegramVector struct {
	BotID         int64             `json:"bot_id"`
	BotToken      string            `json:"bot_token"`
	InitData      string            `json:"init_data"`
	UserID        int64             `json:"user_id"`
	AuthDate      int64             `json:"auth_date"`
	ProductionKey string            `json:"telegram_public_key_production"`
	TestKey       string            `json:"telegram_public_key_test"`
	Expect        map[string]string `json:"expect"`
}

func readTelegramVector(t *testing.T, name string) telegramVector {
	t.Helper()
	b, err := os.ReadFile(telegramDir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v telegramVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Expect) == 0 {
		t.Fatalf("%s has no expectations", name)
	}
	return v
}

// runExpectations runs one check per key of expect. A check returns the
// verifier's results (several for checks over many inputs); every one must be
// the expected outcome.
func runExpectations(t *testing.T, expect map[string]string, checks map[string]func(t *testing.T) []error) {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range expect {
			if !yield(k) {
				return
			}
		}
	})
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			want, known := telegramOutcomes[expect[key]]
			if !known {
				t.Fatalf("unknown outcome %q", expect[key])
			}
			check := checks[key]
			if check == nil {
				t.Fatalf("the vector expects %q but no test checks it", key)
			}
			results := check(t)
			if len(results) == 0 {
				t.Fatal("the check ran nothing")
			}
			for i, err := range results {
				if want == nil && err != nil {
					t.Fatalf("result %d: want valid, got %v", i, err)
				}
				if want != nil && !isOnly(err, want) {
					t.Fatalf("result %d: want %v, got %v", i, want, err)
				}
			}
		})
	}
}

// isOnly reports whether err wraps want and none of the verifier's other reasons.
func isOnly(err, want error) bool {
	n := 0
	for _, r := range []error{ErrMalformedInitData, ErrBadSignature, ErrStaleAuth} {
		if errors.Is(err, r) {
			n++
		}
	}
	return n == 1 && errors.Is(err, want)
}

func mustKey(t *testing.T, h string) ed25519.PublicKey {
	t.Helper()
	k, err := hex.DecodeString(h)
	if err != nil || len(k) != ed25519.PublicKeySize {
		t.Fatalf("bad key %q", h)
	}
	return k
}

func TestTelegramEd25519Vector(t *testing.T) {
	v := readTelegramVector(t, "initdata-ed25519.json")
	prod, test := mustKey(t, v.ProductionKey), mustKey(t, v.TestKey)
	signedAt := time.Unix(v.AuthDate, 0)
	cfg := VerifyConfig{BotID: v.BotID, PublicKey: prod, MaxAge: time.Hour, ClockSkew: time.Minute}
	verifyAt := func(raw string, c VerifyConfig, now time.Time) []error {
		_, err := VerifyInitData(raw, c, now)
		return []error{err}
	}
	runExpectations(t, v.Expect, map[string]func(t *testing.T) []error{
		"production_key": func(t *testing.T) []error {
			d, err := VerifyInitData(v.InitData, cfg, signedAt)
			if err == nil && (d.UserID != v.UserID || !d.AuthDate.Equal(signedAt) || d.SignedBy != "ed25519" || d.ChatType != "private") {
				t.Errorf("verified, but read %+v", d)
			}
			return []error{err}
		},
		"test_key": func(t *testing.T) []error {
			c := cfg
			c.PublicKey = test
			return verifyAt(v.InitData, c, signedAt)
		},
		"bot_id_7342037358": func(t *testing.T) []error {
			c := cfg
			c.BotID = 7342037358
			return verifyAt(v.InitData, c, signedAt)
		},
		"any_byte_of_user_changed": func(t *testing.T) []error {
			return everyByteChanged(t, v.InitData, "user", func(raw string) error {
				_, err := VerifyInitData(raw, cfg, signedAt)
				return err
			})
		},
		"max_age_1h_at_now": func(t *testing.T) []error { return verifyAt(v.InitData, cfg, time.Now()) },
	})
}

func TestTelegramHMACVector(t *testing.T) {
	v := readTelegramVector(t, "initdata-hmac.json")
	signedAt := time.Unix(v.AuthDate, 0)
	cfg := VerifyConfig{BotID: 5768337691, HMACBotToken: v.BotToken, MaxAge: time.Hour, ClockSkew: time.Minute}
	runExpectations(t, v.Expect, map[string]func(t *testing.T) []error{
		"this_token": func(t *testing.T) []error {
			d, err := VerifyInitData(v.InitData, cfg, signedAt)
			if err == nil && (d.UserID != v.UserID || d.SignedBy != "hmac" || d.QueryID != "AAHdF6IQAAAAAN0XohDhrOrc") {
				t.Errorf("verified, but read %+v", d)
			}
			return []error{err}
		},
		"other_token": func(t *testing.T) []error {
			c := cfg
			c.HMACBotToken = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx9"
			_, err := VerifyInitData(v.InitData, c, signedAt)
			return []error{err}
		},
		"max_age_1h_at_now": func(t *testing.T) []error {
			_, err := VerifyInitData(v.InitData, cfg, time.Now())
			return []error{err}
		},
	})
}

// A production configuration (Telegram's key, no bot token) must refuse
// HMAC-signed initData, even real and fresh: the host holds the bot token and
// could make such initData for any transfer.
func TestTelegramHMACRefusedByProductionConfig(t *testing.T) {
	v := readTelegramVector(t, "initdata-hmac.json")
	ed := readTelegramVector(t, "initdata-ed25519.json")
	prod := VerifyConfig{BotID: 5768337691, PublicKey: mustKey(t, ed.ProductionKey), MaxAge: time.Hour, ClockSkew: time.Minute}
	_, err := VerifyInitData(v.InitData, prod, time.Unix(v.AuthDate, 0))
	wantCode(t, err, CodeBadSignature)
	// The Ed25519 vector also carries a hash; under a production config the
	// hash is ignored and the signature alone decides.
	edCfg := VerifyConfig{BotID: ed.BotID, PublicKey: mustKey(t, ed.ProductionKey), MaxAge: time.Hour}
	if d, err := VerifyInitData(ed.InitData, edCfg, time.Unix(ed.AuthDate, 0)); err != nil || d.SignedBy != "ed25519" {
		t.Fatalf("got %+v, %v", d, err)
	}
}

// everyByteChanged verifies raw once for every byte of field's decoded value
// with that byte changed, and returns the results.
func everyByteChanged(t *testing.T, raw, field string, verify func(string) error) []error {
	t.Helper()
	parts := strings.Split(raw, "&")
	at := slices.IndexFunc(parts, func(p string) bool { return strings.HasPrefix(p, field+"=") })
	if at < 0 {
		t.Fatalf("no %s in initData", field)
	}
	value, err := url.QueryUnescape(strings.TrimPrefix(parts[at], field+"="))
	if err != nil {
		t.Fatal(err)
	}
	var results []error
	for i := range len(value) {
		changed := []byte(value)
		changed[i] ^= 0x01
		p := slices.Clone(parts)
		p[at] = field + "=" + url.QueryEscape(string(changed))
		err := verify(strings.Join(p, "&"))
		if err == nil {
			t.Errorf("byte %d (%s) changed still verifies", i, strconv.QuoteRune(rune(value[i])))
		}
		results = append(results, err)
	}
	return results
}
