package enclave

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// TestApproveRefusals changes exactly one thing in a valid approval (whose
// initData stays correctly signed unless the change is to the signature) and
// expects exactly that refusal.
func TestApproveRefusals(t *testing.T) {
	f := newFixture(t)
	bobs := f.wallet(bob)
	otherVault := f.newSigner(f.cfg, bytes.Repeat([]byte{0xee}, VaultKeySize))
	alicesElsewhere, err := otherVault.CreateWallet(alice)
	if err != nil {
		t.Fatal(err)
	}
	replaceStartParam := func(sp string) func(string) string {
		return func(raw string) string {
			q, _ := url.ParseQuery(raw)
			return strings.Replace(raw, "start_param="+q.Get("start_param"), "start_param="+sp, 1)
		}
	}
	// intentFrom changes the intent of a and re-signs it.
	withIntent := func(a *approval, w *Wallet, change func(in *protocol.Intent)) {
		in := f.intent(w.Address)
		change(in)
		a.startParam = f.startParam(in)
	}
	noChange := func(*protocol.Intent) {}

	cases := []struct {
		name   string
		change func(a *approval, w *Wallet)
		want   error
	}{
		{"other user", func(a *approval, w *Wallet) { a.user = bob }, protocol.ErrWrongOwner},
		{"other chain", func(a *approval, w *Wallet) {
			withIntent(a, w, func(in *protocol.Intent) { in.ChainID = 1 })
		}, protocol.ErrChainNotAllowed},
		{"other from", func(a *approval, w *Wallet) {
			withIntent(a, w, func(in *protocol.Intent) { in.From = bobs.Address })
		}, protocol.ErrWrongWallet},
		{"intent expires now", func(a *approval, w *Wallet) {
			withIntent(a, w, func(in *protocol.Intent) { in.Expiry = uint64(f.now.Unix()) })
		}, protocol.ErrIntentExpired},
		{"stale auth_date", func(a *approval, w *Wallet) {
			a.authDate = f.now.Add(-f.cfg.MaxAuthAge - time.Second)
		}, protocol.ErrStaleAuth},
		{"auth_date too far ahead", func(a *approval, w *Wallet) {
			a.authDate = f.now.Add(f.cfg.ClockSkew + time.Second)
		}, protocol.ErrStaleAuth},
		{"tampered start_param", func(a *approval, w *Wallet) {
			in := f.intent(w.Address)
			in.To = common.HexToAddress("0x6666666666666666666666666666666666666666")
			a.edit = replaceStartParam(f.startParam(in))
		}, protocol.ErrBadSignature},
		{"tampered user", func(a *approval, w *Wallet) {
			a.edit = func(raw string) string { return strings.Replace(raw, "%3A424242%2C", "%3A424243%2C", 1) }
		}, protocol.ErrBadSignature},
		{"no start_param", func(a *approval, w *Wallet) { a.startParam = "" }, protocol.ErrMalformedIntent},
		{"start_param not an intent", func(a *approval, w *Wallet) { a.startParam = "hello" }, protocol.ErrMalformedIntent},
		{"record of another user", func(a *approval, w *Wallet) {
			withIntent(a, bobs, noChange)
			a.record = bobs.Record
		}, protocol.ErrWrongOwner},
		{"flipped bit in nonce", func(a *approval, w *Wallet) { a.record = flipBit(w.Record, 29) }, protocol.ErrRecordTampered},
		{"flipped bit in ciphertext", func(a *approval, w *Wallet) { a.record = flipBit(w.Record, 41) }, protocol.ErrRecordTampered},
		{"flipped bit in tag", func(a *approval, w *Wallet) { a.record = flipBit(w.Record, RecordV1Length-1) }, protocol.ErrRecordTampered},
		{"bob's record relabelled as alice's", func(a *approval, w *Wallet) {
			withIntent(a, bobs, noChange)
			a.record = withOwner(bobs.Record, alice)
		}, protocol.ErrRecordTampered},
		{"address rewritten to match the intent", func(a *approval, w *Wallet) {
			withIntent(a, bobs, noChange)
			a.record = withAddress(w.Record, bobs.Address)
		}, protocol.ErrRecordTampered},
		{"record under another vault key", func(a *approval, w *Wallet) {
			withIntent(a, alicesElsewhere, noChange)
			a.record = alicesElsewhere.Record
		}, protocol.ErrRecordTampered},
		{"truncated record", func(a *approval, w *Wallet) { a.record = w.Record[:RecordV1Length-1] }, protocol.ErrMalformedRecord},
		{"record with a byte more", func(a *approval, w *Wallet) { a.record = append(bytes.Clone(w.Record), 0) }, protocol.ErrMalformedRecord},
		{"wrong record version", func(a *approval, w *Wallet) { a.record = flipBit(w.Record, 0) }, protocol.ErrMalformedRecord},
		{"no record", func(a *approval, w *Wallet) { a.record = nil }, protocol.ErrMalformedRecord},
		{"HMAC initData under a production config", func(a *approval, w *Wallet) {
			a.botToken = "123456:token-the-host-knows"
		}, protocol.ErrBadSignature},
		{"locked vault", func(a *approval, w *Wallet) { a.signer = f.newSigner(f.cfg, nil) }, protocol.ErrVaultLocked},
		{"token not in the config", func(a *approval, w *Wallet) {
			withIntent(a, w, func(in *protocol.Intent) {
				in.Token = common.HexToAddress("0x2222222222222222222222222222222222222222")
			})
		}, protocol.ErrTokenNotAllowed},
		{"token allowed on another chain only", func(a *approval, w *Wallet) {
			withIntent(a, w, func(in *protocol.Intent) { in.Token = otherChainToken })
		}, protocol.ErrTokenNotAllowed},
		{"allowed token on a chain not allowed", func(a *approval, w *Wallet) {
			withIntent(a, w, func(in *protocol.Intent) { in.ChainID, in.Token = 1, testToken })
		}, protocol.ErrChainNotAllowed},
	}
	t.Run("unchanged", func(t *testing.T) {
		a, _ := f.validApproval()
		if _, err := f.approve(a); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, w := f.validApproval()
			c.change(a, w)
			signed, err := f.approve(a)
			if signed != nil {
				t.Fatal("refused, yet returned a transaction")
			}
			wantRefusal(t, err, c.want)
		})
	}
}

