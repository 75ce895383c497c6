package enclave

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// TestApproveTokenTransfer: an allowed token is signed as value 0 to the
// token contract with data that is exactly the 68 bytes of transfer(to,
// amount) built from the intent: the selector, the recipient padded to 32
// bytes, the amount as a 32-byte word. Nothing else reaches the data: no
// request field carries calldata.
func TestApproveTokenTransfer(t *testing.T) {
	f := newFixture(t)
	a, w := f.validApproval()
	in := f.intent(w.Address)
	in.Token, in.GasLimit = testToken, 65000
	in.Amount, _ = new(big.Int).SetString("1234567890123456789", 10)
	a.startParam = f.startParam(in)
	signed, err := f.approve(a)
	if err != nil {
		t.Fatal(err)
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(signed.RawTx); err != nil {
		t.Fatal(err)
	}
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx)
	if err != nil || from != w.Address {
		t.Fatalf("sender %s, %v", from.Hex(), err)
	}
	want := "a9059cbb" + "000000000000000000000000" + "1111111111111111111111111111111111111111" +
		"000000000000000000000000000000000000000000000000112210f47de98115"
	if got := hex.EncodeToString(tx.Data()); got != want || len(tx.Data()) != 68 {
		t.Fatalf("data %s (%d bytes), want %s", got, len(tx.Data()), want)
	}
	if tx.To() == nil || *tx.To() != testToken || tx.Value().Sign() != 0 || tx.Gas() != 65000 ||
		tx.ChainId().Uint64() != testvectors.ChainID || tx.Nonce() != in.Nonce || len(tx.AccessList()) != 0 {
		t.Fatalf("to %v value %s gas %d chain %s nonce %d", tx.To(), tx.Value(), tx.Gas(), tx.ChainId(), tx.Nonce())
	}
	// The same token on its own chain's config entry only: on 1337 the
	// listed contract is otherChainToken, and it signs there.
	in.ChainID, in.Token = testvectors.DevChainID, otherChainToken
	a.startParam = f.startParam(in)
	if signed, err = f.approve(a); err != nil {
		t.Fatal(err)
	}
	if err := tx.UnmarshalBinary(signed.RawTx); err != nil || *tx.To() != otherChainToken || tx.ChainId().Uint64() != testvectors.DevChainID {
		t.Fatalf("dev chain token: %v, to %v", err, tx.To())
	}
}

// TestApproveTokenNeedsItsChain: a config that allows no token (version
// 1's meaning) refuses every token, and the native coin still signs.
func TestApproveTokenNeedsItsChain(t *testing.T) {
	f := newFixture(t)
	cfg := testConfig()
	cfg.AllowedTokens = nil
	f.signer = f.newSigner(cfg, testvectors.VaultKey())
	a, w := f.validApproval()
	if _, err := f.approve(a); err != nil {
		t.Fatalf("native: %v", err)
	}
	for _, tok := range []common.Address{testToken, otherChainToken} {
		in := f.intent(w.Address)
		in.Token = tok
		a.startParam = f.startParam(in)
		_, err := f.approve(a)
		wantRefusal(t, err, protocol.ErrTokenNotAllowed)
	}
}

