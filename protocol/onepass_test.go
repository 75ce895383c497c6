package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Two readers of the approval request, and two of initData's user object
// (onepass.go): on the same bytes they must agree on acceptance, and on
// what they read. docs/threat-model.md, "two parsers of the approval
// request".

// sameApproveReading fails unless DecodeStrict and the one-pass reader
// agree on b.
func sameApproveReading(t *testing.T, b []byte) {
	t.Helper()
	sameApproveReaders(t, b)
	var strict ApproveRequest
	if DecodeStrict(b, &strict) != nil {
		return
	}
	// And DecodeJSON, which answers with the one-pass reader, too.
	var viaDecodeJSON ApproveRequest
	if err := DecodeJSON(bytes.NewReader(b), MaxRequestBody, &viaDecodeJSON); err != nil && len(b) > 0 {
		t.Fatalf("%q: DecodeJSON %v", b, err)
	} else if err == nil && (viaDecodeJSON.InitData != strict.InitData || !bytes.Equal(viaDecodeJSON.Record, strict.Record)) {
		t.Fatalf("%q: DecodeJSON read %+v", b, viaDecodeJSON)
	}
}

// sameApproveReaders is the differential check itself: the two readers
// agree on accepting b and on every field.
func sameApproveReaders(t *testing.T, b []byte) {
	t.Helper()
	var strict, fast ApproveRequest
	errStrict := DecodeStrict(b, &strict)
	errFast := decodeApproveRequest(b, &fast)
	if (errStrict == nil) != (errFast == nil) {
		t.Fatalf("%q: strict reader %v, one-pass reader %v", b, errStrict, errFast)
	}
	if errStrict != nil {
		if fast.InitData != "" || fast.Record != nil {
			t.Fatalf("%q: the one-pass reader refused and still set %+v", b, fast)
		}
		return
	}
	if strict.InitData != fast.InitData || !bytes.Equal(strict.Record, fast.Record) || (strict.Record == nil) != (fast.Record == nil) {
		t.Fatalf("%q: strict reader %+v, one-pass reader %+v", b, strict, fast)
	}
}

// sameUserReading fails unless userIDStrict and userIDOnePass agree on u,
// and userID answers as userIDStrict does.
func sameUserReading(t *testing.T, u string) {
	t.Helper()
	idStrict, errStrict := sameUserReaders(t, u)
	id, err := userID(u)
	if id != idStrict || (err == nil) != (errStrict == nil) || (err != nil && err.Error() != errStrict.Error()) {
		t.Fatalf("user %q: userID %d %v, strict reader %d %v", u, id, err, idStrict, errStrict)
	}
}

func sameUserReaders(t *testing.T, u string) (int64, error) {
	t.Helper()
	idStrict, errStrict := userIDStrict(u)
	idFast, errFast := userIDOnePass(u)
	if (errStrict == nil) != (errFast == nil) || idStrict != idFast {
		t.Fatalf("user %q: strict reader %d %v, one-pass reader %d %v", u, idStrict, errStrict, idFast, errFast)
	}
	return idStrict, errStrict
}

func FuzzApproveRequestReaders(f *testing.F) {
	for _, b := range approveCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(sameApproveReading)
}

func FuzzUserIDReaders(f *testing.F) {
	for _, u := range userCorpus(f) {
		f.Add(u)
	}
	f.Fuzz(sameUserReading)
}

// TestOnePassReadersAgree runs the differential check over every corpus and
// vector there is (the fuzz corpora of the strict reader and of the
// enclave's approve endpoint, testdata's vectors, the refusal tests'
// inputs) and each one cut short and with one byte changed.
func TestOnePassReadersAgree(t *testing.T) {
	bodies := approveCorpus(t)
	users := userCorpus(t)
	if len(bodies) < 100 || len(users) < 30 {
		t.Fatalf("only %d bodies and %d users: a corpus is missing", len(bodies), len(users))
	}
	for _, b := range bodies {
		sameApproveReading(t, b)
		sameUserReading(t, string(b))
		for _, m := range mutations(b) {
			sameApproveReaders(t, m)
		}
	}
	for _, u := range users {
		sameUserReading(t, u)
		sameApproveReading(t, []byte(u))
		for _, m := range mutations([]byte(u)) {
			sameUserReaders(t, string(m))
		}
	}
}

