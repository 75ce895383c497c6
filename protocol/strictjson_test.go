package protocol

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/internal/testvectors"
)

func init() { allCodes[CodeUnsupportedMediaType] = 415 }

// Every input the black-box run read loosely, and their neighbours, is
// refused by DecodeJSON as malformed_request, by reason.
func TestDecodeJSONStrict(t *testing.T) {
	rec := `"AQID"` // base64 of 01 02 03
	bad := map[string]string{
		"key in another case":          `{"Init_Data":"a=b","record":` + rec + `}`,
		"key in upper case":            `{"INIT_DATA":"a=b","record":` + rec + `}`,
		"duplicate key":                `{"init_data":"a=b","init_data":"c=d","record":` + rec + `}`,
		"duplicate key, escaped":       `{"init_data":"a=b","init\u005fdata":"c=d","record":` + rec + `}`,
		"null body":                    `null`,
		"null field":                   `{"init_data":null,"record":` + rec + `}`,
		"null record":                  `{"init_data":"a=b","record":null}`,
		"array body":                   `[]`,
		"string body":                  `"x"`,
		"invalid UTF-8 in a string":    "{\"init_data\":\"a=\xff\",\"record\":" + rec + "}",
		"invalid UTF-8 in a key":       "{\"init_data\xff\":\"a=b\"}",
		"lone high surrogate":          `{"init_data":"a=\ud800","record":` + rec + `}`,
		"lone low surrogate":           `{"init_data":"a=\udc00","record":` + rec + `}`,
		"high surrogate then a letter": `{"init_data":"a=\ud800\u0041","record":` + rec + `}`,
		"reversed pair":                `{"init_data":"a=\udc00\ud800","record":` + rec + `}`,
		"base64 with a line break":     `{"init_data":"a=b","record":"AQ\nID"}`,
		"base64 with escaped CRLF":     `{"init_data":"a=b","record":"AQ\r\nID"}`,
		"base64 with a space":          `{"init_data":"a=b","record":"AQ ID"}`,
		"base64 without padding":       `{"init_data":"a=b","record":"AQI"}`,
		"base64 non-canonical":         `{"init_data":"a=b","record":"AQJ="}`,
		"base64url":                    `{"init_data":"a=b","record":"-_-_"}`,
		"base64 as a number":           `{"init_data":"a=b","record":5}`,
		"base64 as an array":           `{"init_data":"a=b","record":[1,2,3]}`,
		"unknown field":                `{"init_data":"a=b","record":` + rec + `,"raw_tx":"0x"}`,
		"trailing data":                `{"init_data":"a=b","record":` + rec + `} {}`,
		"trailing bracket":             `{"init_data":"a=b","record":` + rec + `}]`,
		"empty":                        ``,
		"deep":                         `{"init_data":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	}
	for name, body := range bad {
		var req ApproveRequest
		err := DecodeJSON(strings.NewReader(body), MaxRequestBody, &req)
		if !errors.Is(err, ErrMalformedRequest) || CodeOf(err) != CodeMalformedRequest {
			t.Errorf("%s: %v, want malformed_request", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "a=b") {
			t.Errorf("%s: the error quotes a value: %v", name, err)
		}
	}
	// Nested: duplicates and exact keys at every depth.
	for name, body := range map[string]string{
		"nested duplicate":   `{"credentials":{"access_key_id":"a","access_key_id":"b","secret_access_key":"s","session_token":"t"},"ciphertext_blob":""}`,
		"nested other case":  `{"credentials":{"Access_Key_ID":"a","secret_access_key":"s","session_token":"t"},"ciphertext_blob":""}`,
		"nested null":        `{"credentials":null,"ciphertext_blob":""}`,
		"nested null string": `{"credentials":{"access_key_id":null,"secret_access_key":"s","session_token":"t"},"ciphertext_blob":""}`,
	} {
		var req UnlockRequest
		if err := DecodeJSON(strings.NewReader(body), MaxRequestBody, &req); !errors.Is(err, ErrMalformedRequest) {
			t.Errorf("%s: %v, want malformed_request", name, err)
		}
	}

	// What stays accepted: a surrogate pair, escapes, padding, whitespace
	// between tokens, charset-free JSON as Go and JavaScript write it.
	good := `{ "init_data" : "a=\ud83d\ude00\u00e9\/" ,` + "\n" + `"record":"AQID"}`
	var req ApproveRequest
	if err := DecodeJSON(strings.NewReader(good), MaxRequestBody, &req); err != nil {
		t.Fatal(err)
	}
	if req.InitData != "a=😀é/" || string(req.Record) != "\x01\x02\x03" {
		t.Fatalf("read %q %x", req.InitData, req.Record)
	}
	for _, rec := range []string{"", "AA==", "AAA=", "AAAA"} {
		var r ApproveRequest
		if err := DecodeJSON(strings.NewReader(`{"init_data":"x","record":"`+rec+`"}`), MaxRequestBody, &r); err != nil {
			t.Errorf("record %q: %v", rec, err)
		}
	}
}

// Bytes round-trips through JSON as padded standard base64 and refuses
// null outside a strict decode too.
func TestBytesJSON(t *testing.T) {
	b, err := json.Marshal(ApproveRequest{InitData: "x", Record: Bytes{0xfb, 0xff}})
	if err != nil || string(b) != `{"init_data":"x","record":"+/8="}` {
		t.Fatalf("%s %v", b, err)
	}
	var r ApproveRequest
	if err := json.Unmarshal(b, &r); err != nil || string(r.Record) != "\xfb\xff" {
		t.Fatalf("%x %v", r.Record, err)
	}
	for _, in := range []string{`null`, `"+/8"`, `"+/8=\n"`, `"+/9="`, `1`} {
		var x Bytes
		if err := json.Unmarshal([]byte(in), &x); !errors.Is(err, ErrBadBase64) {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// CheckJSON with no type still refuses duplicates at any depth, invalid
// UTF-8 and lone surrogates; it accepts null and any key.
func TestCheckJSONUntyped(t *testing.T) {
	for _, in := range []string{
		`{"a":{"b":[{"c":1,"c":2}]}}`, `{"a":1,"a":1}`, "\"\xc0\xaf\"", `"\ud800"`, `[1] 2`, `{"a":1`,
		`{"a":"` + strings.Repeat("[", 0) + `"}` + `x`, strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	} {
		if err := CheckJSON([]byte(in), nil); !errors.Is(err, ErrStrictJSON) {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, in := range []string{`null`, `{"ID":1,"id":2,"Id":null}`, `[{"a":1},{"a":1}]`, `"\\ud800"`, `"\ud83d\ude00"`, `{"a":{"a":{"a":1}}}`} {
		if err := CheckJSON([]byte(in), nil); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	// A struct field is matched by its exact json name only.
	type s struct {
		ID   int64 `json:"id"`
		Name string
	}
	if err := CheckJSON([]byte(`{"id":1,"Name":"x"}`), reflect.TypeFor[s]()); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{`{"ID":1}`, `{"name":"x"}`, `{"id":1,"id":1}`} {
		if err := CheckJSON([]byte(in), reflect.TypeFor[s]()); !errors.Is(err, ErrStrictJSON) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestCheckContentType(t *testing.T) {
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"} {
		if err := CheckContentType(http.Header{"Content-Type": {ct}}); err != nil {
			t.Errorf("%q: %v", ct, err)
		}
	}
	for _, h := range []http.Header{
		{}, {"Content-Type": {""}}, {"Content-Type": {"text/plain"}}, {"Content-Type": {"application/json; charset=latin1"}},
		{"Content-Type": {"application/json; boundary=x"}}, {"Content-Type": {"application/jsonx"}},
		{"Content-Type": {"application/json", "application/json"}}, {"Content-Type": {"application/x-www-form-urlencoded"}},
	} {
		err := CheckContentType(h)
		if !errors.Is(err, ErrUnsupportedMediaType) || CodeOf(err) != CodeUnsupportedMediaType || CodeUnsupportedMediaType.HTTPStatus() != 415 {
			t.Errorf("%v: %v", h, err)
		}
	}
}

// The user object of initData: exact "id", one reading, at most 2^53-1.
func TestUserIDStrict(t *testing.T) {
	for in, want := range map[string]int64{
		`{"id":42}`:                      42,
		`{"id":42,"ID":7}`:               42, // "ID" is another key, ignored: JSON.parse sees 42 as well
		`{"id":9007199254740991}`:        MaxUserID,
		`{"first_name":null,"id":5}`:     5,
		`{"id":5,"photo_url":"a\/b"}`:    5,
		`{"id":5,"x":{"y":[1,{"z":2}]}}`: 5,
	} {
		if got, err := userID(in); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{
		`{"ID":42}`, `{"Id":42}`, `{"id":42,"id":43}`, `{"id":7,"ID":42,"id":42}`, `null`, `[]`, `42`,
		`{"id":null}`, `{"id":"42"}`, `{"id":4.2e1}`, `{"id":42.0}`, `{"id":0}`, `{"id":-1}`, `{"id":9007199254740992}`,
		"{\"id\":42,\"first_name\":\"\xff\"}", `{"id":42,"first_name":"\udfff"}`, `{"id":42,"x":{"a":1,"a":2}}`, `{"id":42}x`,
	} {
		if _, err := userID(in); !errors.Is(err, ErrMalformedInitData) {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// A decoded initData key or value with a control character or invalid
// UTF-8 is malformed_init_data, before the signature is checked: the
// signature over "a=1\nb=2" as one value is the signature over a=1&b=2.
func TestInitDataValuesStrict(t *testing.T) {
	two := SignInitData(map[string]string{"auth_date": "1", "user": `{"id":1}`, "a": "1", "b": "2"}, testvectors.BotID, testvectors.TelegramKey(), "")
	one := strings.Replace(strings.Replace(two, "&b=2", "", 1), "a=1", "a=1%0Ab%3D2", 1)
	if _, err := VerifyInitData(two, vectorVerifyConfig(), testvectors.NowTime()); errors.Is(err, ErrBadSignature) || errors.Is(err, ErrMalformedInitData) {
		t.Fatalf("the two-pair initData: %v", err)
	}
	for name, raw := range map[string]string{
		"LF in a value (same data-check-string)": one,
		"CR in a value":                          strings.Replace(two, "a=1", "a=1%0D", 1),
		"NUL in a value":                         strings.Replace(two, "a=1", "a=1%00", 1),
		"tab in a value":                         strings.Replace(two, "a=1", "a=1%09", 1),
		"LF in a key":                            strings.Replace(two, "a=1", "a%0A=1", 1),
		"raw LF in a value":                      strings.Replace(two, "a=1", "a=1\n", 1),
		"invalid UTF-8 in a value":               strings.Replace(two, "a=1", "a=%FF", 1),
		"overlong UTF-8 in a value":              strings.Replace(two, "a=1", "a=%C0%AF", 1),
		"surrogate as UTF-8 in a value":          strings.Replace(two, "a=1", "a=%ED%A0%80", 1),
		"invalid UTF-8 in a key":                 strings.Replace(two, "a=1", "%FF=1", 1),
		"raw invalid UTF-8 in a value":           strings.Replace(two, "a=1", "a=\xff", 1),
	} {
		if raw == two {
			t.Fatalf("%s: no change", name)
		}
		_, err := VerifyInitData(raw, vectorVerifyConfig(), testvectors.NowTime())
		wantCode(t, err, CodeMalformedInitData)
		if _, err := InitDataPairs(raw); !errors.Is(err, ErrMalformedInitData) {
			t.Errorf("%s: InitDataPairs: %v", name, err)
		}
	}
}
