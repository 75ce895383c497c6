package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// allCodes is every code of the API with the HTTP status docs/protocol.md
// gives it.
var allCodes = map[Code]int{
	CodeMalformedRequest:  400,
	CodeTooLarge:          413,
	CodeNotFound:          404,
	CodeMethodNotAllowed:  405,
	CodeMalformedInitData: 400,
	CodeBadSignature:      401,
	CodeStaleAuth:         401,
	CodeMalformedIntent:   400,
	CodeIntentExpired:     403,
	CodeMalformedRecord:   400,
	CodeRecordTampered:    403,
	CodeWrongOwner:        403,
	CodeWrongWallet:       403,
	CodeBadWalletProof:    403,
	CodeChainNotAllowed:   403,
	CodeTokenNotAllowed:   403,
	CodeVaultLocked:       503,
	CodeInternal:          500,

	CodeAttestationUnavailable: 503,
}

func TestCodeHTTPStatus(t *testing.T) {
	for code, status := range allCodes {
		if got := code.HTTPStatus(); got != status {
			t.Errorf("%s: status %d, want %d", code, got, status)
		}
	}
	for code := range sentinelOf {
		if _, ok := allCodes[code]; !ok {
			t.Errorf("code %s has a sentinel but no status in this test", code)
		}
	}
}

// TestSentinelsRoundTrip checks that each reason keeps its identity from a
// wrapped error, to a code, to the JSON shape and back through ReadError.
func TestSentinelsRoundTrip(t *testing.T) {
	for code, sentinel := range sentinelOf {
		t.Run(string(code), func(t *testing.T) {
			err := fmt.Errorf("context: %w", fmt.Errorf("%w: detail", sentinel))
			wantCode(t, err, code)
			e := ErrorOf(err)
			if e.Code != code || e.Message != err.Error() {
				t.Fatalf("ErrorOf = %+v", e)
			}
			rec := httptest.NewRecorder()
			WriteError(rec, err)
			resp := rec.Result()
			if resp.StatusCode != code.HTTPStatus() || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			back := ReadError(resp)
			if !errors.Is(back, sentinel) || !errors.Is(back, &Error{Code: code}) {
				t.Fatalf("ReadError gave %v, which is not %v", back, sentinel)
			}
			for other, s := range sentinelOf {
				if other != code && errors.Is(back, s) {
					t.Fatalf("ReadError gave %v, which also matches %s", back, other)
				}
			}
		})
	}
}

// An unexpected error becomes internal, with a fixed message: its text might
// hold anything.
func TestInternalErrorsHideTheirText(t *testing.T) {
	err := errors.New("secret 0xdeadbeef in an unexpected error")
	if CodeOf(err) != CodeInternal {
		t.Fatalf("CodeOf = %s", CodeOf(err))
	}
	rec := httptest.NewRecorder()
	WriteError(rec, err)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "deadbeef") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var body struct {
		Error Error `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != CodeInternal || body.Error.Message != "internal error" {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
}

func TestReadErrorOnOtherBodies(t *testing.T) {
	for _, body := range []string{"", "not json", `{"error":null}`, `{"error":{"message":"x"}}`, `{"other":1}`} {
		resp := &http.Response{StatusCode: 502, Body: io.NopCloser(strings.NewReader(body))}
		err := ReadError(resp)
		if err == nil || !strings.Contains(err.Error(), "502") || CodeOf(err) != CodeInternal {
			t.Errorf("%q: %v", body, err)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	type req struct {
		Owner int64  `json:"owner"`
		Name  string `json:"name"`
	}
	const limit = 64
	cases := []struct {
		name, body string
		want       error // nil: decodes
	}{
		{"object", `{"owner":7,"name":"a"}`, nil},
		{"object with spaces around", " \n{\"owner\":7}\n ", nil},
		{"exactly the limit", `{"owner":7}` + strings.Repeat(" ", limit-len(`{"owner":7}`)), nil},
		{"one byte over the limit", `{"owner":7}` + strings.Repeat(" ", limit+1-len(`{"owner":7}`)), ErrTooLarge},
		{"far over the limit", strings.Repeat("x", 10*limit), ErrTooLarge},
		{"empty", "", ErrMalformedRequest},
		{"invalid", `{"owner":`, ErrMalformedRequest},
		{"unknown field", `{"owner":7,"extra":1}`, ErrMalformedRequest},
		{"wrong type", `{"owner":"7"}`, ErrMalformedRequest},
		{"second object", `{"owner":7}{"owner":8}`, ErrMalformedRequest},
		{"trailing brace", `{"owner":7}}`, ErrMalformedRequest},
		{"trailing bracket", `{"owner":7}]`, ErrMalformedRequest},
		{"trailing word", `{"owner":7} x`, ErrMalformedRequest},
		{"array", `[1]`, ErrMalformedRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v req
			err := DecodeJSON(strings.NewReader(c.body), limit, &v)
			if c.want == nil {
				if err != nil || v.Owner != 7 {
					t.Fatalf("got %+v, %v", v, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v", c.want, err)
			}
		})
	}
}

// Decoding errors describe where, never what: a value in the body may be a
// secret (initData), so it must not come back in an error message.
func TestDecodeJSONErrorsDoNotQuoteTheBody(t *testing.T) {
	const secret = "SECRETVALUE"
	for _, body := range []string{`{"owner":"` + secret + `"}`, `{"owner":7,"name":"` + secret + `"`, `{"owner":` + secret + `}`} {
		var v struct {
			Owner int64  `json:"owner"`
			Name  string `json:"name"`
		}
		err := DecodeJSON(strings.NewReader(body), 1024, &v)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: %v", body, err)
		}
	}
}
