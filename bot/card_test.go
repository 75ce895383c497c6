package bot

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-telegram/bot/models"

	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// TestEndedCardsSayWhyAndSendAgain: expired, cancelled and failed cards
// (native and token) say what happened in words and offer Send again; a
// confirmed card shows the fee paid, not the max fee; a waiting card says
// "Expires in 10 min".
func TestEndedCardsSayWhyAndSendAgain(t *testing.T) {
	st := teststack.Start(t, teststack.Options{})
	b := &Bot{svc: st.Service, cfg: Config{MiniAppLink: "https://t.me/x/y"}}
	ctx := context.Background()
	base := storage.Transfer{
		ID: "t1", Owner: 1, ChainID: networks.DevL1ChainID, From: common.HexToAddress("0x01"), To: common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
		Amount: big.NewInt(5e16), MaxFee: big.NewInt(21000294000), Expiry: time.Now().Add(10 * time.Minute), StartParam: "sp",
	}
	hash := common.HexToHash("0xab")
	cases := []struct {
		name  string
		edit  func(*storage.Transfer)
		wants []string
		again bool
	}{
		{"waiting", func(t *storage.Transfer) { t.State = storage.StateBuilt },
			[]string{"Send 0.05 ETH", "Max network fee: 0.00000002101 ETH", "Total at most: 0.050001 ETH", "Expires in 10 min."}, false},
		{"expired", func(t *storage.Transfer) { t.State = storage.StateExpired },
			[]string{"Expired: it was not approved in time. Nothing was sent."}, true},
		{"cancelled", func(t *storage.Transfer) { t.State = storage.StateCancelled },
			[]string{"Cancelled. Nothing was sent."}, true},
		{"failed native", func(t *storage.Transfer) {
			t.State, t.SignedTx, t.TxHash, t.FeePaid = storage.StateFailed, []byte{1}, hash, big.NewInt(21000294000)
		}, []string{"Failed: the network included the transaction but reverted it, so nothing reached the recipient. Only the network fee was paid.", "Network fee paid: 0.000000021 ETH", "Transaction: <code>" + hash.Hex()}, true},
		{"failed token", func(t *storage.Transfer) {
			t.State, t.SignedTx, t.TxHash, t.Token = storage.StateFailed, []byte{1}, hash, common.HexToAddress("0x77")
		}, []string{"the token contract refused it"}, true},
		{"confirmed", func(t *storage.Transfer) {
			t.State, t.SignedTx, t.TxHash, t.Block, t.FeePaid = storage.StateConfirmed, []byte{1}, hash, 7, big.NewInt(21000294000)
		}, []string{"Network fee paid: 0.000000021 ETH", "Confirmed in block 7."}, false},
	}
	for _, c := range cases {
		tr := base
		c.edit(&tr)
		text, markup := b.transferCard(ctx, tr)
		for _, w := range c.wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s: card %q lacks %q", c.name, text, w)
			}
		}
		if (c.name == "confirmed" || strings.HasPrefix(c.name, "failed")) && strings.Contains(text, "Max network fee") {
			t.Errorf("%s: card %q still shows the max fee", c.name, text)
		}
		kb, _ := markup.(*models.InlineKeyboardMarkup)
		got := kb != nil && len(kb.InlineKeyboard) > 0 && kb.InlineKeyboard[0][0].Text == "Send again" && kb.InlineKeyboard[0][0].CallbackData == cbAgain+"t1"
		if got != c.again {
			t.Errorf("%s: Send again = %v, want %v (%+v)", c.name, got, c.again, markup)
		}
	}
}

// TestCardL1DataFeeNotInAtMost: on a network with an L1 data fee the
// card's total is "at most" only for what the signed transaction caps; the
// L1 data fee, an oracle's estimate nothing caps, is named beside it.
func TestCardL1DataFeeNotInAtMost(t *testing.T) {
	st := teststack.Start(t, teststack.Options{})
	b := &Bot{svc: st.Service, cfg: Config{MiniAppLink: "https://t.me/x/y"}}
	tr := storage.Transfer{
		ID: "t1", Owner: 1, ChainID: networks.DevL1ChainID, From: common.HexToAddress("0x01"), To: common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
		Amount: big.NewInt(5e16), MaxFee: big.NewInt(21000294000), L1Fee: big.NewInt(1234567890), State: storage.StateBuilt,
		Expiry: time.Now().Add(10 * time.Minute), StartParam: "sp",
	}
	text, _ := b.transferCard(context.Background(), tr)
	for _, want := range []string{"Max network fee: 0.00000002101 ETH\n", "L1 data fee: about 0.000000001235 ETH\n",
		"Total at most: 0.050001 ETH + L1 data fee (about 0.000000001235 ETH)\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("native card %q lacks %q", text, want)
		}
	}
	tr.Token = common.HexToAddress("0x77") // unlisted: shown by its address, 0 decimals
	text, _ = b.transferCard(context.Background(), tr)
	want := "Total: 50000000000000000 " + tr.Token.Hex() + " + at most 0.00000002101 ETH network fee + L1 data fee (about 0.000000001235 ETH)\n"
	if !strings.Contains(text, want) || strings.Contains(text, "Total at most") {
		t.Errorf("token card %q lacks %q", text, want)
	}
}

