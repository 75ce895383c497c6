package protocol

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxInitData bounds the raw initData the verifier will look at. Telegram's
// initData is well under 2 KiB (user JSON, a 512-character start_param and two
// signatures); anything larger is refused before it is parsed.
const MaxInitData = 8 << 10

// Reasons for refusing initData. Every error returned by VerifyInitData and
// ParseInitData wraps exactly one of them.
var (
	ErrMalformedInitData = errors.New("malformed initData")
	ErrBadSignature      = errors.New("initData signature does not verify")
	ErrStaleAuth         = errors.New("initData auth_date is outside the accepted window")
)

// InitData is the part of a Mini App's initData the wallet relies on.
type InitData struct {
	UserID       int64
	AuthDate     time.Time
	StartParam   string // empty when the Mini App was not opened with startapp
	QueryID      string
	ChatType     string
	ChatInstance string
	// SignedBy says which check accepted it: "ed25519" (Telegram's key) or
	// "hmac" (the bot token, dev configurations only).
	SignedBy string
}

// VerifyConfig says which initData counts as signed.
type VerifyConfig struct {
	// BotID is the numeric id of the bot the Mini App belongs to; it is part
	// of what Telegram signs, so initData for another bot never verifies.
	BotID int64
	// PublicKey is Telegram's Ed25519 key (or, in dev, the emulator's).
	PublicKey ed25519.PublicKey
	// HMACBotToken, when not empty, also accepts the bot-token HMAC `hash`.
	// Anyone holding the token can make such initData, so only dev
	// configurations may set it; the enclave's config loader enforces that.
	HMACBotToken string
	// MaxAge is how old auth_date may be; ClockSkew how far in the future.
	MaxAge    time.Duration
	ClockSkew time.Duration
}

// fields is initData as parsed: the decoded key/value pairs, each key once.
type fields map[string]string

// parseFields splits raw initData strictly: no empty pairs, every pair has
// '=', keys are unique and values are valid percent-encoding.
func parseFields(raw string) (fields, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty", ErrMalformedInitData)
	}
	if len(raw) > MaxInitData {
		return nil, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrMalformedInitData, len(raw), MaxInitData)
	}
	f := make(fields)
	for pair := range strings.SplitSeq(raw, "&") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: a pair is not key=value", ErrMalformedInitData)
		}
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("%w: bad percent-encoding in a key", ErrMalformedInitData)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			// The key is not secret; the value may be, so it is not echoed.
			return nil, fmt.Errorf("%w: bad percent-encoding in %q", ErrMalformedInitData, key)
		}
		if err := checkDecoded(key, val); err != nil {
			return nil, err
		}
		if _, dup := f[key]; dup {
			return nil, fmt.Errorf("%w: key %q appears twice", ErrMalformedInitData, key)
		}
		f[key] = val
	}
	return f, nil
}

// checkDecoded refuses a decoded key or value that could give two initData
// strings one data-check-string, or be read differently by another reader:
//   - a C0 control character (U+0000..U+001F): '\n' separates the pairs of
//     the data-check-string, so "a=1\nb=2" as one value signs the same
//     bytes as the two pairs a=1 and b=2; '\r' is turned into '\n' by
//     readers that normalise line ends, NUL ends a C string. Telegram never
//     sends one: its JSON values escape them and its other values are
//     tokens (numbers, base64url, words);
//   - invalid UTF-8, which JavaScript's decodeURIComponent (the page's
//     reader) refuses and other readers replace with U+FFFD;
//   - '=' in a key: the data-check-string writes key=value, so the pairs
//     "a%3Db=c" and "a=b%3Dc" would sign the same line. (Not exploitable
//     today: it can only turn a key into a longer one, dropping a field, but
//     every line must have one reading.)
//
// The key is named in the error; a value never is.
func checkDecoded(key, val string) error {
	if !utf8.ValidString(key) || strings.ContainsFunc(key, isControl) || strings.Contains(key, "=") {
		return fmt.Errorf("%w: a key is not UTF-8 text without control characters and '='", ErrMalformedInitData)
	}
	if !utf8.ValidString(val) {
		return fmt.Errorf("%w: the value of %q is not valid UTF-8", ErrMalformedInitData, key)
	}
	if strings.ContainsFunc(val, isControl) {
		return fmt.Errorf("%w: the value of %q contains a control character", ErrMalformedInitData, key)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 }

// InitDataPairs parses raw initData (docs/protocol.md 2.1) into its decoded
// key/value pairs WITHOUT checking the signature. It is what the Mini App
// page's own reader must agree with (bot/miniapp tests compare them).
func InitDataPairs(raw string) (map[string]string, error) {
	return parseFields(raw)
}

// appendDataCheckString appends Telegram's data-check-string to dst: every
// pair except those in skip, sorted by key, as key=value joined by '\n'. It
// grows dst once to its final size: the approval path builds it for every
// request, and building it piece by piece in a strings.Builder, then copying
// it twice more into the signed message, was a measurable share of
// VerifyInitData's allocations (docs/performance.md, "Where an approval's
// time goes").
func (f fields) appendDataCheckString(dst []byte, skip ...string) []byte {
	keys := make([]string, 0, len(f))
	size := 0
	for k, v := range f {
		if !slices.Contains(skip, k) {
			keys = append(keys, k)
			size += len(k) + len("=") + len(v) + len("\n")
		}
	}
	slices.Sort(keys)
	dst = slices.Grow(dst, size)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, '\n')
		}
		dst = append(dst, k...)
		dst = append(dst, '=')
		dst = append(dst, f[k]...)
	}
	return dst
}

