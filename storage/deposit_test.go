package storage

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// goldenDeposit is a token deposit; storage/bolt's tests store the same.
var goldenDeposit = Deposit{
	ChainID: 8453, Token: common.HexToAddress("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
	From: common.HexToAddress("0x00000000000000000000000000000000000000f1"), To: common.BigToAddress(big.NewInt(0x1000 + 7)), Owner: 7,
	Amount: big.NewInt(25_000_000), TxHash: common.HexToHash("0xabc1"), LogIndex: 3, Block: 123456,
	Time: time.Unix(1_700_000_000, 0).UTC(),
}

func cursorAt(block uint64, hashes ...byte) WatchCursor {
	c := WatchCursor{ChainID: 8453, Block: block}
	for _, h := range hashes {
		c.Hashes = append(c.Hashes, common.Hash{h})
	}
	return c
}

func TestDepositEncodingRoundTrip(t *testing.T) {
	b := encodeDeposit(&goldenDeposit)
	d, err := decodeDeposit(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Amount.Cmp(goldenDeposit.Amount) != 0 || !d.Time.Equal(goldenDeposit.Time) || !bytes.Equal(encodeDeposit(&d), b) {
		t.Fatalf("round trip: %+v", d)
	}
	if _, err := decodeDeposit(append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
	c := cursorAt(10, 1, 2, 3)
	got, err := decodeCursor(8453, encodeCursor(&c))
	if err != nil || got.Block != 10 || len(got.Hashes) != 3 {
		t.Fatalf("cursor round trip: %+v %v", got, err)
	}
	if h, ok := got.Hash(9); !ok || h != (common.Hash{2}) {
		t.Fatalf("Hash(9) = %x %v", h, ok)
	}
	if _, ok := got.Hash(7); ok {
		t.Fatal("Hash(7) beyond the kept hashes")
	}
}

func FuzzDecodeDeposit(f *testing.F) {
	f.Add(encodeDeposit(&goldenDeposit))
	f.Add([]byte{depositV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDeposit(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if enc := encodeDeposit(&d); !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, enc)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	c := cursorAt(10, 1, 2)
	f.Add(encodeCursor(&c))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCursor(1, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if enc := encodeCursor(&c); !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, enc)
		}
	})
}
