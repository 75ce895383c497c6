package miniapp

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/autowallet/autowallet/internal/browser"
	"github.com/autowallet/autowallet/protocol"
)

// TestInitDataReaderAgreesWithGo: the page's parseInitData accepts exactly
// the initData that Go's parser (protocol.InitDataPairs, docs/protocol.md
// 2.1) accepts, with the same decoded pairs: the vectors of
// testdata/initdata, the inputs of issue 9 part 5 (a line feed, a carriage
// return, NUL, invalid UTF-8 in a decoded value; the byte limit counted in
// UTF-8) and random mutations of a valid launch.
func TestInitDataReaderAgreesWithGo(t *testing.T) {
	inputs := map[string]string{}
	paths, _ := filepath.Glob("../../testdata/initdata/*.json")
	if len(paths) == 0 {
		t.Fatal("no initdata vectors")
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			InitData string `json:"init_data"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		inputs["vector "+filepath.Base(p)] = v.InitData
	}
	valid := signedInitData(t, "AQE")
	for name, edit := range map[string][2]string{
		"LF in a value":          {"chat_type=private", "chat_type=private%0A"},
		"folded pairs":           {"&chat_type=private", "%0Achat_type%3Dprivate"},
		"CR in a value":          {"chat_type=private", "chat_type=private%0D"},
		"NUL in a value":         {"chat_type=private", "chat_type=private%00"},
		"tab in a value":         {"chat_type=private", "chat_type=private%09"},
		"LF in a key":            {"chat_type=", "chat%0Atype="},
		"raw LF":                 {"chat_type=private", "chat_type=priv\nate"},
		"DEL is allowed":         {"chat_type=private", "chat_type=private%7F"},
		"invalid UTF-8":          {"chat_type=private", "chat_type=priv%FFate"},
		"overlong UTF-8":         {"chat_type=private", "chat_type=priv%C0%AFate"},
		"surrogate as UTF-8":     {"chat_type=private", "chat_type=priv%ED%A0%80ate"},
		"truncated UTF-8":        {"chat_type=private", "chat_type=priv%C3ate"},
		"over U+10FFFF":          {"chat_type=private", "chat_type=priv%F4%90%80%80ate"},
		"valid UTF-8 escapes":    {"chat_type=private", "chat_type=priv%C3%A9%F0%9F%98%80ate"},
		"raw non-ASCII":          {"chat_type=private", "chat_type=privé😀ate"},
		"plus is a space":        {"chat_type=private", "chat_type=a+b%2Bc"},
		"bad escape":             {"chat_type=private", "chat_type=%zz"},
		"empty key":              {"chat_type=private", "=private"},
		"duplicate after decode": {"chat_type=private", "chat_type=private&chat%5Ftype=x"},
	} {
		edited := strings.Replace(valid, edit[0], edit[1], 1)
		if edited == valid {
			t.Fatalf("%s: no change", name)
		}
		inputs[name] = edited
	}
	// The 8192-byte limit, in ASCII and in two- and four-byte characters
	// (JavaScript's length counts UTF-16 units, the enclave bytes).
	for _, c := range []string{"a", "é", "😀"} {
		for _, extra := range []int{0, 1} {
			n := (8192 - len("k=")) / len(c)
			s := "k=" + strings.Repeat(c, n) + strings.Repeat("a", (8192-len("k="))%len(c)+extra)
			inputs["limit "+c+" +"+string(rune('0'+extra))] = s
		}
	}
	r := rand.New(rand.NewPCG(9, 5))
	pieces := []string{"%0A", "%0D", "%00", "%1F", "%20", "%FF", "%C3%A9", "%ED%A0%80", "%F0%9F%98%80", "\n", "&", "=", "+", "%", "é", "%2", "%E2%82"}
	for i := range 300 {
		at := r.IntN(len(valid) + 1)
		s := valid[:at] + pieces[r.IntN(len(pieces))] + valid[at:]
		if i%2 == 0 {
			at = r.IntN(len(s))
			s = s[:at] + s[at+1:]
		}
		if utf8.ValidString(s) { // only a UTF-8 string is the same input in JavaScript
			inputs[key(i, "mutation")] = s
		}
	}

	ctx := codecPage(t)
	browser.Wait(t, ctx, `window.AutowalletMiniApp !== undefined`)
	in, _ := json.Marshal(inputs)
	got := browser.Eval[map[string]map[string]string](t, ctx, `(() => {
		const inputs = `+string(in)+`, out = {};
		for (const [name, raw] of Object.entries(inputs)) {
			const f = AutowalletMiniApp.parseInitData(raw);
			out[name] = f === null ? null : Object.assign({}, f);
		}
		return out;
	})()`)
	accepted := 0
	for name, raw := range inputs {
		want, err := protocol.InitDataPairs(raw)
		g, ok := got[name]
		if !ok {
			t.Fatalf("%s: no answer from the page", name)
		}
		if err != nil {
			if g != nil {
				t.Errorf("%s: Go refuses (%v), the page reads %d pairs", name, err, len(g))
			}
			continue
		}
		if g == nil {
			t.Errorf("%s: Go reads it, the page refuses", name)
			continue
		}
		accepted++
		if len(g) != len(want) {
			t.Errorf("%s: the page reads %d pairs, Go %d", name, len(g), len(want))
		}
		for k, v := range want {
			if g[k] != v {
				t.Errorf("%s: %q = %q in the page, %q in Go", name, k, g[k], v)
			}
		}
	}
	if accepted == 0 || accepted == len(inputs) {
		t.Fatalf("%d of %d inputs accepted: the comparison tells nothing", accepted, len(inputs))
	}
	t.Logf("%d inputs, %d read by both, the rest refused by both", len(inputs), accepted)

	// A lone surrogate has no UTF-8 form: the JSON carrying it to the
	// enclave is refused (malformed_request), and the page refuses it too.
	if !browser.Eval[bool](t, ctx, `AutowalletMiniApp.parseInitData("a=\ud800") === null && AutowalletMiniApp.parseInitData("a=b\udc00") === null`) {
		t.Fatal("the page reads initData with a lone surrogate")
	}
}