// Expiry is exclusive and auth age inclusive, at the second.
func TestApproveBoundaries(t *testing.T) {
	f := newFixture(t)
	a, w := f.validApproval()
	in := f.intent(w.Address)
	in.Expiry = uint64(f.now.Unix()) + 1
	a.startParam = f.startParam(in)
	a.authDate = f.now.Add(-f.cfg.MaxAuthAge)
	if _, err := f.approve(a); err != nil {
		t.Fatalf("one second before expiry, at the oldest auth_date: %v", err)
	}
	a.authDate = f.now.Add(f.cfg.ClockSkew)
	if _, err := f.approve(a); err != nil {
		t.Fatalf("auth_date at the clock skew: %v", err)
	}
}

// TestApproveCheckOrder gives approvals two faults at once: the reason is
// always the earlier check's (signer.go documents the order). In particular
// nothing about the record or the intent is revealed to unsigned input, and
// no record is opened for an approval that fails any other check.
func TestApproveCheckOrder(t *testing.T) {
	f := newFixture(t)
	bobs := f.wallet(bob)
	cases := []struct {
		name   string
		change func(a *approval, w *Wallet)
		want   error
	}{
		{"locked vault and bad signature", func(a *approval, w *Wallet) {
			a.signer = f.newSigner(f.cfg, nil)
			a.edit = func(raw string) string { return strings.Replace(raw, "chat_type=private", "chat_type=group", 1) }
		}, protocol.ErrVaultLocked},
		{"bad signature and wrong owner", func(a *approval, w *Wallet) {
			a.user = bob
			a.edit = func(raw string) string { return strings.Replace(raw, "chat_type=private", "chat_type=group", 1) }
		}, protocol.ErrBadSignature},
		{"bad signature and malformed record", func(a *approval, w *Wallet) {
			a.botToken = "1:x"
			a.record = []byte{9}
		}, protocol.ErrBadSignature},
		{"stale and wrong owner", func(a *approval, w *Wallet) {
			a.user, a.authDate = bob, f.now.Add(-2*time.Hour)
		}, protocol.ErrStaleAuth},
		{"stale and no start_param", func(a *approval, w *Wallet) {
			a.startParam, a.authDate = "", f.now.Add(-2*time.Hour)
		}, protocol.ErrStaleAuth},
		{"malformed intent and malformed record", func(a *approval, w *Wallet) {
			a.startParam, a.record = "AAAA", nil
		}, protocol.ErrMalformedIntent},
		{"expired and wrong owner", func(a *approval, w *Wallet) {
			in := f.intent(w.Address)
			in.Expiry = 1
			a.startParam, a.user = f.startParam(in), bob
		}, protocol.ErrIntentExpired},
		{"malformed record and wrong owner", func(a *approval, w *Wallet) {
			a.user, a.record = bob, w.Record[:10]
		}, protocol.ErrMalformedRecord},
		{"wrong owner and wrong wallet", func(a *approval, w *Wallet) {
			a.user = bob
			a.startParam = f.startParam(f.intent(bobs.Address))
		}, protocol.ErrWrongOwner},
		{"wrong owner and tampered record", func(a *approval, w *Wallet) {
			a.user, a.record = bob, flipBit(w.Record, 50)
		}, protocol.ErrWrongOwner},
		{"wrong wallet and other chain", func(a *approval, w *Wallet) {
			in := f.intent(bobs.Address)
			in.ChainID = 1
			a.startParam = f.startParam(in)
		}, protocol.ErrWrongWallet},
		{"wrong wallet and bad wallet proof", func(a *approval, w *Wallet) {
			in := f.intent(bobs.Address)
			in.WalletProof = bytes.Repeat([]byte{1}, 64)
			a.startParam = f.startParam(in)
		}, protocol.ErrWrongWallet},
		{"bad wallet proof and other chain", func(a *approval, w *Wallet) {
			in := f.intent(w.Address)
			in.ChainID, in.WalletProof = 1, testvectors.WalletProof(testvectors.VaultKey(), bob, w.Address)
			a.startParam = f.startParam(in)
		}, protocol.ErrBadWalletProof},
		{"bad wallet proof and tampered record", func(a *approval, w *Wallet) {
			in := f.intent(w.Address)
			in.WalletProof = testvectors.WalletProof(bytes.Repeat([]byte{0xee}, 32), alice, w.Address)
			a.startParam, a.record = f.startParam(in), flipBit(w.Record, 50)
		}, protocol.ErrBadWalletProof},
		{"other chain and token", func(a *approval, w *Wallet) {
			in := f.intent(w.Address)
			in.ChainID, in.Token = 1, common.HexToAddress("0x22")
			a.startParam = f.startParam(in)
		}, protocol.ErrChainNotAllowed},
		{"token and tampered record", func(a *approval, w *Wallet) {
			in := f.intent(w.Address)
			in.Token = common.HexToAddress("0x22")
			a.startParam, a.record = f.startParam(in), flipBit(w.Record, 50)
		}, protocol.ErrTokenNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, w := f.validApproval()
			c.change(a, w)
			_, err := f.approve(a)
			wantRefusal(t, err, c.want)
		})
	}
}

