package kmsvault_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/enclave/kmsvault"
	"github.com/autowallet/autowallet/protocol"
)

// hostileEnclave is the real enclave server (enclave.NewServer) on a
// loopback port, whose signer gets its vault key from c. The parent, which
// relays the bytes to KMS, is the attacker: here it relays them to a KMS of
// its own.
func hostileEnclave(t *testing.T, c *kmsvault.Client) (string, *enclave.Signer) {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	cfg := &enclave.Config{BotID: 4242, TelegramPublicKey: pub, AllowedChainIDs: []uint64{1337}, MaxAuthAge: time.Hour,
		ClockSkew: time.Minute, KMS: &enclave.KMSConfig{KeyARN: testARN, Region: testRegion, ProxyPort: 8000}}
	s, err := enclave.NewSigner(cfg, enclave.Options{Entropy: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	s.SetKeySource(c)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := enclave.NewServer(s, slog.New(slog.DiscardHandler))
	go enclave.Serve(srv, l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + l.Addr().String(), s
}

// post sends v to the enclave and returns the status and answer.
func post(t *testing.T, url string, v any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, ans
}

func code(ans []byte) protocol.Code {
	var e struct{ Error *protocol.Error }
	if json.Unmarshal(ans, &e) != nil || e.Error == nil {
		return ""
	}
	return e.Error.Code
}

// requireLocked asserts the vault is still locked: health says so and
// wallet work answers vault_locked.
func requireLocked(t *testing.T, base string, s *enclave.Signer) {
	t.Helper()
	resp, err := http.Get(base + protocol.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	var h protocol.HealthResponse
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if h.Vault != "locked" || !s.Locked() {
		t.Fatalf("vault is %q after a forged KMS reply", h.Vault)
	}
	if st, ans := post(t, base+protocol.PathWallets, protocol.CreateWalletRequest{Owner: 1}); code(ans) != protocol.CodeVaultLocked {
		t.Fatalf("create wallet on a locked vault: %d %s", st, ans)
	}
}

// TestHostileUnlockForgedKMS: the parent answers the enclave's KMS calls
// itself. (1) A KMS over TLS under a CA the enclave does not carry (the
// enclave trusts only the embedded Amazon roots): kms_failed, the TLS
// handshake fails, no request reaches it. (2) A KMS under a root the
// enclave does trust (a test root standing in for a compromised CA),
// answering an envelope made for another RSA key than the enclave's
// ephemeral one: kms_failed, the envelope does not open. In every case the
// vault stays locked and no credential is echoed; a sound reply then
// unlocks it, so the set-up itself is not what refuses.
func TestHostileUnlockForgedKMS(t *testing.T) {
	unlock := protocol.UnlockRequest{Credentials: testCreds}

	t.Run("untrusted CA", func(t *testing.T) {
		f := startFakeKMS(t, "kms."+testRegion+".amazonaws.com")
		c := newClient(t, f, testRegion) // embedded roots only
		base, s := hostileEnclave(t, c)
		st, ans := post(t, base+protocol.PathUnlock, unlock)
		if code(ans) != protocol.CodeKMSFailed || st != protocol.CodeKMSFailed.HTTPStatus() {
			t.Fatalf("unlock via an untrusted KMS: %d %s", st, ans)
		}
		if !strings.Contains(string(ans), "TLS") {
			t.Fatalf("the refusal does not say the TLS failed: %s", ans)
		}
		if f.callCount() != 0 {
			t.Fatalf("%d requests reached the untrusted KMS", f.callCount())
		}
		noCreds(t, ans)
		requireLocked(t, base, s)
	})

	t.Run("trusted root, envelope for another RSA key", func(t *testing.T) {
		f := startFakeKMS(t, "kms."+testRegion+".amazonaws.com")
		c := newClient(t, f, testRegion)
		c.SetRoots(f.pool)
		base, s := hostileEnclave(t, c)
		for _, mode := range []string{"another RSA key", "wrong subjectKeyIdentifier", "other key id", "plaintext too", "short key"} {
			f.setMode(mode)
			st, ans := post(t, base+protocol.PathUnlock, unlock)
			if code(ans) != protocol.CodeKMSFailed || st != protocol.CodeKMSFailed.HTTPStatus() {
				t.Fatalf("%s: unlock answered %d %s", mode, st, ans)
			}
			noCreds(t, ans)
			requireLocked(t, base, s)
		}
		f.setMode("denied")
		if st, ans := post(t, base+protocol.PathUnlock, unlock); code(ans) != protocol.CodeKMSRefused {
			t.Fatalf("denied: %d %s", st, ans)
		} else {
			noCreds(t, ans)
		}
		requireLocked(t, base, s)

		// The same enclave and KMS with a sound reply: unlocked.
		f.setMode("")
		st, ans := post(t, base+protocol.PathUnlock, unlock)
		if st != 200 || s.Locked() {
			t.Fatalf("sound reply: %d %s", st, ans)
		}
	})
}

func noCreds(t *testing.T, ans []byte) {
	t.Helper()
	for _, s := range []string{testCreds.AccessKeyID, testCreds.SecretAccessKey, testCreds.SessionToken} {
		if strings.Contains(string(ans), s) {
			t.Fatalf("answer shows a credential: %s", ans)
		}
	}
}
