package protocol

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/testvectors"
)

// FuzzDecodeStartParam: the decoder never panics, refuses only with
// ErrMalformedIntent, and whatever it accepts is valid and has exactly one
// text form (re-encoding gives the input back).
func FuzzDecodeStartParam(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		in, err := DecodeStartParam(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedIntent) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if err := in.Validate(); err != nil {
			t.Fatalf("accepted an invalid intent: %v", err)
		}
		again, err := in.EncodeStartParam()
		if err != nil || again != s {
			t.Fatalf("accepted %q, which re-encodes as %q (%v)", s, again, err)
		}
	})
}

// FuzzVerifyInitData: the verifier never panics, refuses with exactly one of
// its three reasons, and whatever it accepts has a positive user id. The
// fuzzer cannot forge a signature, so the parser is also driven directly: any
// input that parses and reads, once signed with the test key, verifies with
// the same user and start_param.
func FuzzVerifyInitData(f *testing.F) {
	cfg := vectorVerifyConfig()
	cfg.HMACBotToken = "123456:test-token"
	now := testvectors.NowTime()
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := VerifyInitData(raw, cfg, now)
		if err != nil {
			if !isOnly(err, ErrMalformedInitData) && !isOnly(err, ErrBadSignature) && !isOnly(err, ErrStaleAuth) {
				t.Fatalf("refused with %v", err)
			}
		} else if d.UserID <= 0 {
			t.Fatalf("accepted user id %d", d.UserID)
		}

		fs, err := parseFields(raw)
		if err != nil {
			return
		}
		d, err = fs.interpret()
		if err != nil {
			return
		}
		if d.UserID <= 0 || d.AuthDate.Unix() <= 0 {
			t.Fatalf("read user %d, auth_date %v", d.UserID, d.AuthDate)
		}
		signed := SignInitData(fs, testvectors.BotID, testvectors.TelegramKey(), "")
		if len(signed) > MaxInitData {
			return // re-escaping can make it longer than the limit
		}
		got, err := VerifyInitData(signed, vectorVerifyConfig(), d.AuthDate)
		if err != nil || got.UserID != d.UserID || got.StartParam != d.StartParam || !got.AuthDate.Equal(d.AuthDate) {
			t.Fatalf("signed %q: %+v, %v", signed, got, err)
		}
	})
}

// FuzzDecodeWalletLink: the receive link decoder never panics, refuses only
// with ErrMalformedIntent, and whatever it accepts has an owner in range, a
// non-zero address, a 64-byte proof and exactly one text form.
func FuzzDecodeWalletLink(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		l, err := DecodeWalletLink(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedIntent) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if l.Owner <= 0 || l.Address == (common.Address{}) || len(l.Proof) != WalletProofSize {
			t.Fatalf("accepted %+v", l)
		}
		again, err := l.EncodeStartParam()
		if err != nil || again != s {
			t.Fatalf("accepted %q, which re-encodes as %q (%v)", s, again, err)
		}
		if _, err := DecodeStartParam(s); err == nil {
			t.Fatalf("%q is both a wallet link and a transfer intent", s)
		}
	})
}
