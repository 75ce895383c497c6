package bot

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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

func TestSecretRules(t *testing.T) {
	for s, ok := range map[string]bool{"": false, "a": true, strings.Repeat("a", 256): true, strings.Repeat("a", 257): false,
		"A-z_09": true, "with space": false, "tab\t": false, "ü": false} {
		if ValidSecret(s) != ok {
			t.Errorf("ValidSecret(%q) = %v", s, !ok)
		}
	}
	if g := GenerateSecret(); !ValidSecret(g) || len(g) != 64 || g == GenerateSecret() {
		t.Fatalf("GenerateSecret() = %q", g)
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