// TestParseSend reads the words of /send.
func TestParseSend(t *testing.T) {
	for in, want := range map[string]flow{
		"0.05 ETH to 0xAbC":          {amount: "0.05", symbol: "ETH", toText: "0xAbC"},
		"25usdc to @bob on Base":     {amount: "25", symbol: "usdc", toText: "@bob", netName: "Base"},
		"to @bob 1,5 USDT on Dev L2": {amount: "1,5", symbol: "USDT", toText: "@bob", netName: "Dev L2"},
		"1e5 ETH":                    {amount: "1e5", symbol: "ETH"},
		"-1":                         {amount: "-1"},
		"123456789012345678901":      {amount: "123456789012345678901"},
	} {
		fl, err := parseSend(in)
		if err != nil || fl.amount != want.amount || fl.symbol != want.symbol || fl.toText != want.toText || fl.netName != want.netName {
			t.Errorf("parseSend(%q) = %+v, %v; want %+v", in, fl, err, want)
		}
	}
	for in, want := range map[string]string{
		"1 2":           "two amounts",
		"0xA 0xB":       "two recipients",
		"1 ETH on":      "on which network",
		"1 ETH to bob!": "could not read",
	} {
		if _, err := parseSend(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSend(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestParseAmount refuses in words.
func TestParseAmount(t *testing.T) {
	for in, want := range map[string]string{
		"-1": "must be positive", "−1": "must be positive", "0": "more than zero", "abc": "not a number",
		"1234567890123456": "too many digits", "1.0000001": "USDC has at most 6 decimals", "": "empty",
	} {
		if _, err := parseAmount(in, 6, "USDC"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseAmount(%q) = %v, want %q", in, err, want)
		}
	}
	for in, want := range map[string]string{"25": "25000000", "0,5": "500000", ".5": "500000", "000123456789012345": "123456789012345000000", "+1": "1000000",
		"1,5": "1500000", "1,50": "1500000", "0,500": "500000", "1234,567": "1234567000", ",500": "500000"} {
		if v, err := parseAmount(in, 6, "USDC"); err != nil || v.String() != want {
			t.Errorf("parseAmount(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
}

// TestParseAmountAmbiguousComma: "1,000" is one thousand to some and one
// to others; it is refused in words, never read as 1 (nor as 1000).
func TestParseAmountAmbiguousComma(t *testing.T) {
	for in, want := range map[string]string{
		"1,000":    `not a valid amount: "1,000" is ambiguous (a comma separates thousands in some countries and decimals in others): write 1000 or 1.000`,
		"12,500":   `"12,500" is ambiguous (a comma separates thousands in some countries and decimals in others): write 12500 or 12.500`,
		" 999,999": `write 999999 or 999.999`,
	} {
		v, err := parseAmount(in, 6, "USDC")
		if !errors.Is(err, parent.ErrBadAmount) || !strings.Contains(err.Error(), want) {
			t.Errorf("parseAmount(%q) = %v, %v; want a refusal %q", in, v, err, want)
		}
	}
}

// FuzzParseSend: /send's words and amounts never panic, and an accepted
// amount is positive, has at most the coin's decimals and reads back
// exactly.
func FuzzParseSend(f *testing.F) {
	for _, s := range []string{"0.05 ETH to 0xAbC", "25usdc to @bob on Base", "-1", "1e5", "123456789012345678901", "−1 ,5", ". , to on", "1,000 USDC to @bob", "0,500", "1234,567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := parseSend(s)
		if err != nil || fl.amount == "" {
			return
		}
		v, err := parseAmount(fl.amount, 6, "USDC")
		if err != nil {
			return
		}
		if v.Sign() <= 0 {
			t.Fatalf("%q: amount %s", s, v)
		}
		if w, err := parseAmount(formatAmount(v, 6, exact), 6, "USDC"); err != nil || w.Cmp(v) != 0 {
			t.Fatalf("%q: %s does not read back (%v)", s, v, err)
		}
	})
}
