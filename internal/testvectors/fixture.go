// Package testvectors holds the fixed keys and times behind the project's test
// vectors (testdata/ at the repository root), the JSON shapes of those vectors,
// and a loader the packages' tests share. Its test regenerates the vectors:
//
//	go test ./internal/testvectors -update
//
// Every key here is a published test key: none may ever protect real funds.
package testvectors

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fixed world every vector lives in.
const (
	// BotID is the bot the test initData is signed for.
	BotID int64 = 7000000001
	// Now is the "now" of every vector: 2026-01-01T00:00:00Z.
	Now int64 = 1767225600
	// Owner is the Telegram user who owns the test wallet.
	Owner int64 = 424242
	// ChainID is the chain of the test intents (Sepolia).
	ChainID uint64 = 11155111
	// MaxAuthAge and ClockSkew are the verifier's window in the vectors.
	MaxAuthAge = time.Hour
	ClockSkew  = time.Minute

	// TelegramSeedHex is the Ed25519 seed standing in for Telegram's key
	// (RFC 8032, section 7.1, test 1).
	TelegramSeedHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	// VaultKeyHex is the AES-256 vault key the record vectors are sealed under.
	VaultKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	// WalletKeyHex is the secp256k1 key of the test wallet.
	WalletKeyHex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

	// TokenHex is the ERC-20 contract the token vectors' enclave config
	// allows on ChainID (Circle's USDC on Sepolia); OtherChainTokenHex one
	// it allows on DevChainID only. EIP-55, as a config file writes them.
	TokenHex           = "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"
	OtherChainTokenHex = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
	// DevChainID is the second chain of the token vectors' config.
	DevChainID uint64 = 1337
)

// NowTime is Now as a time.Time.
func NowTime() time.Time { return time.Unix(Now, 0) }

// TelegramKey is the Ed25519 key that signs the test initData.
func TelegramKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(mustHex(TelegramSeedHex)) }

// VaultKey is a fresh copy of the test vault key.
func VaultKey() []byte { return mustHex(VaultKeyHex) }

// WalletKey is a fresh copy of the test wallet's private scalar.
func WalletKey() []byte { return mustHex(WalletKeyHex) }

// IdentityInfo is the HKDF info of the deployment identity key
// (docs/protocol.md): the spec's constant, written here again so the
// vectors check the enclave's derivation rather than reuse it.
const IdentityInfo = "autowallet deployment identity v1"

// IdentityKeyFor is the deployment identity key an enclave unlocked with
// vaultKey holds: Ed25519 from the seed HKDF-SHA256(vaultKey, no salt,
// IdentityInfo). Tests use it to make wallet proofs without an enclave.
func IdentityKeyFor(vaultKey []byte) ed25519.PrivateKey {
	seed, err := hkdf.Key(sha256.New, vaultKey, nil, IdentityInfo, ed25519.SeedSize)
	if err != nil {
		panic(err)
	}
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed)
}

// IdentityKey is the identity key of the test vault key.
func IdentityKey() ed25519.PrivateKey { return IdentityKeyFor(VaultKey()) }