// ed25519Message is what Telegram signs for third-party validation:
// "<bot_id>:WebAppData\n" followed by the data-check-string without hash and
// signature.
func (f fields) ed25519Message(botID int64) []byte {
	m := strconv.AppendInt(make([]byte, 0, 32), botID, 10)
	m = append(m, ":WebAppData\n"...)
	return f.appendDataCheckString(m, "hash", "signature")
}

// hmacHash is the bot-token check: HMAC-SHA256 keyed with
// HMAC-SHA256("WebAppData", token) over the data-check-string without hash.
func (f fields) hmacHash(botToken string) []byte {
	secret := hmac.New(sha256.New, []byte("WebAppData"))
	secret.Write([]byte(botToken))
	mac := hmac.New(sha256.New, secret.Sum(nil))
	mac.Write(f.appendDataCheckString(nil, "hash"))
	return mac.Sum(nil)
}

var signatureEncoding = base64.RawURLEncoding.Strict()

// VerifyInitData checks raw initData as the enclave does, in this order: it
// parses strictly, verifies the Ed25519 signature (or, if cfg allows it, the
// HMAC hash), then checks auth_date against now and reads the user id.
func VerifyInitData(raw string, cfg VerifyConfig, now time.Time) (*InitData, error) {
	f, err := parseFields(raw)
	if err != nil {
		return nil, err
	}
	signedBy, err := f.verify(cfg)
	if err != nil {
		return nil, err
	}
	d, err := f.interpret()
	if err != nil {
		return nil, err
	}
	d.SignedBy = signedBy
	if d.AuthDate.After(now.Add(cfg.ClockSkew)) {
		return nil, fmt.Errorf("%w: auth_date is %s in the future", ErrStaleAuth, d.AuthDate.Sub(now).Round(time.Second))
	}
	if age := now.Sub(d.AuthDate); age > cfg.MaxAge {
		return nil, fmt.Errorf("%w: auth_date is %s old, at most %s allowed", ErrStaleAuth, age.Round(time.Second), cfg.MaxAge)
	}
	return d, nil
}

// ParseInitData reads initData WITHOUT checking its signature: the parent
// uses it to find which transfer an approval is about before it forwards the
// initData to the enclave, which does check it. Never base a decision that
// matters on its result.
func ParseInitData(raw string) (*InitData, error) {
	f, err := parseFields(raw)
	if err != nil {
		return nil, err
	}
	return f.interpret()
}

func (f fields) verify(cfg VerifyConfig) (string, error) {
	sig, hasSig := f["signature"]
	hash, hasHash := f["hash"]
	if hasSig && len(cfg.PublicKey) == ed25519.PublicKeySize {
		s, err := signatureEncoding.DecodeString(sig)
		if err == nil && len(s) == ed25519.SignatureSize && ed25519.Verify(cfg.PublicKey, f.ed25519Message(cfg.BotID), s) {
			return "ed25519", nil
		}
	}
	if cfg.HMACBotToken != "" && hasHash {
		want := f.hmacHash(cfg.HMACBotToken)
		got, err := hex.DecodeString(hash)
		if err == nil && hmac.Equal(got, want) {
			return "hmac", nil
		}
	}
	switch {
	case !hasSig && !hasHash:
		return "", fmt.Errorf("%w: initData is not signed", ErrBadSignature)
	case !hasSig && cfg.HMACBotToken == "":
		return "", fmt.Errorf("%w: no Telegram Ed25519 signature, and bot-token HMAC is accepted only by dev configurations", ErrBadSignature)
	default:
		return "", ErrBadSignature
	}
}

