package hostile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/protocol"
)

// TestHostileParent runs every approval attack against one real enclave
// process. Whatever the host sends, the only transaction that ever comes
// out is the one alice approved, byte for byte.
func TestHostileParent(t *testing.T) {
	wd := newWorld(t)
	w, tg := wd.w, wd.tg
	now := time.Now()
	in := transfer(wd.aliceAddr, 0)
	sp := startParam(t, in)
	valid := tg.sign(alice, sp, now)

	// The one legitimate approval.
	good := w.approve(valid, wd.aliceRec)
	if from, tx := senderOf(t, good.RawTx); from != wd.aliceAddr || tx.Nonce() != 0 || tx.Value().Cmp(in.Amount) != 0 {
		t.Fatalf("the valid approval signed %s nonce %d value %v", from, tx.Nonce(), tx.Value())
	}

	t.Run("forged initData", func(t *testing.T) {
		w := wd.w
		forger := newTelegram(t)
		w.refused(protocol.CodeBadSignature, forger.sign(alice, sp, now), wd.aliceRec)
		// Telegram's signature moved onto other data.
		sig := valid[strings.Index(valid, "signature="):]
		sig, _, _ = strings.Cut(sig, "&")
		other := forger.sign(alice, startParam(t, transfer(wd.aliceAddr, 7)), now)
		otherSig := other[strings.Index(other, "signature="):]
		otherSig, _, _ = strings.Cut(otherSig, "&")
		w.refused(protocol.CodeBadSignature, strings.Replace(other, otherSig, sig, 1), wd.aliceRec)
		// No signature at all.
		w.refused(protocol.CodeBadSignature, protocol.SignInitData(initValues(alice, sp, now), botID, nil, ""), wd.aliceRec)
	})

	t.Run("one field changed", func(t *testing.T) {
		w := wd.w
		more := *in
		more.Amount = new(big.Int).Mul(in.Amount, big.NewInt(100))
		to := *in
		to.To = common.HexToAddress("0x6666666666666666666666666666666666666666")
		for name, edited := range map[string]string{
			"amount":      strings.Replace(valid, sp, startParam(t, &more), 1),
			"recipient":   strings.Replace(valid, sp, startParam(t, &to), 1),
			"user id":     strings.Replace(valid, "%22id%22%3A1001", "%22id%22%3A1002", 1),
			"auth_date":   strings.Replace(valid, "auth_date="+itoa(now.Unix()), "auth_date="+itoa(now.Unix()-1), 1),
			"query_id":    strings.Replace(valid, "AAHdF6IQ", "AAHdF6IR", 1),
			"extra field": valid + "&foo=bar",
		} {
			if edited == valid {
				t.Fatalf("%s: the edit changed nothing", name)
			}
			w.refused(protocol.CodeBadSignature, edited, wd.aliceRec)
		}
	})

	t.Run("truncated initData", func(t *testing.T) {
		w := wd.w
		// Every prefix: it no longer parses, or its signature fails.
		for n := 0; n < len(valid); n++ {
			status, ans := w.postJSON(protocol.PathApprove, protocol.ApproveRequest{InitData: valid[:n], Record: wd.aliceRec})
			if c := errCode(ans); c != protocol.CodeMalformedInitData && c != protocol.CodeBadSignature {
				t.Fatalf("prefix of %d bytes: %d %s", n, status, ans)
			}
		}
	})

	t.Run("re-ordered initData pairs", func(t *testing.T) {
		w := wd.w
		// The data-check-string is sorted by key, so the order of the pairs
		// is not signed: any order is the same approval and yields the very
		// same transaction, never another one.
		pairs := strings.Split(valid, "&")
		for i := range pairs {
			rot := append(append([]string{}, pairs[i:]...), pairs[:i]...)
			rev := make([]string, len(rot))
			for j := range rot {
				rev[len(rot)-1-j] = rot[j]
			}
			for _, order := range [][]string{rot, rev} {
				got := w.approve(strings.Join(order, "&"), wd.aliceRec)
				if got != good {
					t.Fatalf("re-ordered initData gave another transaction: %s", got.TxHash)
				}
			}
		}
		// A duplicated pair is not a re-ordering: refused.
		w.refused(protocol.CodeMalformedInitData, valid+"&"+pairs[0], wd.aliceRec)
	})

	t.Run("HMAC initData from the bot token", func(t *testing.T) {
		w := wd.w
		// This enclave's config has no hmac_bot_token, like every
		// production config: a host-made HMAC proves nothing.
		hmacOnly := protocol.SignInitData(initValues(alice, sp, now), botID, nil, "4242:the-bot-token")
		w.refused(protocol.CodeBadSignature, hmacOnly, wd.aliceRec)
	})

	t.Run("user A's approval with user B's record", func(t *testing.T) {
		w := wd.w
		w.refused(protocol.CodeWrongOwner, valid, wd.bobRec)
		// alice approving a transfer "from bob's wallet" does not help either.
		w.refused(protocol.CodeWrongOwner, tg.sign(alice, startParam(t, transfer(wd.bobAddr, 0)), now), wd.bobRec)
	})

	t.Run("record relabelled", func(t *testing.T) {
		w := wd.w
		// With the proof the host holds for bob's wallet (bob's), the
		// wallet proof check refuses first.
		fromBob := tg.sign(alice, startParam(t, transfer(wd.bobAddr, 0)), now)
		w.refused(protocol.CodeBadWalletProof, fromBob, withOwner(wd.bobRec, alice))
		w.refused(protocol.CodeBadWalletProof, fromBob, withAddress(wd.aliceRec, wd.bobAddr))
		// Even with a proof for (alice, bob's address), which only the
		// enclave could make, the record check holds on its own.
		in := transfer(wd.bobAddr, 0)
		in.WalletProof = wd.enclaveProof(t, alice, wd.bobAddr)
		fromBob = tg.sign(alice, startParam(t, in), now)
		// bob's record moved to alice: the owner is sealed as additional data.
		w.refused(protocol.CodeRecordTampered, fromBob, withOwner(wd.bobRec, alice))
		// alice's record relabelled with bob's address.
		w.refused(protocol.CodeRecordTampered, fromBob, withAddress(wd.aliceRec, wd.bobAddr))
		// Another version byte, a bit flipped in nonce, ciphertext and tag,
		// a byte short, a byte long, empty.
		v2 := bytes.Clone(wd.aliceRec)
		v2[0] = 2
		w.refused(protocol.CodeMalformedRecord, valid, v2)
		for _, off := range []int{29, 41, len(wd.aliceRec) - 1} {
			flipped := bytes.Clone(wd.aliceRec)
			flipped[off] ^= 1
			w.refused(protocol.CodeRecordTampered, valid, flipped)
		}
		w.refused(protocol.CodeMalformedRecord, valid, wd.aliceRec[:len(wd.aliceRec)-1])
		w.refused(protocol.CodeMalformedRecord, valid, append(bytes.Clone(wd.aliceRec), 0))
		w.refused(protocol.CodeMalformedRecord, valid, nil)
	})

	t.Run("record sealed under another vault key", func(t *testing.T) {
		w := wd.w
		// Another deployment (same config, its own vault key) seals a wallet
		// of alice's; this enclave cannot open it.
		other := startEnclave(t, wd.configPath, filepath.Join(t.TempDir(), "other-vault.key"))
		addr, rec := newWire(t, other.addr).createWallet(alice)
		// Its proof is by another identity key: refused before the record.
		w.refused(protocol.CodeBadWalletProof, tg.sign(alice, startParam(t, transfer(addr, 0)), now), rec)
		in := transfer(addr, 0)
		in.WalletProof = wd.enclaveProof(t, alice, addr)
		w.refused(protocol.CodeRecordTampered, tg.sign(alice, startParam(t, in), now), rec)
	})

	t.Run("approval replayed with another chain, nonce or expiry", func(t *testing.T) {
		w := wd.w
		// Each needs a new start_param, which the signature covers.
		edits := map[string]func(*protocol.Intent){
			"chain":  func(x *protocol.Intent) { x.ChainID = 1 },
			"nonce":  func(x *protocol.Intent) { x.Nonce = 1 },
			"expiry": func(x *protocol.Intent) { x.Expiry += 3600 },
			"fee":    func(x *protocol.Intent) { x.MaxFeePerGas = big.NewInt(9e11) },
		}
		for name, edit := range edits {
			x := *in
			edit(&x)
			if sp2 := startParam(t, &x); sp2 == sp {
				t.Fatalf("%s: same start_param", name)
			} else {
				w.refused(protocol.CodeBadSignature, strings.Replace(valid, sp, sp2, 1), wd.aliceRec)
			}
		}
		// The same initData replayed: the identical transaction, never a
		// second, different signature.
		for range 3 {
			if got := w.approve(valid, wd.aliceRec); got != good {
				t.Fatalf("replay gave another transaction %s, want %s", got.TxHash, good.TxHash)
			}
		}
	})

	t.Run("expired and stale approvals", func(t *testing.T) {
		w := wd.w
		old := *in
		old.Expiry = uint64(now.Add(-time.Second).Unix())
		w.refused(protocol.CodeIntentExpired, tg.sign(alice, startParam(t, &old), now), wd.aliceRec)
		w.refused(protocol.CodeStaleAuth, tg.sign(alice, sp, now.Add(-2*time.Hour)), wd.aliceRec)
		w.refused(protocol.CodeStaleAuth, tg.sign(alice, sp, now.Add(10*time.Minute)), wd.aliceRec)
	})

	t.Run("intent not from the wallet, other chain, token", func(t *testing.T) {
		w := wd.w
		w.refused(protocol.CodeWrongWallet, tg.sign(alice, startParam(t, transfer(wd.bobAddr, 0)), now), wd.aliceRec)
		ch := *in
		ch.ChainID = 1
		w.refused(protocol.CodeChainNotAllowed, tg.sign(alice, startParam(t, &ch), now), wd.aliceRec)
		tok := *in
		tok.Token = common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
		w.refused(protocol.CodeTokenNotAllowed, tg.sign(alice, startParam(t, &tok), now), wd.aliceRec)
		w.refused(protocol.CodeMalformedIntent, tg.sign(alice, "", now), wd.aliceRec)
		w.refused(protocol.CodeMalformedIntent, tg.sign(alice, "AQE", now), wd.aliceRec)
	})

	t.Run("hostile bodies", func(t *testing.T) {
		w := wd.w
		// Over the 16 KiB limit, a little and a lot.
		huge := mustJSON(t, protocol.ApproveRequest{InitData: valid + "&pad=" + strings.Repeat("a", protocol.MaxRequestBody), Record: wd.aliceRec})
		w.refusedBody(protocol.CodeTooLarge, huge)
		w.refusedBody(protocol.CodeTooLarge, bytes.Repeat([]byte("A"), 8<<20))
		// Deep JSON: 100k nested arrays (over the limit), and as deep as
		// fits in it.
		w.refusedBody(protocol.CodeTooLarge, []byte(`{"init_data":`+strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)+`}`))
		d := (protocol.MaxRequestBody - 20) / 2
		w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":`+strings.Repeat("[", d)+strings.Repeat("]", d)+`}`))
		w.refusedBody(protocol.CodeMalformedRequest, []byte(strings.Repeat("[", protocol.MaxRequestBody)))
		// Invalid UTF-8: in the JSON string (strict JSON refuses it; it
		// used to be read as U+FFFD), percent-encoded inside a signed value
		// (refused before the signature), in a key, as the whole body.
		bad := []byte(`{"init_data":"` + strings.Replace(valid, "Test", "Te\xff\xfet", 1) + `","record":"` + b64(wd.aliceRec) + `"}`)
		w.refusedBody(protocol.CodeMalformedRequest, bad)
		w.refused(protocol.CodeMalformedInitData, strings.Replace(valid, "Test", "Te%FF%FEt", 1), wd.aliceRec)
		w.refusedBody(protocol.CodeMalformedRequest, []byte("{\"init_data\xff\":\"x\"}"))
		w.refusedBody(protocol.CodeMalformedRequest, []byte("\xff\xfe\xfd"))
		// Unknown fields, two objects, wrong types, a record that is not base64.
		w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":"x","record":"","raw_tx":"0x"}`))
		w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":"x"}{"init_data":"y"}`))
		w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":1}`))
		w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":"x","record":"***"}`))
		// Part 5: every input the black-box run found read loosely.
		strictBodies(t, wd, valid)
		wd.requireServing(t)
	})

	// Every transaction that came out is the one alice approved.
	sigs := w.signatures()
	for _, s := range sigs {
		if s != good.RawTx {
			t.Fatalf("the enclave signed another transaction: %s", s)
		}
	}
	t.Logf("%d approvals answered 200, all with the same transaction %s", len(sigs), good.TxHash)
	if !strings.Contains(wd.enc.stderr.String(), `"status":403`) {
		t.Fatalf("the enclave's request log does not show the refusals")
	}
}

