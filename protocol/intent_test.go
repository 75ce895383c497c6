package protocol

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func validIntent() *Intent {
	return &Intent{
		ChainID: 11155111, From: common.HexToAddress("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"),
		To: common.HexToAddress("0x1111111111111111111111111111111111111111"), Amount: big.NewInt(5e16),
		Nonce: 3, GasLimit: 21000, MaxFeePerGas: big.NewInt(3e10), MaxPriorityFeePerGas: big.NewInt(15e8), Expiry: 1767226200,
		WalletProof: bytes.Repeat([]byte{0x5a}, WalletProofSize),
	}
}

// TestIntentRoundTrip encodes random valid intents and checks that each
// decodes to the same fields and that the text is within Telegram's limits.
func TestIntentRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randBig := func(bits int) *big.Int {
		b := make([]byte, bits/8)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return new(big.Int).Rsh(new(big.Int).SetBytes(b), uint(rng.IntN(bits)))
	}
	randAddr := func() (a common.Address) {
		for i := range a {
			a[i] = byte(rng.Uint32())
		}
		return a
	}
	for range 2000 {
		in := &Intent{
			ChainID: rng.Uint64()>>rng.IntN(63) | 1, From: randAddr(), To: randAddr(),
			Amount: randBig(256), Nonce: rng.Uint64() >> rng.IntN(64), GasLimit: rng.Uint64()>>rng.IntN(63) | 1,
			MaxFeePerGas: randBig(256), Expiry: rng.Uint64()>>rng.IntN(63) | 1,
			WalletProof: make([]byte, WalletProofSize),
		}
		for i := range in.WalletProof {
			in.WalletProof[i] = byte(rng.Uint32())
		}
		if rng.IntN(2) == 0 {
			in.Token = randAddr()
		}
		in.MaxPriorityFeePerGas = new(big.Int).Rsh(in.MaxFeePerGas, uint(rng.IntN(257)))
		text, err := in.EncodeStartParam()
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if len(text) > MaxStartParam || strings.Trim(text, base64URLChars) != "" {
			t.Fatalf("%q is not a valid start_param", text)
		}
		out, err := DecodeStartParam(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if *fieldsOf(out) != *fieldsOf(in) {
			t.Fatalf("round trip changed %+v into %+v", in, out)
		}
		if l := len(text); l > 348 {
			t.Fatalf("%d characters: a v2 intent is at most 348", l)
		}
	}
}

const base64URLChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestIntentValidate refuses, one rule at a time, every intent that could
// not be signed as given; MarshalBinary refuses them too, so no invalid
// intent ever gets a text form.
func TestIntentValidate(t *testing.T) {
	cases := map[string]func(in *Intent){
		"zero chain id":        func(in *Intent) { in.ChainID = 0 },
		"no amount":            func(in *Intent) { in.Amount = nil },
		"no max fee":           func(in *Intent) { in.MaxFeePerGas = nil },
		"no priority fee":      func(in *Intent) { in.MaxPriorityFeePerGas = nil },
		"negative amount":      func(in *Intent) { in.Amount = big.NewInt(-1) },
		"negative max fee":     func(in *Intent) { in.MaxFeePerGas = big.NewInt(-1); in.MaxPriorityFeePerGas = big.NewInt(-2) },
		"amount over 256 bits": func(in *Intent) { in.Amount = new(big.Int).Lsh(big.NewInt(1), 256) },
		"zero recipient":       func(in *Intent) { in.To = common.Address{} },
		"zero sender":          func(in *Intent) { in.From = common.Address{} },
		"zero gas":             func(in *Intent) { in.GasLimit = 0 },
		"priority above max":   func(in *Intent) { in.MaxPriorityFeePerGas = new(big.Int).Add(in.MaxFeePerGas, big.NewInt(1)) },
		"zero expiry":          func(in *Intent) { in.Expiry = 0 },
		"no wallet proof":      func(in *Intent) { in.WalletProof = nil },
		"short wallet proof":   func(in *Intent) { in.WalletProof = in.WalletProof[:63] },
		"long wallet proof":    func(in *Intent) { in.WalletProof = append(in.WalletProof, 0) },
	}
	if err := validIntent().Validate(); err != nil {
		t.Fatalf("the valid intent: %v", err)
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			in := validIntent()
			breakIt(in)
			wantCode(t, in.Validate(), CodeMalformedIntent)
			_, err := in.EncodeStartParam()
			wantCode(t, err, CodeMalformedIntent)
		})
	}
}

func TestIntentMaxCostAndNative(t *testing.T) {
	in := validIntent()
	fee := new(big.Int).Mul(big.NewInt(21000), big.NewInt(3e10))
	want := new(big.Int).Add(big.NewInt(5e16), fee)
	if in.MaxCost().Cmp(want) != 0 || in.MaxFee().Cmp(fee) != 0 {
		t.Fatalf("MaxCost = %s, MaxFee = %s, want %s and %s", in.MaxCost(), in.MaxFee(), want, fee)
	}
	if !in.IsNative() {
		t.Fatal("a zero token is the native coin")
	}
	in.Token = common.HexToAddress("0x2222222222222222222222222222222222222222")
	if in.IsNative() {
		t.Fatal("a token address is not the native coin")
	}
	// A token's amount is not native coin: the most native coin it can
	// take is the fee.
	if in.MaxCost().Cmp(fee) != 0 || in.MaxFee().Cmp(fee) != 0 {
		t.Fatalf("token: MaxCost = %s, MaxFee = %s, want both %s", in.MaxCost(), in.MaxFee(), fee)
	}
}

// TestUnmarshalBinaryShortInputs covers the inputs too short to reach the
// text decoder's vectors: nothing, one byte, and kind+version alone.
func TestUnmarshalBinaryShortInputs(t *testing.T) {
	for _, b := range [][]byte{nil, {KindTransfer}, {KindTransfer, TransferV2}} {
		var in Intent
		wantCode(t, in.UnmarshalBinary(b), CodeMalformedIntent)
		if in.Amount != nil {
			t.Fatal("a failed decode changed the intent")
		}
	}
}

// TestIntentV1Refused: a v1 intent (no wallet proof), even one that is
// otherwise well formed, is malformed_intent; so is a v2 intent whose
// proof is cut or extended by a byte.
func TestIntentV1Refused(t *testing.T) {
	b, err := validIntent().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if b[1] != TransferV2 || len(b) < TransferV2MinLen || len(b) > TransferV2MaxLen {
		t.Fatalf("encoded version %d, %d bytes", b[1], len(b))
	}
	v1 := bytes.Clone(b[:len(b)-WalletProofSize])
	v1[1] = TransferV1
	for name, raw := range map[string][]byte{
		"v1 layout":          v1,
		"v2 without proof":   b[:len(b)-WalletProofSize],
		"v2 proof short":     b[:len(b)-1],
		"v2 proof long":      append(bytes.Clone(b), 0),
		"v1 byte, v2 layout": append([]byte{KindTransfer, TransferV1}, b[2:]...),
	} {
		var in Intent
		err := in.UnmarshalBinary(raw)
		wantCode(t, err, CodeMalformedIntent)
		if in.Amount != nil {
			t.Fatalf("%s: a failed decode changed the intent", name)
		}
	}
	var in Intent
	if err := in.UnmarshalBinary(b); err != nil || !bytes.Equal(in.WalletProof, validIntent().WalletProof) {
		t.Fatalf("decoded proof %x, %v", in.WalletProof, err)
	}
}