// interpret reads the fields the wallet uses. It is called only on verified
// initData, but still refuses anything it does not understand.
func (f fields) interpret() (*InitData, error) {
	ad, ok := f["auth_date"]
	if !ok {
		return nil, fmt.Errorf("%w: no auth_date", ErrMalformedInitData)
	}
	sec, err := strconv.ParseInt(ad, 10, 64)
	if err != nil || sec <= 0 || strconv.FormatInt(sec, 10) != ad {
		return nil, fmt.Errorf("%w: auth_date is not a positive decimal integer", ErrMalformedInitData)
	}
	u, ok := f["user"]
	if !ok {
		return nil, fmt.Errorf("%w: no user", ErrMalformedInitData)
	}
	id, err := userID(u)
	if err != nil {
		return nil, err
	}
	return &InitData{
		UserID:       id,
		AuthDate:     time.Unix(sec, 0),
		StartParam:   f["start_param"],
		QueryID:      f["query_id"],
		ChatType:     f["chat_type"],
		ChatInstance: f["chat_instance"],
	}, nil
}

// MaxUserID is the largest user id initData may carry: 2^53-1. Telegram's
// user ids have at most 52 significant bits; above 2^53 a JavaScript reader
// (the page, JSON.parse) rounds the number and would see another user.
const MaxUserID = 1<<53 - 1

// userID reads the id of initData's `user` object strictly: the object is
// strict JSON (CheckJSON: keys unique and exact at every depth, valid UTF-8,
// no lone surrogate escape), not null; it has the key `id` (exactly: "ID"
// and "Id" are other keys, ignored like every other key) whose value is an
// integer in 1..MaxUserID.
//
// The one-pass reader (onepass.go) answers every accepted user; a refusal is
// read again by userIDStrict, the reference reader, for its error message.
func userID(u string) (int64, error) {
	if id, err := userIDOnePass(u); err == nil {
		return id, nil
	}
	if _, err := userIDStrict(u); err != nil {
		return 0, err
	}
	// The one-pass reader refused what the reference accepts: refuse too
	// (never seen: FuzzUserIDReaders).
	return 0, fmt.Errorf("%w: user has no single reading", ErrMalformedInitData)
}

// userIDStrict is the reference reader of userID: CheckJSON, then
// encoding/json into a map, then the id.
func userIDStrict(u string) (int64, error) {
	var obj map[string]json.RawMessage
	if err := CheckJSON([]byte(u), nil); err != nil {
		return 0, fmt.Errorf("%w: user is not strict JSON: %v", ErrMalformedInitData, err)
	}
	if err := json.Unmarshal([]byte(u), &obj); err != nil || obj == nil {
		return 0, fmt.Errorf("%w: user is not a JSON object", ErrMalformedInitData)
	}
	raw, ok := obj["id"]
	var id int64
	if !ok || json.Unmarshal(raw, &id) != nil || id <= 0 || id > MaxUserID {
		return 0, fmt.Errorf("%w: user has no id in 1..2^53-1", ErrMalformedInitData)
	}
	return id, nil
}

// SignInitData builds initData the way Telegram does for a Mini App launch:
// the given fields, a `signature` (Ed25519 over the third-party
// data-check-string, when key is set) and a `hash` (bot-token HMAC over every
// other field, signature included, when botToken is set). The Telegram
// emulator and tests use it; production never signs initData.
func SignInitData(values map[string]string, botID int64, key ed25519.PrivateKey, botToken string) string {
	f := make(fields, len(values)+2)
	for k, v := range values {
		if k != "hash" && k != "signature" {
			f[k] = v
		}
	}
	if key != nil {
		f["signature"] = signatureEncoding.EncodeToString(ed25519.Sign(key, f.ed25519Message(botID)))
	}
	if botToken != "" {
		f["hash"] = hex.EncodeToString(f.hmacHash(botToken))
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = url.QueryEscape(k) + "=" + url.QueryEscape(f[k])
	}
	return strings.Join(parts, "&")
}
