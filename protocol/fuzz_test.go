package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
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

// FuzzCheckJSON: the strict JSON check never panics and refuses only with
// ErrStrictJSON. What it accepts is valid JSON that encoding/json reads
// without replacing anything with U+FFFD, and, read as an approve request,
// has one spelling: re-encoding and reading again gives the same request.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{
		`{"init_data":"a=b","record":"AQID"}`, `{"ID":1}`, `{"id":2,"ID":1}`, `{"Init_Data":"x","record":""}`,
		`{"init_data":"x","record":"AQ\nID"}`, `null`, `{"a":{"b":1,"b":2}}`, `"\ud800"`, `"\ud83d\ude00"`, "\"\xff\"",
		`{"init_data":"a\u005f","record":"AA=="}`, `[1,[2,[3]]]`, `{"credentials":{"access_key_id":"a"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := CheckJSON(b, nil); err != nil {
			if !errors.Is(err, ErrStrictJSON) {
				t.Fatalf("refused with %v", err)
			}
		} else {
			var v any
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber() // numbers are the reader's business (1E700 is JSON)
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("accepted %q, which encoding/json refuses: %v", b, err)
			}
			if got, want := countReplacement(v), strings.Count(string(b), "\uFFFD")+strings.Count(strings.ToLower(string(b)), `\ufffd`); got > want {
				t.Fatalf("accepted %q, which encoding/json reads with %d U+FFFD, the text has %d", b, got, want)
			}
		}
		var req ApproveRequest
		if err := DecodeStrict(b, &req); err != nil {
			if !errors.Is(err, ErrStrictJSON) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var req2 ApproveRequest
		if err := DecodeStrict(again, &req2); err != nil || req2.InitData != req.InitData || !bytes.Equal(req2.Record, req.Record) {
			t.Fatalf("%q re-encodes as %q, which reads as %+v (%v)", b, again, req2, err)
		}
	})
}

// countReplacement counts U+FFFD in every string and key of a decoded value.
func countReplacement(v any) int {
	switch v := v.(type) {
	case string:
		return strings.Count(v, "\uFFFD")
	case []any:
		n := 0
		for _, e := range v {
			n += countReplacement(e)
		}
		return n
	case map[string]any:
		n := 0
		for k, e := range v {
			n += strings.Count(k, "\uFFFD") + countReplacement(e)
		}
		return n
	}
	return 0
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
