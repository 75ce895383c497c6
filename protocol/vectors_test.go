package protocol

import (
	"crypto/ed25519"
	"encoding/hex"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/autowallet/autowallet/internal/testvectors"
)

// TestIntentVectors decodes every testdata/intents vector and, for the valid
// ones, checks each field and that encoding the fields gives back the text.
func TestIntentVectors(t *testing.T) {
	for _, v := range testvectors.Load[testvectors.IntentVector](t, vectorsDir+"/intents") {
		t.Run(v.Name, func(t *testing.T) {
			in, err := DecodeStartParam(v.Vector.StartParam)
			wantCode(t, err, Code(v.Vector.Expect))
			if v.Vector.Expect != "valid" {
				return
			}
			want := intentFromFields(t, v.Vector.Intent)
			if got := fieldsOf(in); *got != *fieldsOf(want) {
				t.Fatalf("decoded %+v, the vector says %+v", got, v.Vector.Intent)
			}
			text, err := want.EncodeStartParam()
			if err != nil || text != v.Vector.StartParam {
				t.Fatalf("encoding the vector's fields gave %q, %v", text, err)
			}
			// The transaction it stands for (token.go): to, value, data.
			tx := v.Vector.Transaction
			if tx == nil || in.TxTo().Hex() != tx.To || in.TxValue().String() != tx.Value || hexutil.Encode(in.TxData()) != tx.Data {
				t.Fatalf("transaction to %s value %s data %x, the vector says %+v", in.TxTo().Hex(), in.TxValue(), in.TxData(), tx)
			}
		})
	}
}

// intentFromFields parses a vector's decimal and hex fields.
func intentFromFields(t *testing.T, f *testvectors.IntentFields) *Intent {
	t.Helper()
	u64 := func(s string) uint64 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	u256 := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok {
			t.Fatalf("bad number %q", s)
		}
		return v
	}
	addr := func(s string) common.Address {
		if !common.IsHexAddress(s) {
			t.Fatalf("bad address %q", s)
		}
		return common.HexToAddress(s)
	}
	return &Intent{
		ChainID: u64(f.ChainID), From: addr(f.From), To: addr(f.To), Token: addr(f.Token),
		Amount: u256(f.Amount), Nonce: u64(f.Nonce), GasLimit: u64(f.GasLimit),
		MaxFeePerGas: u256(f.MaxFeePerGas), MaxPriorityFeePerGas: u256(f.MaxPriorityFeePerGas), Expiry: u64(f.Expiry),
		WalletProof: mustHexT(t, f.WalletProof),
	}
}

func mustHexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q", s)
	}
	return b
}

// fieldsOf writes an intent as a vector does, for comparison.
func fieldsOf(in *Intent) *testvectors.IntentFields {
	return &testvectors.IntentFields{
		ChainID: strconv.FormatUint(in.ChainID, 10), From: in.From.Hex(), To: in.To.Hex(), Token: in.Token.Hex(),
		Amount: in.Amount.String(), Nonce: strconv.FormatUint(in.Nonce, 10), GasLimit: strconv.FormatUint(in.GasLimit, 10),
		MaxFeePerGas: in.MaxFeePerGas.String(), MaxPriorityFeePerGas: in.MaxPriorityFeePerGas.String(),
		Expiry: strconv.FormatUint(in.Expiry, 10), WalletProof: hex.EncodeToString(in.WalletProof),
	}
}

// TestInitDataVectors verifies every testdata/initdata vector with the key,
// bot, window and now written in the file itself.
func TestInitDataVectors(t *testing.T) {
	for _, v := range testvectors.Load[testvectors.InitDataVector](t, vectorsDir+"/initdata") {
		t.Run(v.Name, func(t *testing.T) {
			vec := v.Vector
			seed, err := hex.DecodeString(vec.TelegramSeed)
			if err != nil || len(seed) != ed25519.SeedSize {
				t.Fatalf("bad seed %q", vec.TelegramSeed)
			}
			pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
			if hex.EncodeToString(pub) != vec.TelegramPublicKey {
				t.Fatal("telegram_public_key is not the seed's public key")
			}
			botID, err := strconv.ParseInt(vec.BotID, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			cfg := VerifyConfig{
				BotID: botID, PublicKey: pub,
				MaxAge:    time.Duration(vec.MaxAgeSeconds) * time.Second,
				ClockSkew: time.Duration(vec.ClockSkewSeconds) * time.Second,
			}
			d, err := VerifyInitData(vec.InitData, cfg, time.Unix(vec.Now, 0))
			wantCode(t, err, Code(vec.Expect))
			if vec.Expect != "valid" {
				return
			}
			if strconv.FormatInt(d.UserID, 10) != vec.UserID || d.AuthDate.Unix() != vec.AuthDate || d.StartParam != vec.StartParam || d.SignedBy != "ed25519" {
				t.Fatalf("read %+v, the vector says user %s, auth_date %d, start_param %q", d, vec.UserID, vec.AuthDate, vec.StartParam)
			}
		})
	}
}