// TestDecodeJSONRefusalsUnchanged: a body the one-pass reader refuses is
// answered with DecodeStrict's own error, word for word.
func TestDecodeJSONRefusalsUnchanged(t *testing.T) {
	for _, b := range approveCorpus(t) {
		var a, c ApproveRequest
		errStrict := DecodeStrict(b, &a)
		err := DecodeJSON(bytes.NewReader(b), MaxRequestBody, &c)
		if errStrict == nil || len(b) == 0 {
			continue
		}
		if !errors.Is(err, ErrMalformedRequest) || err.Error() != ErrMalformedRequest.Error()+": "+errStrict.Error() {
			t.Fatalf("%q: %v, want the strict reader's %v", b, err, errStrict)
		}
	}
}

// mutations are b cut at a spread of lengths and b with one byte changed
// to each of the bytes that matter to a JSON reader, at a spread of places:
// 8 for a short input, 3 for a long one (the vectors' requests, whose
// reading costs most under -race; the fuzzer goes further).
func mutations(b []byte) [][]byte {
	var out [][]byte
	places := 8
	if len(b) > 200 {
		places = 3
	}
	step := max(1, len(b)/places)
	for i := 0; i < len(b); i += step {
		out = append(out, b[:i])
		for _, c := range []byte(`"\{}[,:u0` + "\xff") {
			m := bytes.Clone(b)
			m[i] = c
			out = append(out, m)
		}
	}
	return out
}

