package hostile

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/protocol"
)

// Tokens of the hostile enclave's config: usdc on chainID, look-alike on
// l2ChainID only (an address that is a token on one chain and may be
// anything on another).
const l2ChainID uint64 = 31337

var (
	usdc      = common.HexToAddress("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238")
	lookAlike = common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")
)

// TestHostileTokens: the real cmd/enclave process with a version 2 config
// (usdc on 1337, look-alike on 31337), attacked by a host that builds its
// own intents and requests: it gets an ERC-20 transfer signed only as
// value 0 to a listed token on its own chain with transfer(to, amount)
// built by the enclave, and cannot hand calldata in.
func TestHostileTokens(t *testing.T) {
	tg := newTelegram(t)
	cfg := writeConfig(t, tg, map[string]any{"version": 2, "chains": []map[string]any{
		{"chain_id": chainID, "tokens": []string{usdc.Hex()}},
		{"chain_id": l2ChainID, "tokens": []string{lookAlike.Hex()}},
	}})
	// writeConfig writes version 1's allowed_chain_ids; version 2 refuses
	// it, so take it out of the file.
	raw := readFile(t, cfg)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "allowed_chain_ids")
	cfg = filepath.Join(t.TempDir(), "enclave-v2.json")
	if err := os.WriteFile(cfg, mustJSON(t, m), 0o644); err != nil {
		t.Fatal(err)
	}
	enc := startEnclave(t, cfg, filepath.Join(t.TempDir(), "vault.key"))
	w := newWire(t, enc.addr)
	from, rec := w.createWallet(alice)
	now := time.Now()
	token := func(chain uint64, tok common.Address) *protocol.Intent {
		in := transfer(from, 0)
		in.ChainID, in.Token, in.Amount, in.GasLimit = chain, tok, big.NewInt(25_000_000), 65000
		return in
	}

	t.Run("health reports the chains and tokens", func(t *testing.T) {
		resp, err := httpClient.Get("http://" + enc.addr + protocol.PathHealth)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h protocol.HealthResponse
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(h.Chains)
		want := `[{"chain_id":1337,"tokens":["` + usdc.Hex() + `"]},{"chain_id":31337,"tokens":["` + lookAlike.Hex() + `"]}]`
		if string(got) != want {
			t.Fatalf("health chains %s, want %s", got, want)
		}
	})

	t.Run("token the enclave does not list", func(t *testing.T) {
		w.refused(protocol.CodeTokenNotAllowed, tg.sign(alice, startParam(t, token(chainID, common.HexToAddress("0xdAC17F958D2ee523a2206206994597C13D831ec7"))), now), rec)
	})

	t.Run("token contract swapped for one listed on another chain", func(t *testing.T) {
		w.refused(protocol.CodeTokenNotAllowed, tg.sign(alice, startParam(t, token(chainID, lookAlike)), now), rec)
		w.refused(protocol.CodeTokenNotAllowed, tg.sign(alice, startParam(t, token(l2ChainID, usdc)), now), rec)
		w.refused(protocol.CodeChainNotAllowed, tg.sign(alice, startParam(t, token(1, usdc)), now), rec)
	})

	t.Run("calldata handed in", func(t *testing.T) {
		in := token(chainID, usdc)
		sp := startParam(t, in)
		valid := tg.sign(alice, sp, now)
		// A request field for calldata does not exist: an unknown field.
		body := mustJSON(t, map[string]any{"init_data": valid, "record": rec, "data": "0x095ea7b3"})
		w.refusedBody(protocol.CodeMalformedRequest, body)
		// Calldata appended to the intent, or put where the proof was: the
		// decoder reads the layout exactly.
		b, _ := base64.RawURLEncoding.DecodeString(sp)
		approve := append([]byte{0x09, 0x5e, 0xa7, 0xb3}, make([]byte, 64)...)
		withData := append(append(bytes.Clone(b[:len(b)-64]), approve...), b[len(b)-64:]...)
		w.refused(protocol.CodeMalformedIntent, tg.sign(alice, base64.RawURLEncoding.EncodeToString(withData), now), rec)
		w.refused(protocol.CodeMalformedIntent, tg.sign(alice, base64.RawURLEncoding.EncodeToString(append(bytes.Clone(b), approve...)), now), rec)

		// What it does sign: value 0 to the token, transfer(to, amount).
		ans := w.approve(valid, rec)
		var tx types.Transaction
		if err := tx.UnmarshalBinary(hexutil.MustDecode(ans.RawTx)); err != nil {
			t.Fatal(err)
		}
		want := "a9059cbb" + strings.Repeat("0", 24) + strings.ToLower(in.To.Hex()[2:]) + strings.Repeat("0", 56) + "017d7840"
		if *tx.To() != usdc || tx.Value().Sign() != 0 || hexutil.Encode(tx.Data()) != "0x"+want {
			t.Fatalf("signed to %s value %s data %x", tx.To().Hex(), tx.Value(), tx.Data())
		}
	})

	t.Run("native coin still signs", func(t *testing.T) {
		in := transfer(from, 1)
		ans := w.approve(tg.sign(alice, startParam(t, in), now), rec)
		var tx types.Transaction
		if err := tx.UnmarshalBinary(hexutil.MustDecode(ans.RawTx)); err != nil || *tx.To() != in.To || len(tx.Data()) != 0 || tx.Value().Cmp(in.Amount) != 0 {
			t.Fatalf("native: %v, to %s data %x", err, tx.To().Hex(), tx.Data())
		}
	})
}
