package miniapp

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/internal/browser"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/protocol"
)

// intentVector is one file of testdata/intents (docs/protocol.md section 7).
type intentVector struct {
	Description string            `json:"description"`
	StartParam  string            `json:"start_param"`
	Intent      map[string]string `json:"intent"`
	Expect      string            `json:"expect"`
}

// loadIntentVectors reads every testdata/intents/*.json; none is a failure.
func loadIntentVectors(t *testing.T) map[string]intentVector {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/intents/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no vectors in testdata/intents")
	}
	out := make(map[string]intentVector)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v intentVector
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if v.Expect == "" {
			t.Fatalf("%s has no expect", p)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = v
	}
	return out
}

// codecPage opens the Mini App page without a launch: intent.js is loaded
// (the page only says it has no Telegram data).
func codecPage(t *testing.T) context.Context {
	t.Helper()
	srv := newServer(t, newFakeAPI())
	ctx := browser.New(t)
	browser.Navigate(t, ctx, srv.URL+"/miniapp/")
	browser.Wait(t, ctx, `window.AutowalletIntent !== undefined`)
	return ctx
}

type jsDecoded struct {
	Expect string            `json:"expect"`
	Fields map[string]string `json:"fields"`
	Reason string            `json:"reason"`
}

// decodeInJS runs intent.js's decoder over the start params.
func decodeInJS(t *testing.T, ctx context.Context, params map[string]string) map[string]jsDecoded {
	t.Helper()
	in, _ := json.Marshal(params)
	return browser.Eval[map[string]jsDecoded](t, ctx, `(() => {
		const params = `+string(in)+`, out = {};
		for (const [name, sp] of Object.entries(params)) {
			try {
				const it = AutowalletIntent.decodeStartParam(sp);
				out[name] = {expect: "valid", fields: AutowalletIntent.fields(it), reason: ""};
			} catch (e) {
				out[name] = {expect: e.code || "exception", fields: null, reason: String(e.message)};
			}
		}
		return out;
	})()`)
}

// The JavaScript decoder gives every vector its expected outcome and the same
// fields as the file; where the Go codec decodes, they agree too. A vector
// still in transfer version 1 must be refused: the page reads only version 2
// (with the wallet proof).
func TestIntentVectorsInJS(t *testing.T) {
	vectors := loadIntentVectors(t)
	ctx := codecPage(t)
	params := make(map[string]string)
	for name, v := range vectors {
		params[name] = v.StartParam
	}
	got := decodeInJS(t, ctx, params)
	valid := 0
	for name, v := range vectors {
		g := got[name]
		if b, err := base64.RawURLEncoding.Strict().DecodeString(v.StartParam); err == nil && len(b) >= 2 && b[0] == 0x01 && b[1] == 0x01 {
			if g.Expect != "malformed_intent" {
				t.Errorf("%s (%s) is a version 1 intent: JS says %q, want malformed_intent", name, v.Description, g.Expect)
			}
			continue
		}
		if g.Expect != v.Expect {
			t.Errorf("%s (%s): JS says %q (%s), want %q", name, v.Description, g.Expect, g.Reason, v.Expect)
			continue
		}
		if v.Expect != "valid" {
			continue
		}
		valid++
		for k, want := range v.Intent {
			if k == "wallet_proof" && sameBytes(g.Fields[k], want) {
				continue
			}
			if g.Fields[k] != want {
				t.Errorf("%s: %s = %q, want %q", name, k, g.Fields[k], want)
			}
		}
	}
	if valid == 0 {
		t.Error("no valid vector was checked")
	}
	t.Logf("%d vectors, %d valid", len(vectors), valid)
}

// sameBytes reports whether the JS hex equals want in hex or standard base64.
func sameBytes(jsHex, want string) bool {
	b, err := hex.DecodeString(jsHex)
	if err != nil {
		return false
	}
	return hex.EncodeToString(b) == strings.ToLower(want) || base64.StdEncoding.EncodeToString(b) == want
}