// WalletProof is the proof an enclave unlocked with vaultKey gives for
// (owner, addr): the identity key's Ed25519 signature over the 59-byte
// statement. The one helper tests use to put a proof in an intent they
// build; the message is laid out here independently of package protocol.
func WalletProof(vaultKey []byte, owner int64, addr [20]byte) []byte {
	m := []byte("autowallet wallet statement v1\x00")
	m = binary.BigEndian.AppendUint64(m, uint64(owner))
	m = append(m, addr[:]...)
	return ed25519.Sign(IdentityKeyFor(vaultKey), m)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// IntentVector is one file of testdata/intents.
type IntentVector struct {
	Description string        `json:"description"`
	StartParam  string        `json:"start_param"`
	Intent      *IntentFields `json:"intent,omitempty"` // only when Expect is "valid"
	Expect      string        `json:"expect"`           // "valid" or an error code
	// For valid ones: the identity key of the test vault key, and the user
	// for whom the intent's wallet proof verifies under it ("" for nobody),
	// so a page can test its "from: your wallet" check.
	IdentityKey string `json:"identity_key,omitempty"`
	WalletOwner string `json:"wallet_owner,omitempty"`
	// For valid ones: the transaction the enclave signs for it.
	Transaction *Transaction `json:"transaction,omitempty"`
}

// IntentFields is a decoded intent: numbers in decimal, addresses in
// EIP-55 0x-hex, so that JavaScript reads them without losing precision.
type IntentFields struct {
	ChainID              string `json:"chain_id"`
	From                 string `json:"from"`
	To                   string `json:"to"`
	Token                string `json:"token"`
	Amount               string `json:"amount"`
	Nonce                string `json:"nonce"`
	GasLimit             string `json:"gas_limit"`
	MaxFeePerGas         string `json:"max_fee_per_gas"`
	MaxPriorityFeePerGas string `json:"max_priority_fee_per_gas"`
	Expiry               string `json:"expiry"`
	WalletProof          string `json:"wallet_proof"` // hex, 64 bytes
}

// Transaction is the unsigned transaction's to, value and data an intent
// stands for (docs/protocol.md, "Token transfers"): value in decimal,
// data as 0x-hex ("0x" for none).
type Transaction struct {
	To    string `json:"to"`
	Value string `json:"value"`
	Data  string `json:"data"`
}

// ApprovalVector is one file of testdata/approvals: an approval (initData
// and record) given to an enclave with the config written here, and what
// it answers.
type ApprovalVector struct {
	Description string `json:"description"`
	// The enclave's config: chains and tokens as in a config file
	// (version 2), and the Telegram key, bot and window.
	Chains            []ConfigChain `json:"chains"`
	BotID             string        `json:"bot_id"`
	TelegramPublicKey string        `json:"telegram_public_key"` // hex
	MaxAgeSeconds     int64         `json:"max_age_seconds"`
	ClockSkewSeconds  int64         `json:"clock_skew_seconds"`
	VaultKey          string        `json:"vault_key"` // hex
	Now               int64         `json:"now"`
	InitData          string        `json:"init_data"`
	Record            string        `json:"record"` // hex
	Expect            string        `json:"expect"` // "valid" or an error code
	// When valid: the signed transaction (0x-hex of the EIP-2718 envelope),
	// its hash and the to, value and data it carries.
	RawTx       string       `json:"raw_tx,omitempty"`
	TxHash      string       `json:"tx_hash,omitempty"`
	Transaction *Transaction `json:"transaction,omitempty"`
}

// ConfigChain is one entry of a version 2 config's "chains".
type ConfigChain struct {
	ChainID uint64   `json:"chain_id"`
	Tokens  []string `json:"tokens"`
}

// StatementVector is one file of testdata/statements: a receive
// start_param (kind 0x02) and what a page holding identity_key concludes.
type StatementVector struct {
	Description string `json:"description"`
	IdentityKey string `json:"identity_key"` // hex Ed25519 public key the page pins
	StartParam  string `json:"start_param"`
	// Owner, Address, Proof and Message: what the link says, when it decodes.
	Owner   string `json:"owner,omitempty"`   // decimal
	Address string `json:"address,omitempty"` // EIP-55
	Proof   string `json:"proof,omitempty"`   // hex
	Message string `json:"message,omitempty"` // hex of the 59-byte signed statement
	// Expect: "valid" (decodes and verifies), "malformed_intent" (refused by
	// the decoder) or "bad_wallet_proof" (decodes, does not verify).
	Expect string `json:"expect"`
}

// RecordVector is one file of testdata/records.
type RecordVector struct {
	Description string `json:"description"`
	VaultKey    string `json:"vault_key"` // hex
	Record      string `json:"record"`    // hex
	Owner       string `json:"owner"`     // decimal, as the record's header says
	Address     string `json:"address"`   // as the record's header says
	PrivateKey  string `json:"private_key,omitempty"`
	Expect      string `json:"expect"` // "valid", "malformed_record" or "record_tampered"
}

// InitDataVector is one file of testdata/initdata.
type InitDataVector struct {
	Description       string `json:"description"`
	TelegramSeed      string `json:"telegram_seed"`       // hex Ed25519 seed
	TelegramPublicKey string `json:"telegram_public_key"` // hex
	BotID             string `json:"bot_id"`              // decimal
	Now               int64  `json:"now"`                 // unix seconds
	MaxAgeSeconds     int64  `json:"max_age_seconds"`
	ClockSkewSeconds  int64  `json:"clock_skew_seconds"`
	InitData          string `json:"init_data"`
	Expect            string `json:"expect"`                // "valid" or an error code
	UserID            string `json:"user_id,omitempty"`     // when valid
	AuthDate          int64  `json:"auth_date,omitempty"`   // when valid
	StartParam        string `json:"start_param,omitempty"` // when valid
}

// Named is a vector and the file name it came from (without .json).
type Named[T any] struct {
	Name   string
	Vector T
}

// Load reads every *.json file of dir, strictly, in name order. It fails the
// test if the folder holds none, so a wrong path cannot pass silently.
func Load[T any](t testing.TB, dir string) []Named[T] {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no vectors in %s", dir)
	}
	slices.Sort(paths)
	out := make([]Named[T], 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, Named[T]{Name: strings.TrimSuffix(filepath.Base(p), ".json"), Vector: v})
	}
	return out
}
