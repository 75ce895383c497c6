package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/enclave"
)

// StartEnclaveWithTokens is StartEnclave with ERC-20 contracts the enclave
// may sign transfers of, per chain id (each one of chainIDs).
func StartEnclaveWithTokens(t testing.TB, tokens map[uint64][]common.Address, chainIDs ...uint64) *Enclave {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &enclave.Config{
		Dev: true, BotID: BotID, TelegramPublicKey: pub,
		AllowedChainIDs: chainIDs, AllowedTokens: tokens,
		MaxAuthAge: time.Hour, ClockSkew: time.Minute,
	}
	signer, err := enclave.NewSigner(cfg, enclave.Options{Entropy: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	addr, vault := ServeSigner(t, signer)
	return &Enclave{Addr: addr, Key: priv, Config: cfg, Signer: signer, VaultKey: vault}
}
