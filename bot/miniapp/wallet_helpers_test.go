package miniapp

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"net/http"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/protocol"
)

// Built from docs/identity spec alone (deployment identity key, wallet
// statements, intent v2, receive links), independently of the Go codec, so
// the page is checked against the spec and not against the code it mirrors.

// testUserID is the Telegram user of signedInitData's launches.
const testUserID = 424242

// testIdentity stands in for the enclave's deployment identity key.
var testIdentity = ed25519.NewKeyFromSeed(seed("test deployment identity"))

// testTelegram stands in for Telegram's Ed25519 key: it signs the test
// launches (signedInitData, initDataFor), and configJSON publishes it.
var testTelegram = ed25519.NewKeyFromSeed(seed("test telegram"))

func seed(label string) []byte {
	s := sha256.Sum256([]byte(label))
	return s[:]
}

// statementMessage is the spec's 59-byte message: the ASCII context (30
// bytes), 0x00, owner (8 bytes big-endian), address (20 bytes).
func statementMessage(owner uint64, addr common.Address) []byte {
	m := []byte("autowallet wallet statement v1")
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, owner)
	return append(m, addr[:]...)
}

// proofFor is the wallet proof key makes for (owner, addr).
func proofFor(key ed25519.PrivateKey, owner uint64, addr common.Address) []byte {
	return ed25519.Sign(key, statementMessage(owner, addr))
}

// appendSpecUint writes a number as the intent layout does: one length byte,
// then the minimal big-endian bytes (none for zero).
func appendSpecUint(b []byte, v *big.Int) []byte {
	raw := v.Bytes()
	return append(append(b, byte(len(raw))), raw...)
}

// encodeIntentV2 writes in as a version 2 transfer intent: the v1 layout of
// docs/protocol.md 1.1 with version byte 0x02, then the 64-byte proof (any
// length here, so tests can make wrong ones).
func encodeIntentV2(in *protocol.Intent, proof []byte) []byte {
	b := []byte{0x01, 0x02}
	b = appendSpecUint(b, new(big.Int).SetUint64(in.ChainID))
	b = append(b, in.From[:]...)
	b = append(b, in.To[:]...)
	b = append(b, in.Token[:]...)
	b = appendSpecUint(b, in.Amount)
	b = appendSpecUint(b, new(big.Int).SetUint64(in.Nonce))
	b = appendSpecUint(b, new(big.Int).SetUint64(in.GasLimit))
	b = appendSpecUint(b, in.MaxFeePerGas)
	b = appendSpecUint(b, in.MaxPriorityFeePerGas)
	b = appendSpecUint(b, new(big.Int).SetUint64(in.Expiry))
	return append(b, proof...)
}

// intentParam is the start_param of in with a proof for (owner, in.From)
// by key.
func intentParam(in *protocol.Intent, key ed25519.PrivateKey, owner uint64) string {
	return base64.RawURLEncoding.EncodeToString(encodeIntentV2(in, proofFor(key, owner, in.From)))
}

// walletLinkBytes is a receive link: 0x02, 0x01, owner, address, proof.
func walletLinkBytes(owner uint64, addr common.Address, proof []byte) []byte {
	b := []byte{0x02, 0x01}
	b = binary.BigEndian.AppendUint64(b, owner)
	b = append(b, addr[:]...)
	return append(b, proof...)
}

// walletLink is the start_param of a receive link signed by key for (owner, addr).
func walletLink(key ed25519.PrivateKey, owner uint64, addr common.Address) string {
	return base64.RawURLEncoding.EncodeToString(walletLinkBytes(owner, addr, proofFor(key, owner, addr)))
}

// configJSON is the page's config.json pinning key's public half, with the
// test bot id and testTelegram's public key.
func configJSON(key ed25519.PrivateKey) string {
	return `{"version": 1, "identity_key": "` + hex.EncodeToString(key.Public().(ed25519.PublicKey)) +
		`", "bot_id": ` + strconv.Itoa(testBotID) + `, "telegram_public_key": "` + hex.EncodeToString(testTelegram.Public().(ed25519.PublicKey)) + `"}`
}

// serveConfig answers GET config.json with body (status 404 if body is "").
func serveConfig(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if body == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}
