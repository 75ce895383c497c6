package protocol

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/autowallet/autowallet/internal/testvectors"
)

// Where the vectors are, relative to this package.
const (
	vectorsDir  = "../testdata"
	telegramDir = "../../shared/testdata/telegram" // the repository's sibling ../shared
)

// wantCode asserts that err is the refusal with the given code: it wraps the
// code's sentinel (errors.Is) and maps back to the code. CodeInternal and ""
// ("valid") are not refusals.
func wantCode(t testing.TB, err error, code Code) {
	t.Helper()
	if code == "valid" {
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		return
	}
	sentinel := sentinelOf[code]
	if sentinel == nil {
		t.Fatalf("code %q has no sentinel", code)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("want %v (%s), got %v", sentinel, code, err)
	}
	if got := CodeOf(err); got != code {
		t.Fatalf("CodeOf(%v) = %s, want %s", err, got, code)
	}
}

// vectorVerifyConfig is the verifier configuration of testdata/initdata.
func vectorVerifyConfig() VerifyConfig {
	return VerifyConfig{
		BotID:     testvectors.BotID,
		PublicKey: testvectors.TelegramKey().Public().(ed25519.PublicKey),
		MaxAge:    testvectors.MaxAuthAge,
		ClockSkew: testvectors.ClockSkew,
	}
}

// vector returns one named vector of a folder of testdata.
func vector[T any](t testing.TB, dir, name string) T {
	t.Helper()
	for _, v := range testvectors.Load[T](t, vectorsDir+"/"+dir) {
		if v.Name == name {
			return v.Vector
		}
	}
	t.Fatalf("no vector %s/%s", dir, name)
	panic("unreachable")
}