// TestHostileProductionConfigRefusesHMAC: a production config cannot enable
// the bot-token HMAC at all (the loader refuses it, and the program does not
// start), and a production enclave refuses HMAC-only initData with
// bad_signature.
func TestHostileProductionConfigRefusesHMAC(t *testing.T) {
	tg := newTelegram(t)
	prod := map[string]any{"mode": "production", "hmac_bot_token": "4242:the-bot-token",
		"kms_key_arn": "arn:aws:kms:eu-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc", "kms_region": "eu-west-2", "kms_proxy_port": 8000}
	path := writeConfig(t, tg, prod)
	raw := readFile(t, path)
	if _, err := enclave.ParseConfig(raw); !errors.Is(err, enclave.ErrBadConfig) || !strings.Contains(err.Error(), "hmac_bot_token") {
		t.Fatalf("ParseConfig: %v, want the hmac_bot_token refusal", err)
	}
	cmd := exec.Command(enclaveBin, "-config", path, "-tcp", "127.0.0.1:0", "-entropy", "os")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(string(out), "hmac_bot_token") {
		t.Fatalf("the enclave started with HMAC in production: %v\n%s", err, out)
	}

	// A production enclave (no NSM here, so served in process on loopback
	// with enclave.NewServer, its vault key given directly).
	srv := startProductionEnclave(t, tg)
	w := newWire(t, srv)
	addr, rec := w.createWallet(alice)
	sp := startParam(t, transfer(addr, 0))
	now := time.Now()
	w.refused(protocol.CodeBadSignature, protocol.SignInitData(initValues(alice, sp, now), botID, nil, "4242:the-bot-token"), rec)
	// Both: the HMAC does not rescue a forged Ed25519 signature.
	forged := protocol.SignInitData(initValues(alice, sp, now), botID, newTelegram(t).key, "4242:the-bot-token")
	w.refused(protocol.CodeBadSignature, forged, rec)
	// Telegram's own signature is what counts.
	w.approve(tg.sign(alice, sp, now), rec)
	if n := len(w.signatures()); n != 1 {
		t.Fatalf("%d signatures, want 1", n)
	}
}

// Record surgery.

func withOwner(rec []byte, owner int64) []byte {
	b := bytes.Clone(rec)
	binary.BigEndian.PutUint64(b[1:9], uint64(owner))
	return b
}

func withAddress(rec []byte, addr common.Address) []byte {
	b := bytes.Clone(rec)
	copy(b[9:29], addr[:])
	return b
}
