// Package testenv starts the real parts tests share: an enclave server on
// loopback with a dev config that trusts a test Ed25519 key, and initData
// signed with that key.
package testenv

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// BotID is the bot id the test enclave's config names.
const BotID int64 = 4242

// Enclave is a running enclave server on 127.0.0.1.
type Enclave struct {
	Addr   string             // host:port of the API
	Key    ed25519.PrivateKey // the "Telegram" key its config trusts
	Config *enclave.Config
	Signer *enclave.Signer
	// VaultKey is the random vault key it was unlocked with (tests only).
	VaultKey []byte
}

// StartEnclave starts an unlocked enclave on loopback allowing chainIDs; it is
// stopped when the test ends.
func StartEnclave(t testing.TB, chainIDs ...uint64) *Enclave {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &enclave.Config{
		Dev:               true,
		BotID:             BotID,
		TelegramPublicKey: pub,
		AllowedChainIDs:   chainIDs,
		MaxAuthAge:        time.Hour,
		ClockSkew:         time.Minute,
	}
	signer, err := enclave.NewSigner(cfg, enclave.Options{Entropy: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	addr, vault := ServeSigner(t, signer)
	return &Enclave{Addr: addr, Key: priv, Config: cfg, Signer: signer, VaultKey: vault}
}

// Proof is the wallet proof this enclave gives for (owner, addr), made
// without asking it (testvectors.WalletProof under its vault key).
func (e *Enclave) Proof(owner int64, addr common.Address) []byte {
	return testvectors.WalletProof(e.VaultKey, owner, addr)
}

// IdentityKey is the hex identity public key the enclave's health shows.
func (e *Enclave) IdentityKey() string {
	return hex.EncodeToString(e.Signer.IdentityPublicKey())
}

// ServeSigner unlocks signer with a random vault key and serves the enclave
// API for it on 127.0.0.1 until the test ends; it returns host:port and the
// vault key (for testvectors.WalletProof).
func ServeSigner(t testing.TB, signer *enclave.Signer) (string, []byte) {
	t.Helper()
	vault := make([]byte, enclave.VaultKeySize)
	rand.Read(vault)
	if err := signer.Unlock(vault); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := enclave.NewServer(signer, slog.New(slog.DiscardHandler))
	go enclave.Serve(srv, l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return l.Addr().String(), vault
}

// VerifyConfig is the initData check matching the enclave's config.
func (e *Enclave) VerifyConfig() protocol.VerifyConfig {
	return protocol.VerifyConfig{BotID: BotID, PublicKey: e.Key.Public().(ed25519.PublicKey), MaxAge: time.Hour, ClockSkew: time.Minute}
}

// InitData is Mini App initData for user, opened from a link with
// startParam, signed now with the key the enclave trusts.
func (e *Enclave) InitData(user int64, startParam string) string {
	return SignInitData(e.Key, user, startParam, time.Now())
}

// SignInitData signs initData as Telegram would for a Mini App launch.
func SignInitData(key ed25519.PrivateKey, user int64, startParam string, authDate time.Time) string {
	u, _ := json.Marshal(map[string]any{"id": user, "first_name": "Test", "username": "user" + strconv.FormatInt(user, 10)})
	values := map[string]string{
		"user":          string(u),
		"auth_date":     strconv.FormatInt(authDate.Unix(), 10),
		"chat_type":     "sender",
		"chat_instance": "-" + strconv.FormatInt(user*7919, 10),
	}
	if startParam != "" {
		values["start_param"] = startParam
	}
	return protocol.SignInitData(values, BotID, key, "")
}
