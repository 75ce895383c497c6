package miniapp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	testIdentityKey = "22c5db1aefd59aa3132c400fa09d5d0b2b410ffc63d9e56c20eb2dd9d1bc37f8"
	testTelegramHex = "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec"
)

// TestConfigJSON: with a config the handler serves config.json beside the
// page, exactly {"version":1,"identity_key":...,"bot_id":...,
// "telegram_public_key":...} (the Telegram key lowercased); without one it
// is not found.
func TestConfigJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(WithConfig(testIdentityKey, testBotID, strings.ToUpper(testTelegramHex))).ServeHTTP(rec, httptest.NewRequest("GET", Prefix+ConfigFile, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	var fields map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil || len(fields) != 4 || fields["version"] != 1.0 ||
		fields["identity_key"] != testIdentityKey || fields["bot_id"] != float64(testBotID) || fields["telegram_public_key"] != testTelegramHex {
		t.Fatalf("config.json %s (%v)", rec.Body, err)
	}
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", Prefix+ConfigFile, nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without a config: %d", rec.Code)
	}
}

// TestWithConfigRefuses: only 64 lowercase hex characters for the identity
// key, 64 hex for Telegram's key, a positive bot id.
func TestWithConfigRefuses(t *testing.T) {
	type c struct {
		identity string
		botID    int64
		telegram string
	}
	var cases []c
	for _, k := range []string{"", testIdentityKey[:62], testIdentityKey + "00", strings.ToUpper(testIdentityKey), "0x" + testIdentityKey[2:], strings.Repeat("g", 64)} {
		cases = append(cases, c{k, testBotID, testTelegramHex})
	}
	for _, k := range []string{"", testTelegramHex[:62], testTelegramHex + "00", "0x" + testTelegramHex[2:], strings.Repeat("g", 64)} {
		cases = append(cases, c{testIdentityKey, testBotID, k})
	}
	cases = append(cases, c{testIdentityKey, 0, testTelegramHex}, c{testIdentityKey, -1, testTelegramHex})
	for _, k := range cases {
		if _, err := ConfigJSON(k.identity, k.botID, k.telegram); err == nil {
			t.Errorf("%+v accepted", k)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithConfig(%+v) did not panic", k)
				}
			}()
			WithConfig(k.identity, k.botID, k.telegram)
		}()
	}
}
