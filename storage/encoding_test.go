package storage

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Golden values: the bytes the current code writes for fixed values. If a
// change of the format breaks these tests, it breaks every stored file:
// add a new format version instead and keep decoding this one.
var (
	goldenTime = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

	goldenUser = User{
		ID: 123456789, ChatID: -1001234567890, FirstName: "Ada", Username: "ada",
		Language: "en", Created: goldenTime,
		Settings: Settings{ChainID: 11155111, Muted: true},
	}
	goldenWallet = Wallet{
		Owner:   123456789,
		Address: common.HexToAddress("0x1111111111111111111111111111111111111111"),
		Record:  []byte{0x01, 0xde, 0xad, 0xbe, 0xef},
		Created: goldenTime,
	}
	goldenTransfer = Transfer{
		ID: "tr_01", Owner: 123456789, ChatID: 123456789, MessageID: 77,
		ChainID:    11155111,
		From:       common.HexToAddress("0x1111111111111111111111111111111111111111"),
		To:         common.HexToAddress("0x2222222222222222222222222222222222222222"),
		Amount:     big.NewInt(50_000_000_000_000_000),
		Nonce:      3,
		MaxFee:     big.NewInt(630_000_000_000_000),
		Intent:     []byte{0x01, 0x01, 0x03},
		StartParam: "AQED",
		State:      StateSent,
		SignedTx:   []byte{0x02, 0xf8},
		TxHash:     common.HexToHash("0x3333333333333333333333333333333333333333333333333333333333333333"),
		Block:      0,
		Reason:     "",
		Created:    goldenTime,
		Updated:    goldenTime.Add(time.Second),
		Expiry:     goldenTime.Add(15 * time.Minute),
	}
	// A v2 record: a replacement, replaced (the original won).
	goldenTransferV2 = Transfer{
		ID: "tr_02", Owner: 123456789, ChatID: 123456789, MessageID: 78,
		ChainID:    11155111,
		From:       common.HexToAddress("0x1111111111111111111111111111111111111111"),
		To:         common.HexToAddress("0x1111111111111111111111111111111111111111"),
		Amount:     new(big.Int),
		Nonce:      3,
		MaxFee:     big.NewInt(693_000_000_000_000),
		Intent:     []byte{0x01, 0x01, 0x04},
		StartParam: "AQEE",
		State:      StateReplaced,
		SignedTx:   []byte{0x02, 0xf9},
		TxHash:     common.HexToHash("0x4444444444444444444444444444444444444444444444444444444444444444"),
		Reason:     "x",
		Kind:       KindReplacement,
		Replaces:   "tr_01",
		Created:    goldenTime,
		Updated:    goldenTime.Add(time.Second),
		Expiry:     goldenTime.Add(15 * time.Minute),
	}
)

const (
	goldenUserHex     = "01959aef3aa3cbd8e3a33a034164610361646102656eaab4fad8d181d6a830a7eda80501"
	goldenWalletHex   = "01959aef3a11111111111111111111111111111111111111110501deadbeefaab4fad8d181d6a830"
	goldenTransferHex = "01" + // version
		"05" + "74725f3031" + // id "tr_01"
		"959aef3a" + // owner 123456789 (uvarint)
		"aab4de75" + // chat id (zigzag varint)
		"9a01" + // message id 77 (zigzag varint)
		"a7eda805" + // chain id 11155111
		"1111111111111111111111111111111111111111" + // from
		"2222222222222222222222222222222222222222" + // to
		"0000000000000000000000000000000000000000" + // token
		"07" + "b1a2bc2ec50000" + // amount
		"03" + // nonce
		"07" + "023cfb4e356000" + // max fee
		"03" + "010103" + // intent
		"04" + "41514544" + // start param "AQED"
		"03" + // state: sent
		"02" + "02f8" + // signed tx
		"3333333333333333333333333333333333333333333333333333333333333333" + // tx hash
		"00" + // block
		"00" + // reason ""
		"aab4fad8d181d6a830" + // created (zigzag varint ns)
		"aadcd092d981d6a830" + // updated
		"aad4eb9b83b6d6a830" // expiry
	goldenTransferV2Hex = "02" + // version
		"05" + "74725f3032" + // id "tr_02"
		"959aef3a" + "aab4de75" + "9c01" + "a7eda805" + // owner, chat id, message id 78, chain id
		"1111111111111111111111111111111111111111" + // from
		"1111111111111111111111111111111111111111" + // to: the wallet itself
		"0000000000000000000000000000000000000000" + // token
		"00" + // amount 0
		"03" + // nonce
		"07" + "027647a2d45000" + // max fee
		"03" + "010104" + // intent
		"04" + "41514545" + // start param "AQEE"
		"08" + // state: replaced
		"02" + "02f9" + // signed tx
		"4444444444444444444444444444444444444444444444444444444444444444" + // tx hash
		"00" + // block
		"01" + "78" + // reason "x"
		"aab4fad8d181d6a830" + "aadcd092d981d6a830" + "aad4eb9b83b6d6a830" + // created, updated, expiry
		"01" + // kind: replacement
		"05" + "74725f3031" // replaces "tr_01"

)