// approveCorpus is every approve-request-like input the repository holds.
func approveCorpus(t testing.TB) [][]byte {
	var out [][]byte
	for _, dir := range []string{"testdata/fuzz/FuzzCheckJSON", "testdata/fuzz/FuzzApproveRequestReaders", "../enclave/testdata/fuzz/FuzzApproveRequest"} {
		out = append(out, fuzzCorpus(t, dir)...)
	}
	for _, v := range vectorStrings(t) {
		if v.initData != "" {
			b, err := json.Marshal(ApproveRequest{InitData: v.initData, Record: v.record})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	for _, s := range []string{
		`{"Init_Data":"a=b","record":"AQID"}`, `{"init_data":"a=b","init\u005fdata":"c=d"}`, `null`, `{"init_data":null}`,
		`{"init_data":"a=b","record":null}`, `[]`, `"x"`, "{\"init_data\":\"a=\xff\"}", "{\"init_data\xff\":\"a\"}",
		`{"init_data":"a=\ud800"}`, `{"init_data":"a=\udc00"}`, `{"init_data":"\ud800\u0041"}`, `{"init_data":"\udc00\ud800"}`,
		`{"record":"AQ\nID"}`, `{"record":"AQ\r\nID"}`, `{"record":"AQ ID"}`, `{"record":"AQI"}`, `{"record":"AQJ="}`, `{"record":"-_-_"}`,
		`{"record":5}`, `{"record":[1,2,3]}`, `{"init_data":"a","raw_tx":"0x"}`, `{"init_data":"a"} {}`, `{"init_data":"a"}]`,
		`{"init_data":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		` { "init_data" : "a=\ud83d\ude00\u00e9\/" ,` + "\n" + `"record":"AQID"} `, `{"init_data":"x","record":""}`,
		`{"init_data":"x","record":"AA=="}`, `{"init_data":"x","record":"AAA="}`, `{"init_data":"x","record":"AAAA"}`,
		`{"record":"A\u0041=="}`, `{"record":"AA\u003d="}`, `{}`, `{ }`, `{"init_data":"\u0000\b\f\n\r\t\"\\"}`, `{"init_data":"a",}`,
		`{,}`, `{"init_data" "a"}`, `{"init_data":"a" "record":""}`, `{"init_data":'a'}`, `{"init_data":"a"`, `{"init_data":"\x"}`,
		"{\"init_data\":\"a\tb\"}", `{"init_data":true}`, `{"init_data":{}}`, `{"init_data":"\U0041"}`, `{"init_data":"\u00e"}`,
		"\ufeff{}", `{"init_data":"\uD83D\uDE00"}`, `{"init_data":"\udc00\udc00"}`, `{"init_data":"\ud800\ud800"}`, `{"init_data":"\udbff\udfff"}`, `{"init_data":"\ud83d\\ude00"}`, `{"record":"` + strings.Repeat("AAAA", 100) + `"}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// userCorpus is every initData user object (and user-like JSON) the
// repository holds.
func userCorpus(t testing.TB) []string {
	var out []string
	add := func(initData string) {
		if f, err := parseFields(initData); err == nil && f["user"] != "" {
			out = append(out, f["user"])
		}
	}
	for _, raw := range fuzzCorpus(t, "testdata/fuzz/FuzzVerifyInitData") {
		add(string(raw))
	}
	for _, raw := range fuzzCorpus(t, "testdata/fuzz/FuzzUserIDReaders") {
		out = append(out, string(raw))
	}
	for _, v := range vectorStrings(t) {
		add(v.initData)
	}
	out = append(out,
		`{"id":42}`, `{"id":42,"ID":7}`, `{"id":9007199254740991}`, `{"first_name":null,"id":5}`, `{"id":5,"photo_url":"a\/b"}`,
		`{"id":5,"x":{"y":[1,{"z":2}]}}`, `{"ID":42}`, `{"Id":42}`, `{"id":42,"id":43}`, `{"id":7,"ID":42,"id":42}`, `null`, `[]`, `42`,
		`{"id":null}`, `{"id":"42"}`, `{"id":4.2e1}`, `{"id":42.0}`, `{"id":0}`, `{"id":-1}`, `{"id":9007199254740992}`,
		"{\"id\":42,\"first_name\":\"\xff\"}", `{"id":42,"first_name":"\udfff"}`, `{"id":42,"x":{"a":1,"a":2}}`, `{"id":42}x`,
		`{"i\u0064":42}`, `{"id":1,"a":"\udc00\udc00"}`, `{"id":1,"\ud800\udc00":1,"\ud800\udc00":2}`, `{"id":42,"i\u0064":43}`, `{"id":-0}`, `{"id":042}`, `{"id":1e3}`, `{"id":99999999999999999999}`,
		`{"id":42,"a":[1,2,]}`, `{"id":42,"a":tru}`, `{"id":42,"a":[true,false,null,-1.5e+3,"x",{}]}`, ` {"id":42} `, `{"id":42,}`,
		`{"id":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`, `{"a":`+strings.Repeat(`{"a":`, 30)+`1`+strings.Repeat("}", 30)+`,"id":1}`,
		`{"a":`+strings.Repeat(`{"a":`, 31)+`1`+strings.Repeat("}", 31)+`,"id":1}`, `{"id":1,"k1":1,"k2":1,"k3":1,"k4":1,"k5":1,"k6":1,"k7":1,"k8":1,"k9":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1,"k15":1,"k16":1,"k17":1,"k18":1,"k3":1}`,
		`{"id":1,"k1":1,"k2":1,"k3":1,"k4":1,"k5":1,"k6":1,"k7":1,"k8":1,"k9":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1,"k15":1,"k16":1,"k17":1,"k18":1,"k19":1}`,
	)
	return out
}

type vectorInput struct {
	initData string
	record   []byte
}

// vectorStrings reads every JSON vector under testdata/ for its init_data
// and record (hex) fields.
func vectorStrings(t testing.TB) []vectorInput {
	var out []vectorInput
	err := filepath.WalkDir(vectorsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var v struct {
			InitData string `json:"init_data"`
			Record   string `json:"record"`
		}
		if json.Unmarshal(b, &v) != nil {
			return nil // not an object of strings: not a vector with these fields
		}
		rec, _ := decodeHex(v.Record)
		out = append(out, vectorInput{v.InitData, rec})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeHex(s string) ([]byte, error) {
	b := make([]byte, len(s)/2)
	for i := range b {
		n, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		b[i] = byte(n)
	}
	return b, nil
}

// fuzzCorpus reads a Go fuzz corpus directory ("go test fuzz v1", one
// []byte or string value per file); a missing directory is empty.
func fuzzCorpus(t testing.TB, dir string) [][]byte {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s/%s: not a one-value corpus file", dir, e.Name())
		}
		v := lines[1]
		for _, prefix := range []string{"[]byte(", "string("} {
			if rest, ok := strings.CutPrefix(v, prefix); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(rest, ")"))
				if err != nil {
					t.Fatalf("%s/%s: %v", dir, e.Name(), err)
				}
				out = append(out, []byte(s))
			}
		}
	}
	return out
}

// TestApproveResponseJSON: WriteJSON's reflection-free answer to an
// approval is byte for byte json.Encoder's, and anything that would need
// escaping goes through json.Encoder.
func TestApproveResponseJSON(t *testing.T) {
	for _, r := range []ApproveResponse{
		{RawTx: "0x02f8", TxHash: "0x" + strings.Repeat("ab", 32)},
		{RawTx: "0xABCDEF0123456789", TxHash: ""},
		{},
		{RawTx: "0x<script>", TxHash: "0x&"},
		{RawTx: "0x\"", TxHash: "0xé"},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(r); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		WriteJSON(rec, 200, r)
		if rec.Body.String() != want.String() || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%+v: %q %v, want %q", r, rec.Body, rec.Header(), want.String())
		}
	}
}

// TestDecodeJSONBodyBufferWiped: the pooled body buffer (it held initData)
// is wiped before it is reused, and nothing decoded from one body changes
// when the buffer reads the next.
func TestDecodeJSONBodyBufferWiped(t *testing.T) {
	first := []byte(`{"init_data":"auth_date=1\u0026user=secret","record":"AQID"}`)
	var a ApproveRequest
	if err := DecodeJSON(bytes.NewReader(first), MaxRequestBody, &a); err != nil {
		t.Fatal(err)
	}
	// With no GC in between, this goroutine's next Get is the buffer just
	// put back (sync.Pool keeps one per P); a fresh one is zero anyway.
	buf := bodyBuffers.Get().(*[]byte)
	for i, c := range (*buf)[:cap(*buf)] {
		if c != 0 {
			t.Fatalf("byte %d of a pooled body buffer is %q: not wiped", i, c)
		}
	}
	bodyBuffers.Put(buf)
	var b ApproveRequest
	if err := DecodeJSON(bytes.NewReader([]byte(`{"init_data":"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX","record":"BBBB"}`)), MaxRequestBody, &b); err != nil {
		t.Fatal(err)
	}
	if a.InitData != "auth_date=1&user=secret" || string(a.Record) != "\x01\x02\x03" {
		t.Fatalf("the first request now reads %+v", a)
	}
	// A body over the limit and a refused one leave no trace either.
	for _, body := range [][]byte{bytes.Repeat([]byte("a"), MaxRequestBody+10), []byte(`{"init_data":"secret","x":1}`)} {
		var r ApproveRequest
		if err := DecodeJSON(bytes.NewReader(body), MaxRequestBody, &r); err == nil {
			t.Fatal("accepted")
		}
		buf := bodyBuffers.Get().(*[]byte)
		if bytes.ContainsAny((*buf)[:cap(*buf)], "as") {
			t.Fatal("a refused body stays in the pooled buffer")
		}
		bodyBuffers.Put(buf)
	}
}
