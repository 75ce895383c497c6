package bot

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
)

// testAssets: ETH on chain 1 and a token on chain 10.
func testAssets() []asset {
	l1 := &networks.Network{ChainID: 1, Name: "L1", NativeSymbol: "ETH", NativeDecimals: 18}
	l2 := &networks.Network{ChainID: 10, Name: "L2", NativeSymbol: "ETH", NativeDecimals: 18,
		Tokens: []networks.Token{{Address: common.HexToAddress("0x00000000000000000000000000000000000000aa"), Symbol: "USDC", Decimals: 6}}}
	return []asset{{net: l1}, {net: l2}, {net: l2, token: l2.Tokens[0]}}
}

func sampleFlows() []*flow {
	as := testAssets()
	to := common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	return []*flow{
		{user: 7},
		{user: 7, to: &to},
		{user: 1 << 40, asset: &as[2], symbol: "usdc", netName: "L2", amount: "25"},
		{user: 9, to: &to, asset: &as[0], amount: "0,5", toText: "@bob"},
	}
}

// TestFlowEncodingRoundTrip: what is stored reads back as it was.
func TestFlowEncodingRoundTrip(t *testing.T) {
	for _, fl := range sampleFlows() {
		got, err := decodeFlow(encodeFlow(fl), testAssets())
		if err != nil {
			t.Fatal(err)
		}
		if got.user != fl.user || got.toText != fl.toText || got.symbol != fl.symbol || got.netName != fl.netName || got.amount != fl.amount ||
			(got.to == nil) != (fl.to == nil) || (fl.to != nil && *got.to != *fl.to) ||
			(got.asset == nil) != (fl.asset == nil) || (fl.asset != nil && (got.asset.net.ChainID != fl.asset.net.ChainID || got.asset.token.Address != fl.asset.token.Address)) {
			t.Fatalf("round trip %+v -> %+v", fl, got)
		}
		if !bytes.Equal(encodeFlow(got), encodeFlow(fl)) {
			t.Fatal("not canonical")
		}
	}
}

// TestFlowDecodingRefuses: every malformed or foreign flow is refused with
// errBadFlow and says why.
func TestFlowDecodingRefuses(t *testing.T) {
	good := encodeFlow(sampleFlows()[3])
	gone := encodeFlow(&flow{user: 7, asset: &asset{net: &networks.Network{ChainID: 99}}})
	cases := map[string]struct {
		data []byte
		why  string
	}{
		"empty":            {nil, "truncated at version"},
		"newer version":    {append([]byte{2}, good[1:]...), "format version 2"},
		"trailing":         {append(append([]byte(nil), good...), 0), "trailing"},
		"truncated":        {good[:len(good)-1], "truncated"},
		"user 0":           {[]byte{1, 0, 0, 0, 0, 0, 0}, "user 0"},
		"unknown flags":    {[]byte{1, 7, 0x80, 0, 0, 0, 0}, "unknown flags"},
		"long varint":      {[]byte{1, 0x87, 0x00, 0, 0, 0, 0, 0}, "bad number"},
		"bad utf-8":        {[]byte{1, 7, 0, 1, 0xff, 0, 0, 0}, "not UTF-8"},
		"long text":        {append([]byte{1, 7, 0, 0x81, 0x02}, make([]byte, 257)...), "at most 256"},
		"asset not served": {gone, "not served"},
	}
	for name, c := range cases {
		_, err := decodeFlow(c.data, testAssets())
		if !errors.Is(err, errBadFlow) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: got %v, want %q", name, err, c.why)
		}
	}
}

// FuzzDecodeFlow: any bytes either decode to a flow that encodes back to
// exactly those bytes, or are refused with errBadFlow; never a panic.
func FuzzDecodeFlow(f *testing.F) {
	for _, fl := range sampleFlows() {
		f.Add(encodeFlow(fl))
	}
	f.Add([]byte{1, 7, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := decodeFlow(data, testAssets())
		if err != nil {
			if !errors.Is(err, errBadFlow) {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(encodeFlow(fl), data) {
			t.Fatalf("%x decoded but encodes as %x", data, encodeFlow(fl))
		}
	})
}