// goldenTransferV3 is a token transfer on an OP-stack network (format v3:
// the v1 fields, kind and replaces, then the L1 fee and the fee paid).
var goldenTransferV3Hex = "03" + goldenTransferHex[2:] +
	"00" + // kind: ordinary
	"00" + // replaces ""
	"03" + "0186a0" + // L1 fee 100000 wei
	"04" + "05f5e100" // fee paid 100000000 wei

var goldenTransferV3 = func() Transfer {
	t := goldenTransfer.clone()
	t.L1Fee = big.NewInt(100000)
	t.FeePaid = big.NewInt(100000000)
	return t
}()

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenEncodings(t *testing.T) {
	cases := []struct {
		name   string
		golden string
		encode func() []byte
		decode func([]byte) (any, error)
		want   any
	}{
		{"user", goldenUserHex, func() []byte { return encodeUser(&goldenUser) },
			func(b []byte) (any, error) { return decodeUser(b) }, goldenUser},
		{"wallet", goldenWalletHex, func() []byte { return encodeWallet(&goldenWallet) },
			func(b []byte) (any, error) { return decodeWallet(b) }, goldenWallet},
		// v1 records, written before replacements, still decode.
		{"transfer v1", goldenTransferHex, func() []byte { return encodeTransferAs(&goldenTransfer, transferV1) },
			func(b []byte) (any, error) { return decodeTransfer(b) }, goldenTransfer},
		{"transfer v2", goldenTransferV2Hex, func() []byte { return encodeTransferAs(&goldenTransferV2, transferV2) },
			func(b []byte) (any, error) { return decodeTransfer(b) }, goldenTransferV2},
		{"transfer v3", goldenTransferV3Hex, func() []byte { return encodeTransfer(&goldenTransferV3) },
			func(b []byte) (any, error) { return decodeTransfer(b) }, goldenTransferV3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			golden := mustHex(t, c.golden)
			got, err := c.decode(golden)
			if err != nil {
				t.Fatalf("decode golden: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("decoded golden:\n got %+v\nwant %+v", got, c.want)
			}
			if enc := c.encode(); !bytes.Equal(enc, golden) {
				t.Errorf("encoding changed:\n got %x\nwant %x", enc, golden)
			}
		})
	}
	// A v1 record is rewritten as v3 on its next update: the same fields,
	// kind ordinary, no replaced transfer, no L1 fee, no fee paid appended.
	if got, want := hex.EncodeToString(encodeTransfer(&goldenTransfer)), "03"+goldenTransferHex[2:]+"00"+"00"+"00"+"00"; got != want {
		t.Errorf("v1 transfer re-encoded as v3:\n got %s\nwant %s", got, want)
	}
}