// TestApprovalVectors runs testdata/approvals through an enclave whose
// config is the vector's: valid ones sign exactly the vector's raw
// transaction, others are refused with the vector's code.
func TestApprovalVectors(t *testing.T) {
	for _, v := range testvectors.Load[testvectors.ApprovalVector](t, vectorsDir+"/approvals") {
		t.Run(v.Name, func(t *testing.T) {
			vec := v.Vector
			botID, err := strconv.ParseInt(vec.BotID, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			cfg := &Config{BotID: botID, TelegramPublicKey: ed25519.PublicKey(mustHex(t, vec.TelegramPublicKey)),
				MaxAuthAge: time.Duration(vec.MaxAgeSeconds) * time.Second, ClockSkew: time.Duration(vec.ClockSkewSeconds) * time.Second,
				KMS: testKMSConfig()}
			for _, ch := range vec.Chains {
				cfg.AllowedChainIDs = append(cfg.AllowedChainIDs, ch.ChainID)
				for _, s := range ch.Tokens {
					a, err := parseTokenAddress(s)
					if err != nil {
						t.Fatal(err)
					}
					if cfg.AllowedTokens == nil {
						cfg.AllowedTokens = map[uint64][]common.Address{}
					}
					cfg.AllowedTokens[ch.ChainID] = append(cfg.AllowedTokens[ch.ChainID], a)
				}
			}
			s, err := NewSigner(cfg, Options{Entropy: bytes.NewReader(nil), Now: func() time.Time { return time.Unix(vec.Now, 0) }})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Unlock(mustHex(t, vec.VaultKey)); err != nil {
				t.Fatal(err)
			}
			signed, err := s.Approve(vec.InitData, mustHex(t, vec.Record))
			if vec.Expect != "valid" {
				wantRefusal(t, err, reasonOf(t, protocol.Code(vec.Expect)))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hexutil.Encode(signed.RawTx) != vec.RawTx || signed.Hash.Hex() != vec.TxHash {
				t.Fatalf("signed %x (%s), the vector says %s (%s)", signed.RawTx, signed.Hash.Hex(), vec.RawTx, vec.TxHash)
			}
			in := signed.Intent
			if tx := vec.Transaction; in.TxTo().Hex() != tx.To || in.TxValue().String() != tx.Value || hexutil.Encode(in.TxData()) != tx.Data {
				t.Fatalf("intent's transaction %s %s %x, the vector says %+v", in.TxTo().Hex(), in.TxValue(), in.TxData(), tx)
			}
		})
	}
}

// v2JSON is a valid version 2 config file with chains set to the given
// JSON (and the other fields of configJSON).
func v2JSON(chains string) string {
	return configJSON(map[string]string{"version": `2`, "allowed_chain_ids": "", "chains": chains})
}

func TestParseConfigV2(t *testing.T) {
	c, err := ParseConfig([]byte(v2JSON(`[{"chain_id": 11155111, "tokens": ["` + testvectors.TokenHex + `"]}, {"chain_id": 1}, {"chain_id": 1337, "tokens": []}]`)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.AllowedChainIDs, []uint64{11155111, 1, 1337}) ||
		!reflect.DeepEqual(c.AllowedTokens, map[uint64][]common.Address{11155111: {testToken}}) {
		t.Fatalf("chains %v tokens %v", c.AllowedChainIDs, c.AllowedTokens)
	}
	// Version 1 stays readable: its chains, the native coin only.
	v1, err := ParseConfig([]byte(configJSON(nil)))
	if err != nil || v1.AllowedTokens != nil || !reflect.DeepEqual(v1.AllowedChainIDs, []uint64{11155111, 1}) {
		t.Fatalf("version 1: %+v, %v", v1, err)
	}
	// What EncodeConfig writes is version 2 and reads back the same.
	again, err := ParseConfig(EncodeConfig(c))
	if err != nil || !reflect.DeepEqual(again, c) || !bytes.Contains(EncodeConfig(c), []byte(`"version":2`)) {
		t.Fatalf("round trip: %+v, %v", again, err)
	}
}

func TestParseConfigV2Refusals(t *testing.T) {
	tok := testvectors.TokenHex
	cases := map[string]string{
		"lowercase token":             v2JSON(`[{"chain_id": 1, "tokens": ["` + strings.ToLower(tok) + `"]}]`),
		"uppercase token":             v2JSON(`[{"chain_id": 1, "tokens": ["0x` + strings.ToUpper(tok[2:]) + `"]}]`),
		"checksum of a typo":          v2JSON(`[{"chain_id": 1, "tokens": ["` + strings.Replace(tok, "1c7D", "1c7E", 1) + `"]}]`),
		"no 0x":                       v2JSON(`[{"chain_id": 1, "tokens": ["` + tok[2:] + `"]}]`),
		"0X":                          v2JSON(`[{"chain_id": 1, "tokens": ["0X` + tok[2:] + `"]}]`),
		"short address":               v2JSON(`[{"chain_id": 1, "tokens": ["` + tok[:40] + `"]}]`),
		"not hex":                     v2JSON(`[{"chain_id": 1, "tokens": ["0x` + strings.Repeat("g", 40) + `"]}]`),
		"zero address":                v2JSON(`[{"chain_id": 1, "tokens": ["0x0000000000000000000000000000000000000000"]}]`),
		"token twice":                 v2JSON(`[{"chain_id": 1, "tokens": ["` + tok + `", "` + tok + `"]}]`),
		"chain twice":                 v2JSON(`[{"chain_id": 1}, {"chain_id": 1, "tokens": ["` + tok + `"]}]`),
		"chain zero with a token":     v2JSON(`[{"chain_id": 0, "tokens": ["` + tok + `"]}]`),
		"no chains":                   v2JSON(`[]`),
		"chains missing":              v2JSON(""),
		"null tokens":                 v2JSON(`[{"chain_id": 1, "tokens": null}]`),
		"token not a string":          v2JSON(`[{"chain_id": 1, "tokens": [1]}]`),
		"unknown chain field":         v2JSON(`[{"chain_id": 1, "symbol": "ETH"}]`),
		"allowed_chain_ids in v2":     configJSON(map[string]string{"version": `2`, "chains": `[{"chain_id": 1}]`}),
		"chains in v1":                configJSON(map[string]string{"chains": `[{"chain_id": 1}]`}),
		"chain_id twice in one entry": v2JSON(`[{"chain_id": 1, "chain_id": 2}]`),
	}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := ParseConfig([]byte(file))
			if !errors.Is(err, ErrBadConfig) || c != nil {
				t.Fatalf("want ErrBadConfig, got %+v, %v", c, err)
			}
		})
	}
}