// Random intents and mutations of them: the JavaScript decoder accepts
// exactly what the Go codec accepts, with the same fields.
func TestIntentDecoderAgreesWithGo(t *testing.T) {
	ctx := codecPage(t)
	r := rand.New(rand.NewPCG(1, 2))
	params := make(map[string]string)
	randBig := func() *big.Int {
		switch r.IntN(4) {
		case 0:
			return new(big.Int)
		case 1:
			return new(big.Int).Lsh(big.NewInt(1), uint(r.IntN(256)))
		}
		b := make([]byte, r.IntN(33))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return new(big.Int).SetBytes(b)
	}
	randAddr := func() (a common.Address) {
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		return a
	}
	for i := range 200 {
		maxFee := randBig()
		prio := new(big.Int)
		if maxFee.Sign() > 0 {
			prio = randBelow(r, new(big.Int).Add(maxFee, big.NewInt(1)))
		}
		in := &protocol.Intent{ChainID: r.Uint64()>>uint(r.IntN(64)) | 1, From: randAddr(), To: randAddr(), Amount: randBig(),
			Nonce: r.Uint64() >> uint(r.IntN(64)), GasLimit: r.Uint64()>>uint(r.IntN(64)) | 1, MaxFeePerGas: maxFee,
			MaxPriorityFeePerGas: prio, Expiry: r.Uint64()>>uint(r.IntN(64)) | 1, WalletProof: make([]byte, protocol.WalletProofSize)}
		for j := range in.WalletProof {
			in.WalletProof[j] = byte(r.Uint32())
		}
		if i%3 == 0 {
			in.Token = randAddr()
		}
		proof := make([]byte, 64)
		for j := range proof {
			proof[j] = byte(r.Uint32())
		}
		b := encodeIntentV2(in, proof)
		params[key(i, "ok")] = base64.RawURLEncoding.EncodeToString(b)
		// Mutations: a flipped byte, a dropped byte, an extra byte, a changed character.
		m := slices.Clone(b)
		m[r.IntN(len(m))] ^= byte(1 + r.IntN(255))
		params[key(i, "flip")] = base64.RawURLEncoding.EncodeToString(m)
		at := r.IntN(len(b))
		d := slices.Delete(slices.Clone(b), at, at+1)
		params[key(i, "drop")] = base64.RawURLEncoding.EncodeToString(d)
		params[key(i, "add")] = base64.RawURLEncoding.EncodeToString(append(slices.Clone(b), byte(r.Uint32())))
		s := []byte(params[key(i, "ok")])
		const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. \n"
		s[r.IntN(len(s))] = chars[r.IntN(len(chars))]
		params[key(i, "char")] = string(s)
	}
	got := decodeInJS(t, ctx, params)
	accepted := 0
	for name, sp := range params {
		in, proof, err := goDecodeTransfer(sp)
		g := got[name]
		if err != nil {
			if g.Expect != "malformed_intent" {
				t.Errorf("%s: Go refuses (%v), JS says %q", name, err, g.Expect)
			}
			continue
		}
		if g.Expect != "valid" {
			t.Errorf("%s: Go accepts, JS refuses: %s", name, g.Reason)
			continue
		}
		accepted++
		want := map[string]string{
			"wallet_proof": hex.EncodeToString(proof),
			"chain_id":     new(big.Int).SetUint64(in.ChainID).String(), "from": in.From.Hex(), "to": in.To.Hex(), "token": in.Token.Hex(),
			"amount": in.Amount.String(), "nonce": new(big.Int).SetUint64(in.Nonce).String(), "gas_limit": new(big.Int).SetUint64(in.GasLimit).String(),
			"max_fee_per_gas": in.MaxFeePerGas.String(), "max_priority_fee_per_gas": in.MaxPriorityFeePerGas.String(),
			"expiry": new(big.Int).SetUint64(in.Expiry).String(),
		}
		for k, w := range want {
			if g.Fields[k] != w {
				t.Errorf("%s: %s = %q, want %q", name, k, g.Fields[k], w)
			}
		}
	}
	if accepted < 200 {
		t.Errorf("only %d intents accepted by Go", accepted)
	}
}

// goDecodeTransfer decodes a version 2 transfer start_param with the Go
// codec and returns the intent and its wallet proof.
func goDecodeTransfer(sp string) (*protocol.Intent, []byte, error) {
	in, err := protocol.DecodeStartParam(sp)
	if err != nil {
		return nil, nil, err
	}
	return in, in.WalletProof, nil
}

var startParamText = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// randBelow returns a number in [0, n), n > 0.
func randBelow(r *rand.Rand, n *big.Int) *big.Int {
	b := make([]byte, 48)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return new(big.Int).Mod(new(big.Int).SetBytes(b), n)
}

func key(i int, kind string) string { return fmt.Sprintf("%03d-%s", i, kind) }

