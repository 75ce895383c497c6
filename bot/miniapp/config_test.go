package miniapp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testIdentityKey = "22c5db1aefd59aa3132c400fa09d5d0b2b410ffc63d9e56c20eb2dd9d1bc37f8"

// TestConfigJSON: with an identity key the handler serves config.json
// beside the page, exactly {"version":1,"identity_key":...}; without one it
// is not found.
func TestConfigJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(WithIdentityKey(testIdentityKey)).ServeHTTP(rec, httptest.NewRequest("GET", Prefix+ConfigFile, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	var fields map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil || len(fields) != 2 || fields["version"] != 1.0 || fields["identity_key"] != testIdentityKey {
		t.Fatalf("config.json %s (%v)", rec.Body, err)
	}
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", Prefix+ConfigFile, nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without a key: %d", rec.Code)
	}
}

// TestWithIdentityKeyRefuses: only 64 lowercase hex characters.
func TestWithIdentityKeyRefuses(t *testing.T) {
	for _, k := range []string{"", testIdentityKey[:62], testIdentityKey + "00", strings.ToUpper(testIdentityKey), "0x" + testIdentityKey[2:], strings.Repeat("g", 64)} {
		if _, err := ConfigJSON(k); err == nil {
			t.Errorf("%q accepted", k)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithIdentityKey(%q) did not panic", k)
				}
			}()
			WithIdentityKey(k)
		}()
	}
}