// TestApproveSignsExactlyTheIntent decodes the transaction with go-ethereum
// and checks every field against the intent, and the sender.
func TestApproveSignsExactlyTheIntent(t *testing.T) {
	f := newFixture(t)
	a, w := f.validApproval()
	in := f.intent(w.Address)
	in.Amount, _ = new(big.Int).SetString("123456789012345678901234567890", 10)
	in.Nonce, in.GasLimit = 1<<40, 50000
	in.MaxFeePerGas, in.MaxPriorityFeePerGas = big.NewInt(7e9), big.NewInt(7e9)
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
		t.Fatalf("sender %s, %v; want %s", from, err, w.Address)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"type", tx.Type(), uint8(types.DynamicFeeTxType)},
		{"chain id", tx.ChainId().Uint64(), in.ChainID},
		{"nonce", tx.Nonce(), in.Nonce},
		{"to", *tx.To(), in.To},
		{"value", tx.Value().String(), in.Amount.String()},
		{"gas", tx.Gas(), in.GasLimit},
		{"gas fee cap", tx.GasFeeCap().String(), in.MaxFeePerGas.String()},
		{"gas tip cap", tx.GasTipCap().String(), in.MaxPriorityFeePerGas.String()},
		{"data length", len(tx.Data()), 0},
		{"access list length", len(tx.AccessList()), 0},
		{"hash", tx.Hash(), signed.Hash},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.field, c.got, c.want)
		}
	}
	if intentText(t, signed.Intent) != intentText(t, in) {
		t.Errorf("Signed.Intent is %+v", signed.Intent)
	}
	again, err := tx.MarshalBinary()
	if err != nil || !bytes.Equal(again, signed.RawTx) {
		t.Fatal("the raw transaction is not canonical")
	}
}

// Replaying an approval yields the same transaction, never a second one.
func TestApproveIsDeterministic(t *testing.T) {
	f := newFixture(t)
	a, _ := f.validApproval()
	raw := f.signInitData(a)
	first, err := f.signer.Approve(raw, a.record)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.signer.Approve(raw, a.record)
	if err != nil {
		t.Fatal(err)
	}
	if first.Hash != second.Hash || !bytes.Equal(first.RawTx, second.RawTx) {
		t.Fatal("the same approval gave two transactions")
	}
}

