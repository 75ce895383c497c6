package bot_test

import (
	"context"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/metrics"
)

// TestCardEditPanicLeavesWorkersRunning: a card edit that panics (made to,
// through the test hook) ends that edit only: the store queue's card
// editor edits the next transfer's card, the card queue's worker refreshes
// the next wallet card (on the same worker), each panic is counted under
// its worker and logged without the panic's value, and the parent lives
// on.
func TestCardEditPanicLeavesWorkersRunning(t *testing.T) {
	svc, chain, enc := newService(t)
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
	defer api.Close()
	m := metrics.New(metrics.Options{})
	logs := &syncBuffer{}
	b, err := bot.New(bot.Config{Token: testToken, APIURL: api.URL, MiniAppLink: testMiniApp, Faucet: chain,
		Metrics: m, Log: slog.New(slog.NewTextHandler(logs, nil))}, svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); b.Run(ctx) }()
	go func() { defer wg.Done(); svc.Track(ctx) }()
	defer func() { cancel(); emu.Close(); wg.Wait() }()

	// Two users whose wallet refreshes go to the same card queue worker
	// (the queue picks the worker by an FNV hash of the id, of 4).
	worker := func(id int64) uint32 {
		h := fnv.New32a()
		h.Write([]byte("wallet:" + strconv.FormatInt(id, 10)))
		return h.Sum32() % 4
	}
	ann := int64(951)
	bob := ann + 1
	for worker(bob) != worker(ann) {
		bob++
	}
	const secret = "panic-value-with-a-secret-0123456789"
	var firstTransfer atomic.Value // the id of the first transfer card edited
	firstTransfer.Store("")
	var annPanicked atomic.Bool
	defer bot.SetCardEditHook(func(id string) {
		if id == "wallet:"+strconv.FormatInt(ann, 10) && annPanicked.CompareAndSwap(false, true) {
			panic(secret)
		}
		if !strings.HasPrefix(id, "wallet:") && firstTransfer.CompareAndSwap("", id) {
			panic(secret)
		}
	})()

	w := &world{emu: emu, svc: svc, chain: chain, api: api, enc: enc}
	u := w.user(t, ann, "Ann")
	u.createWallet()
	u.say("/faucet") // the wallet card's refresh after the drip panics
	waitUntil(t, "Ann's wallet refresh panicked", annPanicked.Load)
	v := w.user(t, bob, "Bob")
	vCard := v.createWallet()
	v.fund(vCard) // the same worker refreshes Bob's card

	// Store queue: Bob cancels a transfer; its card's edit panics and is
	// dropped. He cancels a second; its card is edited.
	to := "0x1111111111111111111111111111111111111111"
	first := v.say("/send 0.01 ETH to " + to)
	v.press(first, "Cancel")
	waitUntil(t, "the first card's edit panicked", func() bool { return firstTransfer.Load() != "" })
	second := v.say("/send 0.02 ETH to " + to)
	v.press(second, "Cancel")
	v.waitEdit(second.ID, "Cancelled")

	counts := panicCounts(t, m)
	if counts["card_queue"] != 1 || counts["card_editor"] != 1 {
		t.Fatalf("panics counted %v, want card_queue 1 and card_editor 1", counts)
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Fatal("the panic's value is in the log")
	}
	if strings.Count(out, "background work panicked") != 2 || !strings.Contains(out, "panic_test.go:") {
		t.Fatalf("the log does not tell both panics and where:\n%s", out)
	}
}

// panicCounts reads autowallet_background_panics_total by worker.
func panicCounts(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() == "autowallet_background_panics_total" {
			for _, s := range f.GetMetric() {
				got[s.GetLabel()[0].GetValue()] = s.GetCounter().GetValue()
			}
		}
	}
	return got
}