func TestDecodersAreStrict(t *testing.T) {
	type dec func([]byte) error
	decoders := map[string]struct {
		golden string
		dec    dec
	}{
		"user":        {goldenUserHex, func(b []byte) error { _, err := decodeUser(b); return err }},
		"wallet":      {goldenWalletHex, func(b []byte) error { _, err := decodeWallet(b); return err }},
		"transfer":    {goldenTransferHex, func(b []byte) error { _, err := decodeTransfer(b); return err }},
		"transfer v2": {goldenTransferV2Hex, func(b []byte) error { _, err := decodeTransfer(b); return err }},
		"transfer v3": {goldenTransferV3Hex, func(b []byte) error { _, err := decodeTransfer(b); return err }},
	}
	for name, d := range decoders {
		g := mustHex(t, d.golden)
		bad := map[string][]byte{
			"empty":           {},
			"unknown version": append([]byte{9}, g[1:]...),
			"version 0":       append([]byte{0}, g[1:]...),
			"trailing byte":   append(bytes.Clone(g), 0),
			"truncated":       g[:len(g)-1],
			// 0x80 0x00 is a non-minimal varint spelling of zero.
			"non-canonical varint": append(append([]byte{g[0]}, 0x80, 0x00), g[2:]...),
		}
		for what, b := range bad {
			if err := d.dec(b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s, %s: %v, want ErrCorrupt", name, what, err)
			}
		}
	}
	// Field-level strictness of the transfer.
	enc := func(mut func(*Transfer)) []byte {
		tr := goldenTransfer.clone()
		mut(&tr)
		return encodeTransfer(&tr)
	}
	bad := map[string][]byte{
		"state 0":                    enc(func(tr *Transfer) { tr.State = 0 }),
		"empty id":                   enc(func(tr *Transfer) { tr.ID = "" }),
		"owner 0":                    enc(func(tr *Transfer) { tr.Owner = 0 }),
		"big 33 B":                   enc(func(tr *Transfer) { tr.Amount = new(big.Int).Lsh(big.NewInt(1), 264) }),
		"state 10":                   enc(func(tr *Transfer) { tr.State = 10 }),
		"v1 state replaced":          encodeTransferAs(func() *Transfer { tr := goldenTransfer.clone(); tr.State = StateReplaced; return &tr }(), transferV1),
		"v1 state superseded":        encodeTransferAs(func() *Transfer { tr := goldenTransfer.clone(); tr.State = StateSuperseded; return &tr }(), transferV1),
		"version 4":                  append([]byte{4}, enc(func(*Transfer) {})[1:]...),
		"v2 with v3 fields":          append([]byte{2}, enc(func(*Transfer) {})[1:]...),
		"kind 2":                     enc(func(tr *Transfer) { tr.Kind = 2; tr.Replaces = "a" }),
		"replacement naming nothing": enc(func(tr *Transfer) { tr.Kind = KindReplacement }),
		"ordinary naming a transfer": enc(func(tr *Transfer) { tr.Replaces = "a" }),
	}
	// An amount with a leading zero byte: rewrite the amount field by hand.
	good := encodeTransfer(&goldenTransfer)
	amount := goldenTransfer.Amount.Bytes()
	field := append([]byte{byte(len(amount))}, amount...)
	i := bytes.Index(good, field)
	if i < 0 {
		t.Fatal("amount not found in encoding")
	}
	padded := append(append(append(bytes.Clone(good[:i]), byte(len(amount)+1), 0), amount...), good[i+len(field):]...)
	bad["leading zero"] = padded
	for what, b := range bad {
		if _, err := decodeTransfer(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("transfer, %s: %v, want ErrCorrupt", what, err)
		}
	}
	u := goldenUser
	b := encodeUser(&u)
	b[len(b)-1] = 2 // muted must be 0 or 1
	if _, err := decodeUser(b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("user muted=2: %v", err)
	}
}

func TestZeroValuesRoundTrip(t *testing.T) {
	tr := Transfer{ID: "z", Owner: 1, State: StateBuilt}
	got, err := decodeTransfer(encodeTransfer(&tr))
	if err != nil {
		t.Fatal(err)
	}
	// nil numbers read back as zero; everything else is as written.
	if got.Amount.Sign() != 0 || got.MaxFee.Sign() != 0 {
		t.Errorf("numbers %v %v", got.Amount, got.MaxFee)
	}
	got.Amount, got.MaxFee = nil, nil
	if !reflect.DeepEqual(got, tr) {
		t.Errorf("got %+v, want %+v", got, tr)
	}
}

// Fuzz targets: a decoder never panics, and whatever it accepts re-encodes
// to exactly the input (one encoding per value).

func FuzzDecodeTransfer(f *testing.F) {
	f.Add(encodeTransfer(&goldenTransfer))
	f.Add(encodeTransferAs(&goldenTransfer, transferV1))
	f.Add(encodeTransfer(&goldenTransferV2))
	f.Add([]byte{transferV1})
	f.Add([]byte{transferV2})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := decodeTransfer(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		// Each version has one encoding per value (b[0] is the version).
		if enc := encodeTransferAs(&tr, b[0]); !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, enc)
		}
	})
}

func FuzzDecodeWallet(f *testing.F) {
	f.Add(encodeWallet(&goldenWallet))
	f.Add([]byte{walletV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decodeWallet(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if enc := encodeWallet(&w); !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, enc)
		}
	})
}

func FuzzDecodeUser(f *testing.F) {
	f.Add(encodeUser(&goldenUser))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUser(b)
		if err != nil {
			return
		}
		if enc := encodeUser(&u); !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, enc)
		}
	})
}