// keccak-256 in JavaScript matches known digests and go-ethereum's on inputs
// around every block boundary; EIP-55 matches the EIP's examples and
// go-ethereum's; decimal formatting is exact.
func TestKeccakAndChecksumInJS(t *testing.T) {
	ctx := codecPage(t)
	known := map[string]string{
		"":    "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
		"abc": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
		"The quick brown fox jumps over the lazy dog": "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15",
	}
	for in, want := range known {
		got := browser.Eval[string](t, ctx, `AutowalletIntent.toHex(AutowalletIntent.keccak256(AutowalletIntent.utf8(`+mustJSON(in)+`)))`)
		if got != want {
			t.Errorf("keccak256(%q) = %s, want %s", in, got, want)
		}
	}

	r := rand.New(rand.NewPCG(3, 4))
	var inputs []string
	var wants []string
	for n := 0; n <= 3*136+2; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		inputs = append(inputs, hex.EncodeToString(b))
		wants = append(wants, hex.EncodeToString(crypto.Keccak256(b)))
	}
	got := browser.Eval[[]string](t, ctx, `(`+mustJSON(inputs)+`).map(h => {
		const b = new Uint8Array(h.length / 2);
		for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
		return AutowalletIntent.toHex(AutowalletIntent.keccak256(b));
	})`)
	for i := range wants {
		if got[i] != wants[i] {
			t.Errorf("keccak256 of %d bytes = %s, want %s", len(inputs[i])/2, got[i], wants[i])
		}
	}

	// EIP-55's own examples, then random addresses against go-ethereum.
	addrs := []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
	}
	for range 100 {
		var a common.Address
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		addrs = append(addrs, a.Hex())
	}
	gotAddrs := browser.Eval[[]string](t, ctx, `(`+mustJSON(addrs)+`).map(a => AutowalletIntent.toChecksumAddress(a.toLowerCase()))`)
	for i, want := range addrs {
		if gotAddrs[i] != want {
			t.Errorf("EIP-55 of %s = %s", want, gotAddrs[i])
		}
	}

	// Exact decimals: wei to ETH and gwei, compared with big.Rat.
	weis := []string{"0", "1", "999999999999999999", "1000000000000000000", "50000000000000000", "115792089237316195423570985008687907853269984665640564039457584007913129639935"}
	for range 50 {
		weis = append(weis, randBelow(r, new(big.Int).Lsh(big.NewInt(1), uint(1+r.IntN(256)))).String())
	}
	gotEth := browser.Eval[[]string](t, ctx, `(`+mustJSON(weis)+`).map(w => AutowalletIntent.formatEther(BigInt(w)) + " " + AutowalletIntent.formatUnits(BigInt(w), 9))`)
	for i, w := range weis {
		v, _ := new(big.Int).SetString(w, 10)
		gwei := strings.TrimSuffix(strings.TrimRight(new(big.Rat).SetFrac(v, big.NewInt(1e9)).FloatString(9), "0"), ".")
		if want := formatEther(v) + " " + gwei; gotEth[i] != want {
			t.Errorf("format %s = %q, want %q", w, gotEth[i], want)
		}
	}
	if got := browser.Eval[string](t, ctx, `AutowalletIntent.formatEther(1000000000000000000n)`); got != "1" {
		t.Errorf("1 ETH is written %q", got)
	}

	// The rounding rule (formatAmount) agrees with Go's networks.FormatAmount,
	// the bot's, on edge values and random ones, for every mode and common
	// decimals.
	type fmtCase struct {
		V    string `json:"v"`
		Dec  int    `json:"dec"`
		Mode string `json:"mode"`
	}
	modes := map[string]networks.Rounding{"exact": networks.Exact, "up": networks.Up, "down": networks.Down}
	var fcs []fmtCase
	for _, w := range weis {
		for _, dec := range []int{0, 2, 6, 8, 18, 36} {
			for m := range modes {
				fcs = append(fcs, fmtCase{w, dec, m})
			}
		}
	}
	gotFmt := browser.Eval[[]string](t, ctx, `(`+mustJSON(fcs)+`).map(c => AutowalletIntent.formatAmount(BigInt(c.v), c.dec, c.mode))`)
	for i, c := range fcs {
		v, _ := new(big.Int).SetString(c.V, 10)
		if want := networks.FormatAmount(v, uint8(c.Dec), modes[c.Mode]); gotFmt[i] != want {
			t.Errorf("formatAmount(%s, %d, %s) = %q, Go says %q", c.V, c.Dec, c.Mode, gotFmt[i], want)
		}
	}
}
