package bot

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/storage/bolt"
)

// FuzzReadUpdate: whatever the body, readUpdate answers an update whose id
// is the body's update_id, or a refusal status; it never panics.
func FuzzReadUpdate(f *testing.F) {
	for _, s := range []string{
		`{"update_id":1,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"date":1,"text":"/help"}}`,
		`{"update_id":2,"callback_query":{"id":"9","from":{"id":1,"is_bot":false,"first_name":"A"},"chat_instance":"1","data":"w:refresh"}}`,
		`{}`, `{"update_id":-1}`, `{"update_id":1} {}`, `{"update_id":1e3}`, `[`, `null`, `{"update_id":null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		u, status := readUpdate(w, r)
		if (u == nil) == (status == 0) {
			t.Fatalf("update %v with status %d", u, status)
		}
		if u != nil && u.ID < 0 {
			t.Fatalf("negative update id %d accepted", u.ID)
		}
		if status != 0 && status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", status)
		}
	})
}

// TestSecretRules: 32-256 characters of Telegram's alphabet; a refusal
// names the rule (ErrWeakSecret) and never quotes the secret.
func TestSecretRules(t *testing.T) {
	a32 := strings.Repeat("a", 32)
	for s, want := range map[string]string{
		"": "shorter than 32", "a": "shorter than 32", a32[:31]: "shorter than 32", a32: "",
		strings.Repeat("a", 256): "", strings.Repeat("a", 257): "longer than 256",
		"A-z_09" + a32: "", "with space" + a32: "characters other", "tab\t" + a32: "characters other", "ü" + a32: "characters other",
	} {
		err := CheckSecret(s)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckSecret(%d chars) = %v", len(s), err)
		case want != "" && (!errors.Is(err, ErrWeakSecret) || !strings.Contains(err.Error(), want)):
			t.Errorf("CheckSecret(%d chars) = %v, want %q", len(s), err, want)
		case err != nil && len(s) >= 8 && strings.Contains(err.Error(), s):
			t.Errorf("the error quotes the secret: %v", err)
		}
		if ValidSecret(s) != (want == "") {
			t.Errorf("ValidSecret(%d chars) = %v", len(s), !(want == ""))
		}
	}
	if g := GenerateSecret(); !ValidSecret(g) || len(g) != 64 || g == GenerateSecret() {
		t.Fatalf("GenerateSecret() = %q", g)
	}
	// bot.New refuses a short secret too (a caller other than the parent).
	c := WebhookConfig{URL: "https://lb.example/hook", Secret: "Zq9xW", Instance: "a", Store: (*bolt.DB)(nil)}
	if err := c.check(); !errors.Is(err, ErrWeakSecret) || strings.Contains(err.Error(), "Zq9xW") {
		t.Fatalf("check: %v", err)
	}
}

func TestRedactRemovesWebhookSecret(t *testing.T) {
	const secret, token = "the-webhook-secret_1", "1:tok"
	b := &Bot{cfg: Config{Token: token}, hook: &hookState{cfg: &WebhookConfig{Secret: secret}}}
	err := b.redact(errors.New("call https://api/bot1:tok/setWebhook secret_token=the-webhook-secret_1 failed"))
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), token) {
		t.Fatalf("redact left a secret: %v", err)
	}
	if !strings.Contains(err.Error(), "<webhook secret>") || !strings.Contains(err.Error(), "<token>") {
		t.Fatalf("redact: %v", err)
	}
}
