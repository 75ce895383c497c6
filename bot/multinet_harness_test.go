package bot_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/parent/watch"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// multiWorld is the bot over two real embedded chains, like `autowallet
// dev`: Dev L1 (test USDC listed as USDC) and Dev L2 (an OP-stack stand-in
// with the GasPriceOracle, its test token listed as USDT), each with an
// explorer URL so links can be checked. The two listings differ on purpose:
// ETH is on both networks (a choice), USDC only on Dev L1, USDT only on
// Dev L2.
type multiWorld struct {
	world
	l1, l2 *devchain.Chain
	nets   networks.Set
}

const (
	explorerL1 = "https://l1.explorer.test"
	explorerL2 = "https://l2.explorer.test"
)

func newMultiWorld(t *testing.T) *multiWorld { return startMultiWorld(t, false) }

// newAlertsWorld is a multiWorld with the incoming-funds watcher of both
// networks running, its alerts delivered by the bot's Notify.
func newAlertsWorld(t *testing.T) *multiWorld { return startMultiWorld(t, true) }

func startMultiWorld(t *testing.T, alerts bool) *multiWorld {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	l1, err := devchain.StartWith(devchain.Options{ChainID: networks.DevL1ChainID, Period: 200 * time.Millisecond, Log: quiet, TestUSDC: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l1.Close() })
	l2, err := devchain.StartWith(devchain.Options{ChainID: networks.DevL2ChainID, Period: 100 * time.Millisecond, Log: quiet, TestUSDC: true,
		L1BaseFee: big.NewInt(2_000_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l2.Close() })
	n1, n2 := networks.DevL1(), networks.DevL2()
	n1.ExplorerURL, n2.ExplorerURL = explorerL1, explorerL2
	n1.Tokens = []networks.Token{{Address: l1.USDC, Symbol: "USDC", Decimals: 6}}
	n2.Tokens = []networks.Token{{Address: l2.USDC, Symbol: "USDT", Decimals: 6}}
	n2.L1DataFee = true
	enc := testenv.StartEnclaveWithTokens(t, map[uint64][]common.Address{
		networks.DevL1ChainID: {l1.USDC}, networks.DevL2ChainID: {l2.USDC},
	}, networks.DevL1ChainID, networks.DevL2ChainID)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var ncs []parent.NetworkChain
	for _, nc := range []struct {
		n networks.Network
		c *devchain.Chain
	}{{n1, l1}, {n2, l2}} {
		pc, err := parent.DialChain(context.Background(), nc.c.URL, nc.n.ChainID, parent.ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pc.Close)
		ncs = append(ncs, parent.NetworkChain{Network: nc.n, Chain: pc})
	}
	svc, err := parent.NewService(store, parent.NewEnclaveClientTCP(enc.Addr, 10*time.Second), ncs,
		parent.ServiceConfig{Confirmations: 1, PollInterval: 200 * time.Millisecond}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.New(emulator.Config{
		BotToken: testToken, BotUsername: "test_wallet_bot", MiniAppShortName: "wallet",
		MiniAppURL: "http://127.0.0.1/miniapp/", SigningKey: enc.Key,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.RegisterAPI(mux)
	emu.Register(mux)
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	set := networks.Set{n1, n2}
	b := runBot(t, svc, api.URL, &twoFaucet{chains: []*devchain.Chain{l1, l2}, nets: set}, emu.Close)
	if alerts {
		addrs := watch.NewAddresses(0)
		svc.OnWalletCreated(func(w storage.Wallet) { addrs.Watch(w.Address, w.Owner) })
		sources := map[uint64]watch.Source{}
		for _, c := range []*devchain.Chain{l1, l2} {
			src, err := watch.Dial(context.Background(), c.URL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(src.Close)
			sources[c.ID] = src
		}
		a, err := watch.NewAlerts(watch.Config{Store: store, Networks: set, Sources: sources, Notify: b.Notify,
			Logger: quiet, Addresses: addrs, Poll: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { a.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return &multiWorld{world: world{emu: emu, svc: svc, chain: l1, api: api, enc: enc}, l1: l1, l2: l2, nets: set}
}

// twoFaucet drips ETH and the test token on both chains (bot.MultiFaucet),
// as dev mode's faucet does.
type twoFaucet struct {
	chains []*devchain.Chain
	nets   networks.Set
}

func (f *twoFaucet) Drip(ctx context.Context, to common.Address) (*big.Int, common.Hash, error) {
	return f.chains[0].Drip(ctx, to)
}

func (f *twoFaucet) DripAll(ctx context.Context, to common.Address) ([]bot.FaucetDrop, error) {
	var drops []bot.FaucetDrop
	var errs []error
	for i, c := range f.chains {
		n := f.nets[i]
		if amount, hash, err := c.Drip(ctx, to); err != nil {
			errs = append(errs, err)
		} else {
			drops = append(drops, bot.FaucetDrop{Network: n.Name, Symbol: n.NativeSymbol, Decimals: 18, Amount: amount, Tx: hash, TxURL: n.TxURL(hash)})
		}
		if amount, hash, err := c.DripToken(ctx, to); err != nil {
			errs = append(errs, fmt.Errorf("%s token: %w", n.Name, err))
		} else {
			drops = append(drops, bot.FaucetDrop{Network: n.Name, Symbol: n.Tokens[0].Symbol, Decimals: 6, Amount: amount, Tx: hash, TxURL: n.TxURL(hash)})
		}
	}
	return drops, errors.Join(errs...)
}

// fundAll asks the faucet and waits until the wallet card shows all four
// balances.
func (u *user) fundAll(card emulator.Message) emulator.Message {
	u.t.Helper()
	u.say("/faucet")
	u.waitEdit(card.ID, "Dev L1: 1 ETH, 100 USDC")
	return u.waitEdit(card.ID, "Dev L2: 1 ETH, 100 USDT")
}

func afterMs(ms int) <-chan time.Time { return time.After(time.Duration(ms) * time.Millisecond) }
