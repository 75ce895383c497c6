package watch

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
)

// TestAmountText: an alert writes a deposit by the one amount rule
// (networks.FormatAmount, mode Nearest, whose vectors live in networks), so
// it reads as the rest of the chat does.
func TestAmountText(t *testing.T) {
	for _, c := range []struct {
		v    int64
		dec  uint8
		want string
	}{{21000294000, 18, "0.000000021"}, {25000000, 6, "25"}, {0, 6, "0"}} {
		if got := AmountText(big.NewInt(c.v), c.dec); got != c.want || got != networks.FormatAmount(big.NewInt(c.v), c.dec, networks.Nearest) {
			t.Errorf("AmountText(%d, %d) = %q, want %q", c.v, c.dec, got, c.want)
		}
	}
	if got := AmountText(nil, 6); got != "0" {
		t.Errorf("nil: %q", got)
	}
}

func TestAlertText(t *testing.T) {
	usdc := common.HexToAddress("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")
	n := networks.Network{ChainID: 8453, Name: "Base", NativeSymbol: "ETH", NativeDecimals: 18, ExplorerURL: "https://basescan.org",
		Tokens: []networks.Token{{Address: usdc, Symbol: "USDC", Decimals: 6}}}
	from := common.HexToAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
	tx := common.HexToHash("0x01")
	d := storage.Deposit{ChainID: 8453, Token: usdc, From: from, Amount: big.NewInt(25_000_000), TxHash: tx}
	want := "Received 25 USDC on Base from 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\nhttps://basescan.org/tx/" + tx.Hex()
	if got := AlertText(d, &n); got != want {
		t.Errorf("token:\n got %q\nwant %q", got, want)
	}
	d.Token, d.Amount = common.Address{}, big.NewInt(5e17)
	if got := AlertText(d, &n); !strings.HasPrefix(got, "Received 0.5 ETH on Base from 0x5aAe") {
		t.Errorf("native: %q", got)
	}
	// A token no longer listed is named by its contract, never by a symbol.
	d.Token = common.HexToAddress("0x00000000000000000000000000000000000000dd")
	if got := AlertText(d, &n); !strings.Contains(got, "tokens of contract "+d.Token.Hex()+" on Base") {
		t.Errorf("unlisted: %q", got)
	}
	// Minted, and no explorer.
	d.Token, d.From, n.ExplorerURL = usdc, common.Address{}, ""
	if got := AlertText(d, &n); !strings.HasPrefix(got, "Received 500000000000 USDC on Base (newly minted)\nTransaction 0x") {
		t.Errorf("minted: %q", got)
	}
}

func TestNotifyByText(t *testing.T) {
	db := openStore(t, tempDir(t))
	defer db.Close()
	if _, err := db.UpsertUser(storage.User{ID: 7, ChatID: 700, FirstName: "Alice"}); err != nil {
		t.Fatal(err)
	}
	n := devNetwork(1)
	type sent struct {
		chat int64
		text string
	}
	var got []sent
	notify := NotifyByText(db, networks.Set{n}, func(_ context.Context, chat int64, text string) error {
		got = append(got, sent{chat, text})
		return nil
	})
	d := storage.Deposit{ChainID: n.ChainID, From: common.HexToAddress("0xf1"), Owner: 7, Amount: big.NewInt(1e18), TxHash: common.Hash{1}}
	if err := notify(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	d.Owner = 8 // no stored user: the private chat's id is the user's
	if err := notify(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].chat != 700 || got[1].chat != 8 || !strings.HasPrefix(got[0].text, "Received 1 ETH on Dev L1 from ") {
		t.Fatalf("sent %+v", got)
	}
	d.ChainID = 999
	if err := notify(context.Background(), d); !errors.Is(err, ErrUndeliverable) {
		t.Fatalf("unserved chain: %v, want ErrUndeliverable", err)
	}
}
