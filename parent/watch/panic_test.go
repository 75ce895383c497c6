package watch

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/storage"
)

// TestDelivererSurvivesNotifyPanic: a Notify that panics on one alert (a
// bug in the message it builds) drops that alert like an undeliverable
// one, counted in autowallet_background_panics_total{worker="alerts"}; the
// same owner's next alert is delivered in the same pass, and the outbox
// is empty after it.
func TestDelivererSurvivesNotifyPanic(t *testing.T) {
	db := openStore(t, tempDir(t))
	defer db.Close()
	alice := newWallet(1)
	storeWallets(t, db, alice)
	dep := func(tx byte) storage.Deposit {
		return storage.Deposit{ChainID: 7, From: common.HexToAddress("0xbb"), To: alice.addr, Owner: 1, Amount: big.NewInt(int64(tx)),
			TxHash: common.Hash{tx}, LogIndex: storage.NativeLogIndex, Block: 10, Time: time.Unix(1750000000, 0)}
	}
	if _, err := db.StoreWatchedBlocks(storage.WatchCursor{ChainID: 7, Block: 10, Hashes: []common.Hash{{10}}}, []storage.Deposit{dep(1), dep(2)}); err != nil {
		t.Fatal(err)
	}
	in := &inbox{fail: func(d storage.Deposit) error {
		if d.TxHash == (common.Hash{1}) {
			panic("a bug while writing the alert")
		}
		return nil
	}}
	m := metrics.New(metrics.Options{})
	d := NewDeliverer(db, in.notify, nil)
	d.Metrics = m
	n, err := d.Deliver(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("Deliver = %d, %v; want both alerts done (one dropped)", n, err)
	}
	if got := in.list(); len(got) != 1 || got[0].TxHash != (common.Hash{2}) {
		t.Fatalf("delivered %+v, want the second alert only", got)
	}
	if left, err := db.PendingAlerts(10); err != nil || len(left) != 0 {
		t.Fatalf("outbox after the pass: %+v %v", left, err)
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var panics float64
	for _, f := range fams {
		if f.GetName() == "autowallet_background_panics_total" {
			for _, s := range f.GetMetric() {
				if s.GetLabel()[0].GetValue() == "alerts" {
					panics = s.GetCounter().GetValue()
				}
			}
		}
	}
	if panics != 1 {
		t.Fatalf("alerts panics counted %v, want 1", panics)
	}
}
