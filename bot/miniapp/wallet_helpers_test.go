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

	"github.com/autowallet/autowallet/networks"
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

// Test tokens (EIP-55): USDC on Sepolia and Base (6 decimals), DAI on Base
// (18 decimals).
var (
	sepoliaUSDC = common.HexToAddress("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238")
	baseUSDC    = common.HexToAddress("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")
	baseDAI     = common.HexToAddress("0x50c5725949A6F0c72E6C4a641F24049A917DB0Cb")
	// lookalikeUSDC differs from baseUSDC in its last digit: a contract the
	// host deployed with the symbol "USDC" and 6 decimals.
	lookalikeUSDC = common.HexToAddress("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02914")
)

// testNetworks is the page's own list in the tests: Sepolia (the test
// intent's chain), Base (an OP-stack chain with an L1 data fee, a 6- and an
// 18-decimals token) and Polygon (native coin POL).
var testNetworks = networks.Set{
	{ChainID: 11155111, Name: "Sepolia", NativeSymbol: "ETH", NativeDecimals: 18, ExplorerURL: "https://sepolia.etherscan.io",
		Tokens: []networks.Token{{Address: sepoliaUSDC, Symbol: "USDC", Decimals: 6}}},
	{ChainID: 8453, Name: "Base", NativeSymbol: "ETH", NativeDecimals: 18, ExplorerURL: "https://basescan.org", L1DataFee: true,
		Tokens: []networks.Token{{Address: baseUSDC, Symbol: "USDC", Decimals: 6}, {Address: baseDAI, Symbol: "DAI", Decimals: 18}}},
	{ChainID: 137, Name: "Polygon", NativeSymbol: "POL", NativeDecimals: 18, ExplorerURL: "https://polygonscan.com"},
}

// testNetworksJSON is testNetworks as config.json's "networks", written by
// hand from the spec (TestConfigJSON checks that Go writes the same).
const testNetworksJSON = `[{"chain_id": 11155111, "name": "Sepolia", "native_symbol": "ETH", "native_decimals": 18, "explorer_url": "https://sepolia.etherscan.io", "l1_data_fee": false,
 "tokens": [{"address": "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238", "symbol": "USDC", "decimals": 6}]},
 {"chain_id": 8453, "name": "Base", "native_symbol": "ETH", "native_decimals": 18, "explorer_url": "https://basescan.org", "l1_data_fee": true,
 "tokens": [{"address": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "symbol": "USDC", "decimals": 6}, {"address": "0x50c5725949A6F0c72E6C4a641F24049A917DB0Cb", "symbol": "DAI", "decimals": 18}]},
 {"chain_id": 137, "name": "Polygon", "native_symbol": "POL", "native_decimals": 18, "explorer_url": "https://polygonscan.com", "l1_data_fee": false, "tokens": []}]`

// configJSON is the page's config.json (version 2) pinning key's public
// half, with the test bot id, testTelegram's public key and testNetworks.
func configJSON(key ed25519.PrivateKey) string {
	return configWithNetworks(key, testNetworksJSON)
}

// configWithNetworks is configJSON with another "networks" member.
func configWithNetworks(key ed25519.PrivateKey, networksJSON string) string {
	return `{"version": 2, "identity_key": "` + hex.EncodeToString(key.Public().(ed25519.PublicKey)) +
		`", "bot_id": ` + strconv.Itoa(testBotID) + `, "telegram_public_key": "` + hex.EncodeToString(testTelegram.Public().(ed25519.PublicKey)) +
		`", "networks": ` + networksJSON + `}`
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
