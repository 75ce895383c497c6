package enclave

import (
	"bytes"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// TestRecordVectors runs every testdata/records vector through Approve, under
// the vault key written in the file, with initData from the owner and an
// intent from the address that the record's header claims: so only the
// record's own integrity decides.
func TestRecordVectors(t *testing.T) {
	for _, v := range testvectors.Load[testvectors.RecordVector](t, vectorsDir+"/records") {
		t.Run(v.Name, func(t *testing.T) {
			vec := v.Vector
			f := newFixture(t)
			f.signer = f.newSigner(f.cfg, mustHex(t, vec.VaultKey))
			rec := mustHex(t, vec.Record)

			a := &approval{signer: f.signer, user: alice, authDate: f.now.Add(-time.Minute), record: rec}
			from := common.HexToAddress("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
			if owner, err := strconv.ParseUint(vec.Owner, 10, 64); err == nil && owner > 0 && owner <= math.MaxInt64 {
				a.user, from = int64(owner), common.HexToAddress(vec.Address)
			}
			in := f.intent(from)
			in.WalletProof = testvectors.WalletProof(mustHex(t, vec.VaultKey), a.user, from)
			a.startParam = f.startParam(in)
			signed, err := f.approve(a)

			r, decodeErr := decodeRecord(rec)
			switch vec.Expect {
			case "valid":
				if err != nil {
					t.Fatal(err)
				}
				key, err := crypto.ToECDSA(mustHex(t, vec.PrivateKey))
				if err != nil {
					t.Fatal(err)
				}
				addr := crypto.PubkeyToAddress(key.PublicKey)
				var tx types.Transaction
				if err := tx.UnmarshalBinary(signed.RawTx); err != nil {
					t.Fatal(err)
				}
				sender, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx)
				if err != nil || sender != addr || addr.Hex() != vec.Address || r.Address != addr || strconv.FormatInt(r.Owner, 10) != vec.Owner {
					t.Fatalf("signed by %s (%v); key %s; file %s; record %+v", sender, err, addr, vec.Address, r)
				}
			case string(protocol.CodeMalformedRecord):
				wantRefusal(t, decodeErr, protocol.ErrMalformedRecord)
				wantRefusal(t, err, protocol.ErrMalformedRecord)
			default:
				if decodeErr != nil {
					t.Fatalf("the record should decode: %v", decodeErr)
				}
				wantRefusal(t, err, reasonOf(t, protocol.Code(vec.Expect)))
			}
		})
	}
}

// decodeRecord keeps the bytes it was given apart from the header it reads:
// re-encoding the fields gives the input back (FuzzDecodeRecord checks the
// same on random input).
func TestDecodeRecordFields(t *testing.T) {
	vec := vectorRecord(t)
	rec := mustHex(t, vec.Record)
	r, err := decodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encodeRecord(r), rec) || !bytes.Equal(r.header, recordHeaderFor(r.Owner, r.Address)) {
		t.Fatal("decode and encode disagree")
	}
}

// encodeRecord lays a decoded record out again.
func encodeRecord(r *record) []byte {
	b := recordHeaderFor(r.Owner, r.Address)
	b = append(b, r.Nonce...)
	return append(b, r.Sealed...)
}
