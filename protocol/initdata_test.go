package protocol

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testvectors"
)

func testFields(authDate time.Time) map[string]string {
	return map[string]string{
		"user":        `{"id":424242,"first_name":"T"}`,
		"auth_date":   strconv.FormatInt(authDate.Unix(), 10),
		"start_param": "abc",
		"query_id":    "q",
	}
}

// In a dev configuration either signature is enough; the Ed25519 one wins
// when both verify, and a wrong Ed25519 signature with a good HMAC passes
// only because the configuration trusts the token.
func TestVerifyInitDataBothModes(t *testing.T) {
	now := testvectors.NowTime()
	key := testvectors.TelegramKey()
	const token = "123456:dev-token"
	dev := vectorVerifyConfig()
	dev.HMACBotToken = token

	both := SignInitData(testFields(now), testvectors.BotID, key, token)
	if d, err := VerifyInitData(both, dev, now); err != nil || d.SignedBy != "ed25519" || d.QueryID != "q" {
		t.Fatalf("%+v, %v", d, err)
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	hmacGood := SignInitData(testFields(now), testvectors.BotID, otherKey, token)
	if d, err := VerifyInitData(hmacGood, dev, now); err != nil || d.SignedBy != "hmac" {
		t.Fatalf("%+v, %v", d, err)
	}
	_, err := VerifyInitData(hmacGood, vectorVerifyConfig(), now)
	wantCode(t, err, CodeBadSignature)
	_, err = VerifyInitData(SignInitData(testFields(now), testvectors.BotID, nil, "123456:other"), dev, now)
	wantCode(t, err, CodeBadSignature)
}

// A verifier without a usable public key accepts no Ed25519 signature.
func TestVerifyInitDataWithoutPublicKey(t *testing.T) {
	now := testvectors.NowTime()
	raw := SignInitData(testFields(now), testvectors.BotID, testvectors.TelegramKey(), "")
	for _, pub := range []ed25519.PublicKey{nil, make([]byte, 31)} {
		cfg := vectorVerifyConfig()
		cfg.PublicKey = pub
		_, err := VerifyInitData(raw, cfg, now)
		wantCode(t, err, CodeBadSignature)
	}
}

// SignInitData ignores hash and signature given as fields: they are outputs.
func TestSignInitDataReplacesSignatureFields(t *testing.T) {
	now := testvectors.NowTime()
	f := testFields(now)
	f["signature"], f["hash"] = "forged", "forged"
	raw := SignInitData(f, testvectors.BotID, testvectors.TelegramKey(), "")
	if strings.Contains(raw, "forged") || strings.Contains(raw, "hash=") {
		t.Fatalf("%s", raw)
	}
	if _, err := VerifyInitData(raw, vectorVerifyConfig(), now); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyInitDataSizeLimit(t *testing.T) {
	now := testvectors.NowTime()
	f := testFields(now)
	f["pad"] = strings.Repeat("a", MaxInitData)
	_, err := VerifyInitData(SignInitData(f, testvectors.BotID, testvectors.TelegramKey(), ""), vectorVerifyConfig(), now)
	wantCode(t, err, CodeMalformedInitData)
}

// The order of checks: a bad signature is reported before anything the
// signed fields say (a stale date, a missing user), so an unsigned input
// learns nothing about which fields the verifier would accept.
func TestVerifyInitDataSignatureFirst(t *testing.T) {
	now := testvectors.NowTime()
	f := testFields(now.Add(-48 * time.Hour))
	delete(f, "user")
	raw := SignInitData(f, testvectors.BotID+1, testvectors.TelegramKey(), "")
	_, err := VerifyInitData(raw, vectorVerifyConfig(), now)
	wantCode(t, err, CodeBadSignature)
	// Signed correctly, the same fields are malformed (no user) before stale.
	raw = SignInitData(f, testvectors.BotID, testvectors.TelegramKey(), "")
	_, err = VerifyInitData(raw, vectorVerifyConfig(), now)
	wantCode(t, err, CodeMalformedInitData)
}

// TestSignedMessageBytes pins the bytes the Ed25519 signature and the HMAC
// are checked over to Telegram's definition, built here the plain way
// (strings joined in order): appendDataCheckString builds them in one
// buffer for speed and must not change one byte. TestTelegramEd25519Vector
// and TestTelegramHMACVector check the same against Telegram's own data.
func TestSignedMessageBytes(t *testing.T) {
	raws := []string{
		vector[testvectors.InitDataVector](t, "initdata", "valid").InitData,
		SignInitData(testFields(time.Unix(1700000000, 0)), 7, testvectors.TelegramKey(), "1:tok"),
		"a=1&b=2", // no hash, no signature
		"hash=x",  // nothing but the skipped keys
	}
	for _, raw := range raws {
		f, err := parseFields(raw)
		if err != nil {
			t.Fatal(err)
		}
		want := func(skip ...string) string {
			var lines []string
			for k, v := range f {
				if !slices.Contains(skip, k) {
					lines = append(lines, k+"="+v)
				}
			}
			slices.Sort(lines) // keys hold no '=', so sorting lines sorts keys
			return strings.Join(lines, "\n")
		}
		for _, bot := range []int64{1, testvectors.BotID, -5, 1<<63 - 1} {
			if got, want := string(f.ed25519Message(bot)), strconv.FormatInt(bot, 10)+":WebAppData\n"+want("hash", "signature"); got != want {
				t.Errorf("ed25519Message(%d) = %q, want %q", bot, got, want)
			}
		}
		secret := hmac.New(sha256.New, []byte("WebAppData"))
		secret.Write([]byte("1:tok"))
		mac := hmac.New(sha256.New, secret.Sum(nil))
		mac.Write([]byte(want("hash")))
		if !hmac.Equal(f.hmacHash("1:tok"), mac.Sum(nil)) {
			t.Errorf("hmacHash of %q is not over the data-check-string without hash", raw)
		}
		if got := f.appendDataCheckString([]byte("prefix|")); string(got) != "prefix|"+want() {
			t.Errorf("appendDataCheckString dropped or changed its dst: %q", got)
		}
	}
}