// TestConfigValidateTokens: a config built in code meets the same token
// rules as a parsed one.
func TestConfigValidateTokens(t *testing.T) {
	for name, tokens := range map[string]map[uint64][]common.Address{
		"chain not allowed": {1: {testToken}},
		"zero address":      {testvectors.ChainID: {{}}},
		"duplicate":         {testvectors.ChainID: {testToken, otherChainToken, testToken}},
	} {
		c := testConfig()
		c.AllowedTokens = tokens
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := testConfig()
	c.AllowedChainIDs = append(c.AllowedChainIDs, testvectors.ChainID)
	if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
		t.Errorf("chain listed twice: %v", err)
	}
}

// TestEncodeConfigCoversTokens: the config digest bound in attestations
// changes with every change to the token list: another token, one less,
// the same token moved to another chain, another order.
func TestEncodeConfigCoversTokens(t *testing.T) {
	base := ConfigDigest(EncodeConfig(testConfig()))
	changes := map[string]func(c *Config){
		"token added": func(c *Config) {
			c.AllowedTokens[testvectors.ChainID] = append(c.AllowedTokens[testvectors.ChainID], common.HexToAddress("0x2222222222222222222222222222222222222222"))
		},
		"token removed": func(c *Config) { delete(c.AllowedTokens, testvectors.ChainID) },
		"token moved": func(c *Config) {
			c.AllowedTokens[testvectors.ChainID], c.AllowedTokens[testvectors.DevChainID] = nil, []common.Address{otherChainToken, testToken}
		},
		"order": func(c *Config) { c.AllowedTokens[testvectors.ChainID] = []common.Address{otherChainToken, testToken} },
	}
	for name, change := range changes {
		c := testConfig()
		change(c)
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Equal(ConfigDigest(EncodeConfig(c)), base) {
			t.Errorf("%s: the digest did not change", name)
		}
	}
}
