package main

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// TestUsageNeverPrintsSecrets: the bot token and the database URL come
// from the environment; a mistyped flag or -h prints every flag's default,
// which must not be theirs (under systemd that text lands in the journal).
// The values still reach the config.
func TestUsageNeverPrintsSecrets(t *testing.T) {
	const token = "123456:AAsecretTOKENvalue"
	const dsn = "postgres://aw:S3cretPassw0rd@db.example/autowallet"
	t.Setenv("TELEGRAM_BOT_TOKEN", token)
	t.Setenv("AUTOWALLET_DATABASE_URL", dsn)
	parse := map[string]func([]string) error{
		"parent":  NewParentMain(slog.New(slog.DiscardHandler), io.Discard).ParseFlags,
		"dev":     NewDevMain(slog.New(slog.DiscardHandler), io.Discard).ParseFlags,
		"migrate": NewMigrateMain(slog.New(slog.DiscardHandler), io.Discard).ParseFlags,
	}
	for name, p := range parse {
		for _, args := range [][]string{{"-no-such-flag"}, {"-h"}} {
			out := captureStderr(t, func() { p(args) })
			if !strings.Contains(out, "-bot-token") && !strings.Contains(out, "-database") {
				t.Fatalf("%s %v: no usage text was printed: %q", name, args, out)
			}
			for _, secret := range []string{token, "S3cretPassw0rd", "AAsecret"} {
				if strings.Contains(out, secret) {
					t.Errorf("%s %v printed a secret from the environment:\n%s", name, args, out)
				}
			}
		}
	}
	m := NewParentMain(slog.New(slog.DiscardHandler), io.Discard)
	m.ParseFlags([]string{"-data", t.TempDir()})
	if m.Config.BotToken != token || m.Config.DatabaseURL != dsn {
		t.Fatalf("the environment's values did not reach the config: token %t, database %t", m.Config.BotToken == token, m.Config.DatabaseURL == dsn)
	}
}

func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	fn()
	os.Stderr = old
	w.Close()
	return <-done
}