// intentText is an intent's canonical text form, to compare intents.
func intentText(t *testing.T, in *protocol.Intent) string {
	t.Helper()
	sp, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// openRecord opens a record with the fixture's vault key, as a second
// implementation of the format.
func openRecord(t *testing.T, vaultKey, rec []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(vaultKey)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	key, err := aead.Open(nil, rec[29:41], rec[41:], rec[:29])
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestCreateWallet(t *testing.T) {
	f := newFixture(t)
	w := f.wallet(alice)
	if len(w.Record) != RecordV1Length {
		t.Fatalf("record is %d bytes", len(w.Record))
	}
	r, err := decodeRecord(w.Record)
	if err != nil || r.Owner != alice || r.Address != w.Address {
		t.Fatalf("record says %+v, %v", r, err)
	}
	key, err := crypto.ToECDSA(openRecord(t, testvectors.VaultKey(), w.Record))
	if err != nil {
		t.Fatal(err)
	}
	if crypto.PubkeyToAddress(key.PublicKey) != w.Address {
		t.Fatal("the sealed key is not the address's key")
	}
	other := f.wallet(alice)
	if other.Address == w.Address || bytes.Equal(other.Record[29:], w.Record[29:]) {
		t.Fatal("two wallets share a key or a nonce")
	}
}

func TestCreateWalletConcurrently(t *testing.T) {
	f := newFixture(t)
	const n = 100
	wallets := make([]*Wallet, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { wallets[i], errs[i] = f.signer.CreateWallet(int64(i + 1)) })
	}
	wg.Wait()
	seen := make(map[common.Address]bool)
	for i, w := range wallets {
		if errs[i] != nil {
			t.Fatalf("wallet %d: %v", i, errs[i])
		}
		if seen[w.Address] {
			t.Fatalf("address %s twice", w.Address)
		}
		seen[w.Address] = true
		if r, err := decodeRecord(w.Record); err != nil || r.Owner != int64(i+1) || r.Address != w.Address {
			t.Fatalf("wallet %d: record %+v, %v", i, r, err)
		}
	}
}

func TestCreateWalletRefusals(t *testing.T) {
	f := newFixture(t)
	for _, owner := range []int64{0, -1, -1 << 63} {
		w, err := f.signer.CreateWallet(owner)
		if w != nil {
			t.Fatal("returned a wallet")
		}
		wantRefusal(t, err, protocol.ErrMalformedRequest)
	}
	_, err := f.newSigner(f.cfg, nil).CreateWallet(alice)
	wantRefusal(t, err, protocol.ErrVaultLocked)

	broken := errors.New("entropy device failed")
	for _, r := range []struct {
		name   string
		reader func() *Signer
	}{
		{"failing at once", func() *Signer { return signerWithEntropy(t, f, iotest.ErrReader(broken)) }},
		{"failing at the nonce", func() *Signer {
			// A valid key, then nothing.
			return signerWithEntropy(t, f, bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
		}},
	} {
		t.Run(r.name, func(t *testing.T) {
			w, err := r.reader().CreateWallet(alice)
			if err == nil || w != nil {
				t.Fatalf("created %v with a broken entropy source", w)
			}
			if protocol.CodeOf(err) != protocol.CodeInternal {
				t.Fatalf("an entropy failure is internal, got %s", protocol.CodeOf(err))
			}
		})
	}
	// Entropy that never gives a valid secp256k1 scalar (all zero).
	_, err = signerWithEntropy(t, f, bytes.NewReader(make([]byte, 1024))).CreateWallet(alice)
	if err == nil {
		t.Fatal("created a wallet with the zero key")
	}
}

func signerWithEntropy(t *testing.T, f *fixture, r io.Reader) *Signer {
	t.Helper()
	s, err := NewSigner(f.cfg, Options{Entropy: r})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(testvectors.VaultKey()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignerSetup(t *testing.T) {
	f := newFixture(t)
	if _, err := NewSigner(f.cfg, Options{}); err == nil {
		t.Fatal("a signer without entropy")
	}
	bad := *f.cfg
	bad.BotID = 0
	if _, err := NewSigner(&bad, Options{Entropy: bytes.NewReader(nil)}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("invalid config: %v", err)
	}
	s := f.newSigner(f.cfg, nil)
	for _, n := range []int{0, 16, 31, 33} {
		if err := s.Unlock(make([]byte, n)); err == nil {
			t.Fatalf("unlocked with a %d-byte key", n)
		}
	}
	if !s.Locked() {
		t.Fatal("a failed unlock unlocked")
	}
	if err := s.Unlock(make([]byte, VaultKeySize)); err != nil || s.Locked() {
		t.Fatalf("unlock: %v", err)
	}
}
