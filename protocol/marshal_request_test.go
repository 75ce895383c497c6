package protocol

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/autowallet/autowallet/internal/testvectors"
)

// TestMarshalApproveRequest: the parent's reflection-free request is byte
// for byte json.Marshal's, for every initData vector (real initData is
// full of '&', which json.Marshal writes \u0026) and for strings that need
// the fallback.
func TestMarshalApproveRequest(t *testing.T) {
	inits := []string{"", "a=1&b=<2>", `quote"`, `back\slash`, "tab\t", "é", "\u2028", "\x7f", "\xff"}
	for _, v := range testvectors.Load[testvectors.InitDataVector](t, vectorsDir+"/initdata") {
		inits = append(inits, v.Vector.InitData)
	}
	for _, s := range inits {
		for _, rec := range []Bytes{nil, {}, {1, 2, 3}, bytes.Repeat([]byte{0xfb}, 89)} {
			checkMarshalApproveRequest(t, ApproveRequest{InitData: s, Record: rec})
		}
	}
}

func checkMarshalApproveRequest(t *testing.T, r ApproveRequest) {
	t.Helper()
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := MarshalApproveRequest(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%q: MarshalApproveRequest = %q, %v; json.Marshal = %q", r.InitData, got, err, want)
	}
}

// FuzzMarshalApproveRequest holds the two writers to one output.
func FuzzMarshalApproveRequest(f *testing.F) {
	f.Add("query_id=AA&user=%7B%22id%22%3A1%7D&auth_date=1&hash=ab", []byte{1, 2, 3})
	f.Add("<&>\"\\\x00\u2028é", []byte(nil))
	f.Fuzz(func(t *testing.T, s string, rec []byte) {
		checkMarshalApproveRequest(t, ApproveRequest{InitData: s, Record: rec})
	})
}
