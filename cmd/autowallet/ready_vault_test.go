package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// TestReadyzEnclaveKeyNotStored: an enclave that answers and is unlocked,
// but with a vault key this parent does not know to be the stored one
// (parent.Service.VaultKeyCheck fails: a first-key race lost), makes the
// parent not ready with the fixed word key_not_stored, never the check's
// error text; ready again once the check passes (the enclave restarted and
// was unlocked with the stored blob).
func TestReadyzEnclaveKeyNotStored(t *testing.T) {
	enc := testenv.StartEnclave(t, 1337) // unlocked (dev key file)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var bad atomic.Bool
	bad.Store(true)
	vault := func() error {
		if bad.Load() {
			return errors.New("secret-looking text that must not be quoted")
		}
		return nil
	}
	r := metrics.NewReadiness(time.Second, time.Nanosecond /* no sharing: each Check runs */, readinessChecks(parent.NewEnclaveClientTCP(enc.Addr, 5*time.Second), vault, store)...)
	rep := r.Check()
	if rep.Ready() || rep.Checks["enclave"] != metrics.ReasonKeyNotStored {
		t.Fatalf("enclave with an unstored key: %+v", rep)
	}
	bad.Store(false)
	time.Sleep(time.Millisecond)
	if rep := r.Check(); !rep.Ready() {
		t.Fatalf("after the restart: %+v", rep)
	}
}

// TestReadyzVaultKeyRefusals: each refusal caused by the database's vault
// key blob (parent/unlockcheck.go), as Service.VaultKeyCheck wraps it, makes
// the parent not ready with its own fixed word, locked enclave or not, so
// the operator restores the blob instead of restarting the enclave; the
// error's text is never quoted; autowallet_ready and the enclave check's
// gauge are 0, which AutowalletNotReady and AutowalletReadyCheckFailing
// (deploy/prometheus/alerts.yml) fire on.
func TestReadyzVaultKeyRefusals(t *testing.T) {
	enc := testenv.StartEnclave(t, 1337) // unlocked (dev key file)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	locked := startLockedEnclave(t)
	for _, c := range []struct {
		err  error
		want string
	}{
		{parent.ErrVaultKeyMissing, metrics.ReasonKeyMissing},
		{parent.ErrVaultKeyMismatch, metrics.ReasonKeyMismatch},
		{parent.ErrVaultKeyChanged, metrics.ReasonKeyChanged},
		{fmt.Errorf("%w (emptied): %w", parent.ErrVaultKeyChanged, storage.ErrCorrupt), metrics.ReasonKeyChanged},
		{storage.ErrCorrupt, metrics.ReasonKeyCorrupt},
		{parent.ErrVaultKeyNotStored, metrics.ReasonKeyNotStored},
	} {
		vault := func() error {
			return fmt.Errorf("%w: unlock: %w (secret-looking text)", parent.ErrEnclaveUnavailable, c.err)
		}
		r := metrics.NewReadiness(time.Second, time.Nanosecond, readinessChecks(parent.NewEnclaveClientTCP(enc.Addr, 5*time.Second), vault, store)...)
		m := metrics.New(metrics.Options{})
		m.WatchReadiness(r)
		rep := r.Check()
		if rep.Ready() || rep.Checks["enclave"] != c.want {
			t.Errorf("%v: %+v, want enclave: %s", c.err, rep, c.want)
		}
		body := scrapeText(t, m)
		if !strings.Contains(body, "autowallet_ready 0") || !strings.Contains(body, `autowallet_ready_check{check="enclave"} 0`) {
			t.Errorf("%v: metrics do not say not ready:\n%s", c.err, body)
		}
		if strings.Contains(body, "secret-looking") {
			t.Error("an error's text in the metrics")
		}
		// The enclave restarted and stays locked while the refusal stands:
		// the refusal's word, not "locked"; key_not_stored stays "locked".
		want := c.want
		if want == metrics.ReasonKeyNotStored {
			want = metrics.ReasonLocked
		}
		if rep := metrics.NewReadiness(time.Second, time.Nanosecond, readinessChecks(parent.NewEnclaveClientTCP(locked, 5*time.Second), vault, store)...).Check(); rep.Checks["enclave"] != want {
			t.Errorf("%v, locked enclave: %+v, want enclave: %s", c.err, rep, want)
		}
	}
}

// startLockedEnclave serves a production (KMS) enclave that was never
// unlocked on 127.0.0.1 until the test ends.
func startLockedEnclave(t *testing.T) string {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := enclave.NewSigner(&enclave.Config{BotID: testenv.BotID, TelegramPublicKey: pub, AllowedChainIDs: []uint64{1337},
		MaxAuthAge: time.Hour, ClockSkew: time.Minute,
		KMS: &enclave.KMSConfig{KeyARN: "arn:aws:kms:eu-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc", Region: "eu-west-2", ProxyPort: 8000}},
		enclave.Options{Entropy: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := enclave.NewServer(signer, slog.New(slog.DiscardHandler))
	go enclave.Serve(srv, l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return l.Addr().String()
}

// scrapeText reads m's /metrics as text.
func scrapeText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", metrics.PathMetrics, nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics %d", rec.Code)
	}
	return rec.Body.String()
}
