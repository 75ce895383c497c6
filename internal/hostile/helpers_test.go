package hostile

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/internal/testenv"
)

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startProductionEnclave serves a production-mode signer (no HMAC possible)
// with enclave.NewServer on a loopback port and returns its address. A
// production config needs an NSM to run as cmd/enclave, which this machine
// does not have; the server and signer are the same code.
func startProductionEnclave(t testing.TB, tg telegram) string {
	t.Helper()
	cfg := &enclave.Config{
		BotID: botID, TelegramPublicKey: tg.key.Public().(ed25519.PublicKey),
		AllowedChainIDs: []uint64{chainID}, MaxAuthAge: time.Hour, ClockSkew: time.Minute,
		KMS: &enclave.KMSConfig{KeyARN: "arn:aws:kms:eu-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc", Region: "eu-west-2", ProxyPort: 8000},
	}
	if cfg.Dev {
		t.Fatal("not a production config")
	}
	signer, err := enclave.NewSigner(cfg, enclave.Options{Entropy: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := testenv.ServeSigner(t, signer)
	return addr
}
