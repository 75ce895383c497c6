package enclave

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/protocol"
)

// FuzzDecodeRecord: decoding never panics, refuses only as a malformed
// record, and a record that decodes re-encodes to the same bytes (so there is
// one byte form per record, and nothing of the input is ignored).
func FuzzDecodeRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, protocol.ErrMalformedRecord) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if r.Owner <= 0 {
			t.Fatalf("owner %d", r.Owner)
		}
		if !bytes.Equal(encodeRecord(r), b) {
			t.Fatalf("%x decodes to %+v, which encodes differently", b, r)
		}
	})
}

// FuzzApproveRequest feeds arbitrary bodies to the approve endpoint of a
// signer that accepts the seeds' valid approval: never a 500, always JSON in
// one of the two shapes, with the status of its code.
func FuzzApproveRequest(f *testing.F) {
	fx := newFixture(f)
	h := Handler(fx.signer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", protocol.PathApprove, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code == 500 {
			t.Fatalf("500 for %q: %s", body, rec.Body)
		}
		if rec.Code == 200 {
			var ok protocol.ApproveResponse
			decodeStrict(t, rec.Body.Bytes(), &ok)
			if ok.RawTx == "" || ok.TxHash == "" {
				t.Fatalf("200 without a transaction: %s", rec.Body)
			}
			return
		}
		var e struct {
			Error protocol.Error `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code.HTTPStatus() != rec.Code || e.Error.Code == protocol.CodeInternal {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
	})
}

// FuzzParseConfig: parsing a config file never panics, refuses only with
// ErrBadConfig, and a config it accepts is valid, lists no token outside
// its chains, and survives EncodeConfig and ParseConfig unchanged (so the
// digest bound in attestations describes exactly what was read).
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(configJSON(nil)))
	f.Add([]byte(v2JSON(`[{"chain_id": 1, "tokens": ["0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"]}, {"chain_id": 8453}]`)))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if !errors.Is(err, ErrBadConfig) || c != nil {
				t.Fatalf("refused with %v, %+v", err, c)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		for chain, tokens := range c.AllowedTokens {
			for _, tok := range tokens {
				if !slices.Contains(c.AllowedChainIDs, chain) || tok == (common.Address{}) {
					t.Fatalf("token %s on chain %d", tok.Hex(), chain)
				}
			}
		}
		again, err := ParseConfig(EncodeConfig(c))
		if err != nil || !bytes.Equal(EncodeConfig(again), EncodeConfig(c)) {
			t.Fatalf("EncodeConfig of %q does not read back: %v", b, err)
		}
	})
}
