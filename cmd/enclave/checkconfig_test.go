package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/internal/testvectors"
)

// TestCheckConfig: -check-config answers 0 only for a config the enclave's
// own parser accepts, and -require-production also refuses a dev config;
// every refusal says why on stderr.
func TestCheckConfig(t *testing.T) {
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "enclave.json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	prod, dev := writeConfig(t, "production"), writeConfig(t, "dev")
	devWithKMS := write(strings.Replace(string(readFile(t, prod)), `"mode":"production"`, `"mode":"dev"`, 1))
	prodWithHMAC := write(strings.Replace(string(readFile(t, prod)), `"mode":"production"`, `"mode":"production","hmac_bot_token":"1:t"`, 1))
	lowerToken := write(strings.Replace(string(readFile(t, dev)), testvectors.TokenHex, strings.ToLower(testvectors.TokenHex), 1))
	spaced := write(strings.Replace(string(readFile(t, dev)), `"mode":"dev"`, `"mode" :  "dev"`, 1))
	cases := []struct {
		name       string
		path       string
		production bool
		code       int
		say        string
	}{
		{"production", prod, true, 0, "mode production"},
		{"tokens listed", prod, true, 0, "chain 11155111: " + testvectors.TokenHex + "\n"},
		{"token not in EIP-55 case", lowerToken, false, 1, "EIP-55"},
		{"dev, any mode", dev, false, 0, "mode dev"},
		{"dev, production required", dev, true, 1, `a mode "dev" config`},
		{"dev written with spaces", spaced, true, 1, `a mode "dev" config`},
		{"dev with KMS", devWithKMS, false, 1, `mode "dev" with kms_`},
		{"production with hmac", prodWithHMAC, true, 1, "hmac_bot_token"},
		{"not JSON", write("mode: production"), false, 1, "bad enclave config"},
		{"missing", filepath.Join(t.TempDir(), "none.json"), false, 1, "no such file"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := checkConfig(&out, &errOut, c.path, c.production)
		msg := out.String() + errOut.String()
		if code != c.code || !strings.Contains(msg, c.say) {
			t.Errorf("%s: exit %d %q, want %d saying %q", c.name, code, msg, c.code, c.say)
		}
		if (code == 0) != (errOut.Len() == 0) {
			t.Errorf("%s: exit %d with stderr %q", c.name, code, errOut.String())
		}
	}
	m := NewMain(nil)
	if err := m.ParseFlags([]string{"-require-production"}); err == nil {
		t.Error("-require-production without -check-config was accepted")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
