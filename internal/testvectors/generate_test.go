package testvectors

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/protocol"
)

var update = flag.Bool("update", false, "rewrite the vectors and fuzz seeds instead of checking them")

// repoRoot is where the generated files go, relative to this package.
const repoRoot = "../.."

// Folders whose every *.json file the generator owns: a stale vector is an error.
var vectorDirs = []string{"testdata/intents", "testdata/records", "testdata/initdata", "testdata/statements", "testdata/approvals"}

// TestVectorsAreUpToDate regenerates every vector and fuzz seed in memory and
// compares it with the committed file, so the committed data is reproducible;
// with -update it writes them instead.
func TestVectorsAreUpToDate(t *testing.T) {
	files := generate(t)
	if *update {
		for _, dir := range vectorDirs {
			old, _ := filepath.Glob(filepath.Join(repoRoot, dir, "*.json"))
			for _, p := range old {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}
		for name, content := range files {
			p := filepath.Join(repoRoot, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d files", len(files))
		return
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Errorf("%s: %v (run go test ./internal/testvectors -update)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator makes (run go test ./internal/testvectors -update)", name)
		}
	}
	for _, dir := range vectorDirs {
		paths, _ := filepath.Glob(filepath.Join(repoRoot, dir, "*.json"))
		for _, p := range paths {
			rel, _ := filepath.Rel(repoRoot, p)
			if _, ok := files[filepath.ToSlash(rel)]; !ok {
				t.Errorf("%s is not made by the generator", rel)
			}
		}
	}
}

// generate returns every generated file by its path from the repository root.
func generate(t *testing.T) map[string][]byte {
	files := make(map[string][]byte)
	g := &generator{t: t, files: files}
	g.intents()
	g.statements()
	g.records()
	g.initData()
	g.approvals()
	return files
}

type generator struct {
	t     *testing.T
	files map[string][]byte
	// Collected for the fuzz seed corpora.
	startParams []string
	sealed      [][]byte
	signed      []string
}

func (g *generator) writeJSON(dir, name string, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep '&' in initData readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		g.t.Fatal(err)
	}
	g.files[dir+"/"+name+".json"] = b.Bytes()
}

// writeSeed writes one file in Go's fuzz corpus format.
func (g *generator) writeSeed(pkg, target, name, typ string, value []byte) {
	g.files[fmt.Sprintf("%s/testdata/fuzz/%s/vec-%s", pkg, target, name)] =
		fmt.Appendf(nil, "go test fuzz v1\n%s(%s)\n", typ, strconv.Quote(string(value)))
}

// walletAddress is the address of WalletKey.
func walletAddress() common.Address {
	k, err := crypto.ToECDSA(WalletKey())
	if err != nil {
		panic(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

// baseIntent is the valid transfer the other vectors start from: 0.05 ETH
// from the test wallet (with its wallet proof for Owner under the test vault
// key's identity), ten minutes before it expires.
func baseIntent() *protocol.Intent {
	return &protocol.Intent{
		ChainID:              ChainID,
		From:                 walletAddress(),
		To:                   common.HexToAddress("0x1111111111111111111111111111111111111111"),
		Amount:               big.NewInt(50_000_000_000_000_000),
		Nonce:                3,
		GasLimit:             21000,
		MaxFeePerGas:         big.NewInt(30_000_000_000),
		MaxPriorityFeePerGas: big.NewInt(1_500_000_000),
		Expiry:               uint64(Now + 600),
		WalletProof:          WalletProof(VaultKey(), Owner, walletAddress()),
	}
}

// rawIntent lays out a v2 intent with each number given as its raw bytes,
// so vectors can break the encoding in exactly one place.
type rawIntent struct {
	kind, version                                byte
	chain                                        []byte
	from, to, token                              common.Address
	amount, nonce, gas, maxFee, priority, expiry []byte
	proof                                        []byte
}

func rawOf(in *protocol.Intent) rawIntent {
	u := func(v uint64) []byte { return new(big.Int).SetUint64(v).Bytes() }
	return rawIntent{
		kind: protocol.KindTransfer, version: protocol.TransferV2,
		chain: u(in.ChainID), from: in.From, to: in.To, token: in.Token,
		amount: in.Amount.Bytes(), nonce: u(in.Nonce), gas: u(in.GasLimit),
		maxFee: in.MaxFeePerGas.Bytes(), priority: in.MaxPriorityFeePerGas.Bytes(), expiry: u(in.Expiry),
		proof: in.WalletProof,
	}
}

func (r rawIntent) bytes() []byte {
	num := func(b, v []byte) []byte { return append(append(b, byte(len(v))), v...) }
	b := []byte{r.kind, r.version}
	b = num(b, r.chain)
	b = append(append(append(b, r.from[:]...), r.to[:]...), r.token[:]...)
	for _, v := range [][]byte{r.amount, r.nonce, r.gas, r.maxFee, r.priority, r.expiry} {
		b = num(b, v)
	}
	return append(b, r.proof...)
}

func fieldsOf(in *protocol.Intent) *IntentFields {
	return &IntentFields{
		ChainID: strconv.FormatUint(in.ChainID, 10), From: in.From.Hex(), To: in.To.Hex(), Token: in.Token.Hex(),
		Amount: in.Amount.String(), Nonce: strconv.FormatUint(in.Nonce, 10), GasLimit: strconv.FormatUint(in.GasLimit, 10),
		MaxFeePerGas: in.MaxFeePerGas.String(), MaxPriorityFeePerGas: in.MaxPriorityFeePerGas.String(),
		Expiry: strconv.FormatUint(in.Expiry, 10), WalletProof: hex.EncodeToString(in.WalletProof),
	}
}

var b64 = base64.RawURLEncoding

func (g *generator) intents() {
	const dir = "testdata/intents"
	idKey := hex.EncodeToString(IdentityKey().Public().(ed25519.PublicKey))
	valid := func(name, desc string, in *protocol.Intent) {
		sp, err := in.EncodeStartParam()
		if err != nil {
			g.t.Fatalf("%s: %v", name, err)
		}
		// The page's "from: your wallet" check: for whom the proof verifies.
		v := IntentVector{Description: desc, StartParam: sp, Intent: fieldsOf(in), Expect: "valid", IdentityKey: idKey, Transaction: transactionOf(in)}
		for _, u := range []int64{Owner, Owner + 1} {
			if protocol.VerifyStatement(IdentityKey().Public().(ed25519.PublicKey), u, in.From, in.WalletProof) == nil {
				v.WalletOwner = strconv.FormatInt(u, 10)
			}
		}
		g.startParams = append(g.startParams, sp)
		g.writeJSON(dir, name, v)
	}
	bad := func(name, desc, sp string) {
		if _, err := protocol.DecodeStartParam(sp); protocol.CodeOf(err) != protocol.CodeMalformedIntent {
			g.t.Fatalf("%s: the decoder says %v, the vector says malformed_intent", name, err)
		}
		g.startParams = append(g.startParams, sp)
		g.writeJSON(dir, name, IntentVector{Description: desc, StartParam: sp, Expect: string(protocol.CodeMalformedIntent)})
	}
	badRaw := func(name, desc string, r rawIntent) { bad(name, desc, b64.EncodeToString(r.bytes())) }

	base := baseIntent()
	valid("valid-eth-transfer", "0.05 ETH on Sepolia, nonce 3, 21000 gas, expiring at now+600", base)

	maxU64 := uint64(math.MaxUint64)
	max256 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	widest := *base
	widest.ChainID, widest.Nonce, widest.GasLimit, widest.Expiry = maxU64, maxU64, maxU64, maxU64
	widest.Amount, widest.MaxFeePerGas, widest.MaxPriorityFeePerGas = max256, max256, max256
	valid("valid-largest-numbers", "every number at its largest: 2^64-1 and 2^256-1 (the longest v1 encoding)", &widest)

	zeros := *base
	zeros.Amount, zeros.Nonce, zeros.MaxFeePerGas, zeros.MaxPriorityFeePerGas = big.NewInt(0), 0, big.NewInt(0), big.NewInt(0)
	valid("valid-zero-numbers", "amount, nonce and both fees zero: encoded as empty numbers", &zeros)

	token := *base
	token.Token = common.HexToAddress("0x2222222222222222222222222222222222222222")
	valid("valid-token-field", "a non-zero token 0x2222…: well-formed as an intent; an ERC-20 transfer(to, amount) to that contract, which an enclave signs only where its config lists the token for the chain (else token_not_allowed)", &token)

	foreign := *base
	foreign.WalletProof = WalletProof(VaultKey(), Owner+1, walletAddress())
	valid("valid-proof-for-other-owner", "well-formed, but the wallet proof is for owner 424243: the page must not say \"from: your wallet\" to 424242, the enclave refuses it as bad_wallet_proof", &foreign)
	otherID := *base
	otherID.WalletProof = WalletProof(bytes.Repeat([]byte{0xee}, 32), Owner, walletAddress())
	valid("valid-proof-by-other-key", "well-formed, but the wallet proof is made by the identity of vault key ee..ee: it verifies for nobody under identity_key", &otherID)

	good := rawOf(base)
	goodBytes := good.bytes()
	goodText := b64.EncodeToString(goodBytes)
	// The padding vectors need an intent whose length is not a multiple
	// of 3 (the base one, 159 bytes, is): nonce 300 takes one byte more.
	padded := *base
	padded.Nonce = 300
	paddedBytes := rawOf(&padded).bytes()
	paddedText := b64.EncodeToString(paddedBytes)
	if len(paddedBytes)%3 == 0 {
		g.t.Fatal("the padding vectors' intent has a length that is a multiple of 3")
	}

	r := good
	r.kind = 0x02
	badRaw("wrong-kind", "first byte (kind) is 0x02 (a wallet link), not a transfer", r)
	r = good
	r.version = 0x03
	badRaw("wrong-version", "second byte (version) is 3", r)
	r = good
	r.version = protocol.TransferV1
	badRaw("version-1-byte", "the valid v2 intent with version byte 1: version 1 is no longer accepted", r)
	r = good
	r.version, r.proof = protocol.TransferV1, nil
	badRaw("version-1", "a complete version 1 intent (the v2 fields without the wallet proof): no longer accepted", r)
	r = good
	r.proof = nil
	badRaw("no-wallet-proof", "the valid intent without its 64-byte wallet proof", r)
	r = good
	r.proof = r.proof[:63]
	badRaw("short-wallet-proof", "the valid intent with a 63-byte wallet proof", r)
	bad("truncated", "the valid intent without its last byte", b64.EncodeToString(goodBytes[:len(goodBytes)-1]))
	bad("truncated-to-header", "only kind and version", b64.EncodeToString(goodBytes[:2]))
	bad("trailing-bytes", "the valid intent followed by one zero byte", b64.EncodeToString(append(slices.Clone(goodBytes), 0)))
	r = good
	r.nonce = []byte{0x00, 0x03}
	badRaw("leading-zero-number", "nonce 3 written as 2 bytes 00 03 (non-canonical)", r)
	r = good
	r.nonce = bytes.Repeat([]byte{0x01}, 9)
	badRaw("number-too-long-uint64", "nonce is 9 bytes; a uint64 field has at most 8", r)
	r = good
	r.amount = bytes.Repeat([]byte{0x01}, 33)
	badRaw("number-too-long-uint256", "amount is 33 bytes; a uint256 field has at most 32", r)
	r = good
	r.priority = new(big.Int).Add(base.MaxFeePerGas, big.NewInt(1)).Bytes()
	badRaw("priority-fee-above-max-fee", "max priority fee per gas is max fee per gas + 1", r)
	r = good
	r.to = common.Address{}
	badRaw("zero-recipient", "recipient is the zero address", r)
	r = good
	r.from = common.Address{}
	badRaw("zero-sender", "sender is the zero address", r)
	r = good
	r.chain = nil
	badRaw("zero-chain-id", "chain id is zero", r)
	r = good
	r.gas = nil
	badRaw("zero-gas-limit", "gas limit is zero", r)
	r = good
	r.expiry = nil
	badRaw("zero-expiry", "expiry is zero", r)

	valid("valid-nonce-300", "the valid intent with nonce 300: its length (160 bytes) is not a multiple of 3, as the padding vectors need", &padded)
	nonCanonical := nonCanonicalText(g.t, paddedText, paddedBytes)
	bad("non-canonical-base64", "valid-nonce-300 with non-zero padding bits in its last character", nonCanonical)
	bad("base64-padding", "valid-nonce-300 with '=' padding", base64.URLEncoding.EncodeToString(paddedBytes))
	bad("standard-base64-alphabet", "base64 with '+' and '/' in place of '-' and '_'", strings.NewReplacer("-", "+", "_", "/").Replace(goodText)+"+/")
	bad("newline-inside", "the valid intent with a line break in the middle", goodText[:20]+"\n"+goodText[20:])
	bad("empty", "no start_param at all", "")
	bad("over-512-characters", "516 characters of base64 (387 zero bytes): longer than Telegram's limit", strings.Repeat("A", 516))

	// Issue 10: ERC-20 transfers (docs/protocol.md, "Token transfers").
	valid("valid-erc20-transfer", "25 USDC (25000000 in 6 decimals) of the Sepolia USDC contract to 0x1111…, gas limit 65000: a transaction to the token contract, value 0, data transfer(to, amount)", erc20Intent())
	bigToken := erc20Intent()
	bigToken.Amount = max256
	valid("valid-erc20-largest-amount", "an ERC-20 transfer of 2^256-1 token units: the amount fills the calldata's last 32-byte word", bigToken)

	for i, sp := range g.startParams {
		g.writeSeed("protocol", "FuzzDecodeStartParam", strconv.Itoa(i), "string", []byte(sp))
	}
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// nonCanonicalText sets a padding bit in the last character of text (the
// base64url of b, whose length is not a multiple of 3): canonical base64
// has those bits zero, so this is a second spelling of the same bytes.
func nonCanonicalText(t *testing.T, text string, b []byte) string {
	last := strings.IndexByte(base64URLAlphabet, text[len(text)-1])
	s := text[:len(text)-1] + string(base64URLAlphabet[last+1])
	if dec, err := base64.RawURLEncoding.DecodeString(s); err != nil || !bytes.Equal(dec, b) {
		t.Fatal("the non-canonical spelling does not decode leniently to the same bytes")
	}
	return s
}

func (g *generator) statements() {
	const dir = "testdata/statements"
	id := IdentityKey()
	idPub := id.Public().(ed25519.PublicKey)
	idHex := hex.EncodeToString(idPub)
	addr := walletAddress()
	var seeds []string
	write := func(name, desc, sp string, expect protocol.Code) {
		v := StatementVector{Description: desc, IdentityKey: idHex, StartParam: sp, Expect: string(expect)}
		l, err := protocol.DecodeWalletLink(sp)
		if err == nil {
			v.Owner, v.Address, v.Proof = strconv.FormatInt(l.Owner, 10), l.Address.Hex(), hex.EncodeToString(l.Proof)
			m, _ := protocol.StatementMessage(l.Owner, l.Address)
			v.Message = hex.EncodeToString(m)
			err = l.Verify(idPub)
		}
		got := protocol.Code("valid")
		if err != nil {
			got = protocol.CodeOf(err)
		}
		if got != expect {
			g.t.Fatalf("%s: the decoder and verifier say %v, the vector says %s", name, err, expect)
		}
		seeds = append(seeds, sp)
		g.writeJSON(dir, name, v)
	}
	raw := func(kind, version byte, owner uint64, a common.Address, proof []byte) []byte {
		b := []byte{kind, version}
		b = binary.BigEndian.AppendUint64(b, owner)
		return append(append(b, a[:]...), proof...)
	}
	proof := WalletProof(VaultKey(), Owner, addr)
	good := raw(protocol.KindWallet, protocol.WalletLinkV1, uint64(Owner), addr, proof)
	goodText := b64.EncodeToString(good)
	write("valid", "the test wallet of owner 424242, proved by the test vault key's identity", goodText, "valid")
	otherAddr := common.HexToAddress("0x3333333333333333333333333333333333333333")
	write("valid-other-wallet", "owner 424243 and address 0x3333…, proved by the same identity",
		b64.EncodeToString(raw(protocol.KindWallet, protocol.WalletLinkV1, uint64(Owner+1), otherAddr, WalletProof(VaultKey(), Owner+1, otherAddr))), "valid")

	// Decodes, does not verify: the page must show no address.
	write("proof-by-other-key", "the test wallet proved by the identity of vault key ee..ee (another deployment, or a host's own key)",
		b64.EncodeToString(raw(protocol.KindWallet, protocol.WalletLinkV1, uint64(Owner), addr, WalletProof(bytes.Repeat([]byte{0xee}, 32), Owner, addr))), protocol.CodeBadWalletProof)
	write("owner-rewritten", "the valid link with owner 424243: the proof is for 424242",
		b64.EncodeToString(raw(protocol.KindWallet, protocol.WalletLinkV1, uint64(Owner+1), addr, proof)), protocol.CodeBadWalletProof)
	write("address-rewritten", "the valid link with address 0x3333…: the proof is for the test wallet",
		b64.EncodeToString(raw(protocol.KindWallet, protocol.WalletLinkV1, uint64(Owner), otherAddr, proof)), protocol.CodeBadWalletProof)
	flipped := slices.Clone(good)
	flipped[len(flipped)-1] ^= 0x01
	write("flipped-bit-proof", "the valid link with bit 0 of the proof's last byte flipped", b64.EncodeToString(flipped), protocol.CodeBadWalletProof)
	zeroProof := raw(protocol.KindWallet, protocol.WalletLinkV1, uint64(Owner), addr, make([]byte, 64))
	write("zero-proof", "the valid link with a proof of 64 zero bytes", b64.EncodeToString(zeroProof), protocol.CodeBadWalletProof)

	// Refused by the decoder.
	mal := protocol.CodeMalformedIntent
	write("wrong-kind", "the valid link with kind 0x01 (a transfer)", b64.EncodeToString(raw(protocol.KindTransfer, protocol.WalletLinkV1, uint64(Owner), addr, proof)), mal)
	write("wrong-version", "the valid link with version 2", b64.EncodeToString(raw(protocol.KindWallet, 2, uint64(Owner), addr, proof)), mal)
	write("owner-zero", "owner 0, which is not a Telegram user id", b64.EncodeToString(raw(protocol.KindWallet, protocol.WalletLinkV1, 0, addr, proof)), mal)
	write("owner-over-int64", "owner 2^63", b64.EncodeToString(raw(protocol.KindWallet, protocol.WalletLinkV1, 1<<63, addr, proof)), mal)
	write("zero-address", "the zero address", b64.EncodeToString(raw(protocol.KindWallet, protocol.WalletLinkV1, uint64(Owner), common.Address{}, proof)), mal)
	write("truncated", "the valid link without its last byte (93 bytes)", b64.EncodeToString(good[:len(good)-1]), mal)
	write("trailing-byte", "the valid link followed by one zero byte (95 bytes)", b64.EncodeToString(append(slices.Clone(good), 0)), mal)
	write("header-only", "only kind and version", b64.EncodeToString(good[:2]), mal)
	write("empty", "no start_param at all", "", mal)
	// 92 bytes is not a multiple of 3, so its text has padding bits.
	short := good[:92]
	write("non-canonical-base64", "the valid link's first 92 bytes with non-zero padding bits in the last character", nonCanonicalText(g.t, b64.EncodeToString(short), short), mal)
	write("base64-padding", "the valid link's first 92 bytes with '=' padding", base64.URLEncoding.EncodeToString(short), mal)
	write("standard-base64-alphabet", "the valid link in standard base64 ('+' and '/')", base64.RawStdEncoding.EncodeToString(good)+"+/", mal)
	write("newline-inside", "the valid link with a line break in the middle", goodText[:20]+"\n"+goodText[20:], mal)
	intent, err := baseIntent().EncodeStartParam()
	if err != nil {
		g.t.Fatal(err)
	}
	write("transfer-intent", "a valid transfer intent is not a wallet link", intent, mal)

	for i, sp := range seeds {
		g.writeSeed("protocol", "FuzzDecodeWalletLink", strconv.Itoa(i), "string", []byte(sp))
	}
}

// seal makes a v1 record exactly as the enclave does, with a given nonce.
func seal(vaultKey []byte, owner uint64, addr common.Address, nonce, walletKey []byte) []byte {
	block, err := aes.NewCipher(vaultKey)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	header := make([]byte, 29)
	header[0] = 1
	binary.BigEndian.PutUint64(header[1:9], owner)
	copy(header[9:], addr[:])
	rec := append(slices.Clone(header), nonce...)
	return aead.Seal(rec, nonce, walletKey, header)
}

func (g *generator) records() {
	const dir = "testdata/records"
	addr := walletAddress()
	nonce := mustHex("000000000000000000000001")
	valid := seal(VaultKey(), uint64(Owner), addr, nonce, WalletKey())

	write := func(name, desc string, rec []byte, expect protocol.Code) {
		v := RecordVector{Description: desc, VaultKey: VaultKeyHex, Record: hex.EncodeToString(rec), Expect: string(expect)}
		// Owner and address are what the header says, when it has them.
		if len(rec) >= 29 {
			v.Owner = strconv.FormatUint(binary.BigEndian.Uint64(rec[1:9]), 10)
			v.Address = common.BytesToAddress(rec[9:29]).Hex()
		}
		if expect == "valid" {
			v.PrivateKey = WalletKeyHex
		}
		g.sealed = append(g.sealed, rec)
		g.writeJSON(dir, name, v)
	}
	flip := func(offset int) []byte {
		b := slices.Clone(valid)
		b[offset] ^= 0x01
		return b
	}
	withOwner := func(owner uint64) []byte {
		b := slices.Clone(valid)
		binary.BigEndian.PutUint64(b[1:9], owner)
		return b
	}

	write("valid", "the test wallet's key, owner 424242, sealed under the test vault key with nonce 00..01", valid, "valid")
	other := seal(VaultKey(), uint64(Owner+1), addr, mustHex("000000000000000000000002"), WalletKey())
	write("valid-other-owner", "the same key sealed for owner 424243 with nonce 00..02", other, "valid")

	write("flipped-bit-nonce", "the valid record with bit 0 of the nonce's first byte flipped", flip(29), protocol.CodeRecordTampered)
	write("flipped-bit-ciphertext", "the valid record with bit 0 of the ciphertext's first byte flipped", flip(41), protocol.CodeRecordTampered)
	write("flipped-bit-tag", "the valid record with bit 0 of the tag's last byte flipped", flip(len(valid)-1), protocol.CodeRecordTampered)
	write("owner-rewritten", "the valid record with its owner rewritten to 424243", withOwner(uint64(Owner+1)), protocol.CodeRecordTampered)
	rewritten := slices.Clone(valid)
	copy(rewritten[9:29], common.HexToAddress("0x3333333333333333333333333333333333333333").Bytes())
	write("address-rewritten", "the valid record with its address rewritten to 0x3333…", rewritten, protocol.CodeRecordTampered)
	otherVault := bytes.Repeat([]byte{0xee}, 32)
	write("other-vault-key", "the same key, owner and nonce sealed under vault key ee..ee", seal(otherVault, uint64(Owner), addr, nonce, WalletKey()), protocol.CodeRecordTampered)

	write("empty", "no bytes", []byte{}, protocol.CodeMalformedRecord)
	write("truncated", "the valid record without its last byte", valid[:len(valid)-1], protocol.CodeMalformedRecord)
	write("trailing-byte", "the valid record followed by one zero byte", append(slices.Clone(valid), 0), protocol.CodeMalformedRecord)
	v2 := slices.Clone(valid)
	v2[0] = 2
	write("wrong-version", "the valid record with version byte 2", v2, protocol.CodeMalformedRecord)
	write("owner-zero", "owner 0, which is not a Telegram user id", withOwner(0), protocol.CodeMalformedRecord)
	write("owner-over-int64", "owner 2^63, above the largest Telegram user id the format allows", withOwner(1<<63), protocol.CodeMalformedRecord)

	for i, rec := range g.sealed {
		g.writeSeed("enclave", "FuzzDecodeRecord", strconv.Itoa(i), "[]byte", rec)
	}
}

// userJSON is how Telegram writes the user field.
func userJSON(id int64) string {
	return fmt.Sprintf(`{"id":%d,"first_name":"Test","last_name":"User","username":"testuser","language_code":"en","allows_write_to_pm":true}`, id)
}

func (g *generator) initData() {
	const dir = "testdata/initdata"
	key := TelegramKey()
	sp, err := baseIntent().EncodeStartParam()
	if err != nil {
		g.t.Fatal(err)
	}
	fields := func(authDate int64) map[string]string {
		return map[string]string{
			"user":          userJSON(Owner),
			"auth_date":     strconv.FormatInt(authDate, 10),
			"start_param":   sp,
			"chat_instance": "-3788475317572404878",
			"chat_type":     "private",
		}
	}
	sign := func(f map[string]string) string { return protocol.SignInitData(f, BotID, key, "") }
	cfg := protocol.VerifyConfig{BotID: BotID, PublicKey: key.Public().(ed25519.PublicKey), MaxAge: MaxAuthAge, ClockSkew: ClockSkew}

	write := func(name, desc, raw string, expect protocol.Code) {
		v := InitDataVector{
			Description: desc, TelegramSeed: TelegramSeedHex, TelegramPublicKey: hex.EncodeToString(cfg.PublicKey),
			BotID: strconv.FormatInt(BotID, 10), Now: Now,
			MaxAgeSeconds: int64(MaxAuthAge.Seconds()), ClockSkewSeconds: int64(ClockSkew.Seconds()),
			InitData: raw, Expect: string(expect),
		}
		d, err := protocol.VerifyInitData(raw, cfg, NowTime())
		if expect == "valid" {
			if err != nil {
				g.t.Fatalf("%s: %v", name, err)
			}
			v.UserID, v.AuthDate, v.StartParam = strconv.FormatInt(d.UserID, 10), d.AuthDate.Unix(), d.StartParam
		} else if got := protocol.CodeOf(err); got != expect {
			g.t.Fatalf("%s: the verifier says %v, the vector says %s", name, err, expect)
		}
		g.signed = append(g.signed, raw)
		g.writeJSON(dir, name, v)
	}

	valid := sign(fields(Now - 60))
	write("valid", "signed a minute before now, with a transfer start_param", valid, "valid")
	noSP := fields(Now - 60)
	delete(noSP, "start_param")
	write("valid-without-start-param", "a Mini App opened without startapp", sign(noSP), "valid")
	write("valid-at-max-age", "auth_date exactly max_age before now", sign(fields(Now-int64(MaxAuthAge.Seconds()))), "valid")
	write("valid-within-clock-skew", "auth_date exactly clock_skew after now", sign(fields(Now+int64(ClockSkew.Seconds()))), "valid")

	write("stale-auth-date", "auth_date one second more than max_age before now", sign(fields(Now-int64(MaxAuthAge.Seconds())-1)), protocol.CodeStaleAuth)
	write("future-auth-date", "auth_date one second beyond clock_skew after now", sign(fields(Now+int64(ClockSkew.Seconds())+1)), protocol.CodeStaleAuth)

	write("other-bot", "signed for bot id + 1", protocol.SignInitData(fields(Now-60), BotID+1, key, ""), protocol.CodeBadSignature)
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, 32))
	write("other-key", "signed with another Ed25519 key (seed 42..42)", protocol.SignInitData(fields(Now-60), BotID, otherKey, ""), protocol.CodeBadSignature)
	write("tampered-user", "the valid initData with the user id changed to 424243", replaceValue(valid, "user", userJSON(Owner+1)), protocol.CodeBadSignature)
	other := baseIntent()
	other.Amount = big.NewInt(50_000_000_000_000_001)
	otherSP, _ := other.EncodeStartParam()
	write("tampered-start-param", "the valid initData with a start_param for 1 wei more", replaceValue(valid, "start_param", otherSP), protocol.CodeBadSignature)
	write("unsigned", "neither signature nor hash", strings.Join(slices.DeleteFunc(strings.Split(valid, "&"), func(p string) bool {
		return strings.HasPrefix(p, "signature=")
	}), "&"), protocol.CodeBadSignature)
	write("hmac-only", "signed only with a bot-token HMAC, which this (production) configuration does not accept",
		protocol.SignInitData(fields(Now-60), BotID, nil, "123456:test-token"), protocol.CodeBadSignature)
	sig := url.Values{}
	if q, err := url.ParseQuery(valid); err == nil {
		sig = q
	}
	write("signature-padded", "the valid signature with '==' base64 padding appended", replaceValue(valid, "signature", sig.Get("signature")+"=="), protocol.CodeBadSignature)

	write("duplicate-key", "the valid initData with a second auth_date appended", valid+"&auth_date="+strconv.FormatInt(Now, 10), protocol.CodeMalformedInitData)
	noAuth := fields(Now - 60)
	delete(noAuth, "auth_date")
	write("missing-auth-date", "correctly signed, but without auth_date", sign(noAuth), protocol.CodeMalformedInitData)
	noUser := fields(Now - 60)
	delete(noUser, "user")
	write("missing-user", "correctly signed, but without user", sign(noUser), protocol.CodeMalformedInitData)
	noID := fields(Now - 60)
	noID["user"] = `{"first_name":"Test"}`
	write("user-without-id", "correctly signed; user has no id", sign(noID), protocol.CodeMalformedInitData)
	zeroID := fields(Now - 60)
	zeroID["user"] = userJSON(0)
	write("user-id-zero", "correctly signed; user id is 0", sign(zeroID), protocol.CodeMalformedInitData)
	notJSON := fields(Now - 60)
	notJSON["user"] = "424242"
	write("user-not-object", "correctly signed; user is a number, not a JSON object", sign(notJSON), protocol.CodeMalformedInitData)
	leadingZero := fields(Now - 60)
	leadingZero["auth_date"] = "0" + leadingZero["auth_date"]
	write("non-canonical-auth-date", "correctly signed; auth_date has a leading zero", sign(leadingZero), protocol.CodeMalformedInitData)
	plus := fields(Now - 60)
	plus["auth_date"] = "+" + plus["auth_date"]
	write("signed-auth-date", "correctly signed; auth_date has a '+' sign", sign(plus), protocol.CodeMalformedInitData)
	write("bad-percent-encoding", "the valid initData with chat_type=priv%zzate", strings.Replace(valid, "chat_type=private", "chat_type=priv%zzate", 1), protocol.CodeMalformedInitData)
	write("empty-pair", "the valid initData with '&&' between two pairs", strings.Replace(valid, "&", "&&", 1), protocol.CodeMalformedInitData)
	write("pair-without-equals", "the valid initData followed by '&flag'", valid+"&flag", protocol.CodeMalformedInitData)
	write("empty", "no initData at all", "", protocol.CodeMalformedInitData)

	// Part 5 of issue 9: one reading of every byte.
	upperID := fields(Now - 60)
	upperID["user"] = strings.Replace(userJSON(Owner), `"id"`, `"ID"`, 1)
	write("user-id-upper-case", `correctly signed; user has "ID" but no "id" (keys are case-sensitive)`, sign(upperID), protocol.CodeMalformedInitData)
	bothIDs := fields(Now - 60)
	bothIDs["user"] = strings.Replace(userJSON(Owner), `{"id":424242`, `{"id":424242,"ID":424243`, 1)
	write("user-id-and-upper-case-id", `correctly signed; user has "id":424242 and "ID":424243: the user is 424242, as JavaScript reads it`, sign(bothIDs), "valid")
	twoIDs := fields(Now - 60)
	twoIDs["user"] = strings.Replace(userJSON(Owner), `{"id":424242`, `{"id":424243,"id":424242`, 1)
	write("user-id-twice", "correctly signed; user has the key id twice", sign(twoIDs), protocol.CodeMalformedInitData)
	nestedDup := fields(Now - 60)
	nestedDup["user"] = strings.Replace(userJSON(Owner), `}`, `,"x":{"a":1,"a":2}}`, 1)
	write("user-nested-duplicate-key", "correctly signed; an object inside user has a key twice", sign(nestedDup), protocol.CodeMalformedInitData)
	nullUser := fields(Now - 60)
	nullUser["user"] = "null"
	write("user-null", "correctly signed; user is null", sign(nullUser), protocol.CodeMalformedInitData)
	bigID := fields(Now - 60)
	bigID["user"] = userJSON(1<<53 + 1)
	write("user-id-over-2-53", "correctly signed; user id 2^53+1, which JavaScript reads as 2^53", sign(bigID), protocol.CodeMalformedInitData)
	maxID := fields(Now - 60)
	maxID["user"] = userJSON(protocol.MaxUserID)
	write("user-id-2-53-minus-1", "correctly signed; user id 2^53-1, the largest allowed", sign(maxID), "valid")
	surrogate := fields(Now - 60)
	surrogate["user"] = strings.Replace(userJSON(Owner), `"Test"`, `"Te\ud800st"`, 1)
	write("user-lone-surrogate", `correctly signed; user's first_name has the escape \ud800, a lone surrogate`, sign(surrogate), protocol.CodeMalformedInitData)
	// Two pairs folded into one value give the same data-check-string, so
	// the signature verifies: only the parser can refuse it.
	folded := strings.Replace(valid, "&chat_type=private", "%0Achat_type%3Dprivate", 1)
	if folded == valid {
		g.t.Fatal("fold: no change")
	}
	write("newline-in-value", "the valid initData with chat_type folded into chat_instance's value after a line feed (same data-check-string)", folded, protocol.CodeMalformedInitData)
	write("carriage-return-in-value", "the valid initData with %0D appended to chat_type", strings.Replace(valid, "chat_type=private", "chat_type=private%0D", 1), protocol.CodeMalformedInitData)
	write("nul-in-value", "the valid initData with %00 appended to chat_type", strings.Replace(valid, "chat_type=private", "chat_type=private%00", 1), protocol.CodeMalformedInitData)
	write("newline-in-key", "the valid initData with %0A in a key", strings.Replace(valid, "chat_type=", "chat%0Atype=", 1), protocol.CodeMalformedInitData)
	write("equals-in-key", "the valid initData with %3D in a key: chat%3Dtype=private and chat=type%3Dprivate would give one data-check-string line", strings.Replace(valid, "chat_type=", "chat%3Dtype=", 1), protocol.CodeMalformedInitData)
	write("invalid-utf8-in-value", "the valid initData with chat_type=priv%FFate", strings.Replace(valid, "chat_type=private", "chat_type=priv%FFate", 1), protocol.CodeMalformedInitData)
	write("surrogate-utf8-in-value", "the valid initData with chat_type=priv%ED%A0%80ate (a UTF-16 surrogate written as UTF-8)", strings.Replace(valid, "chat_type=private", "chat_type=priv%ED%A0%80ate", 1), protocol.CodeMalformedInitData)

	for i, raw := range g.signed {
		g.writeSeed("protocol", "FuzzVerifyInitData", strconv.Itoa(i), "string", []byte(raw))
	}
	// Approve requests: the valid initData with every record vector, and
	// every initData vector with the valid record.
	body := func(raw string, rec []byte) []byte {
		b, _ := json.Marshal(protocol.ApproveRequest{InitData: raw, Record: rec})
		return b
	}
	n := 0
	for _, rec := range g.sealed {
		g.writeSeed("enclave", "FuzzApproveRequest", strconv.Itoa(n), "[]byte", body(valid, rec))
		n++
	}
	for _, raw := range g.signed {
		g.writeSeed("enclave", "FuzzApproveRequest", strconv.Itoa(n), "[]byte", body(raw, g.sealed[0]))
		n++
	}
	hostile := []string{"", "{}", "null", `{"init_data":1}`, `{"init_data":"","record":"!"}`, `{"x":1}`, `{} {}`, `{"init_data":"a"}]`}
	// Part 5: keys in another case, twice, null, base64 with a line break,
	// lone surrogates.
	hostile = append(hostile, `{"Init_Data":"a","record":""}`, `{"init_data":"a","init_data":"b","record":""}`, `{"init_data":null,"record":""}`,
		`{"init_data":"a","record":"AQ\nID"}`, `{"init_data":"a","record":"AQI"}`, `{"init_data":"\ud800","record":""}`, "{\"init_data\":\"\xff\"}")
	for _, b := range hostile {
		g.writeSeed("enclave", "FuzzApproveRequest", strconv.Itoa(n), "[]byte", []byte(b))
		n++
	}
	for i, b := range append(hostile, string(body(valid, g.sealed[0]))) {
		g.writeSeed("protocol", "FuzzCheckJSON", strconv.Itoa(i), "[]byte", []byte(b))
	}
}

// replaceValue swaps one field's value in raw initData, keeping everything
// else (the signature included) byte for byte.
func replaceValue(raw, key, value string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		if strings.HasPrefix(p, key+"=") {
			parts[i] = key + "=" + url.QueryEscape(value)
		}
	}
	return strings.Join(parts, "&")
}
