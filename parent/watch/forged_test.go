package watch

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestForgedWalletRowNoAlert: a database writer sets alice's wallet row to
// the attacker's address (bbolt file written directly; PostgreSQL UPDATE),
// the record left alone. The watcher loads the forged address into its set
// from the row, but a deposit to it is not stored or announced as alice's:
// the row disagrees with the record's header (verify.go). An error is
// logged and autowallet_wallet_rows_tampered_total counts it; bob's
// deposit in the same block is announced.
func TestForgedWalletRowNoAlert(t *testing.T) {
	for _, engine := range []string{"bbolt", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			alice, bob := newWallet(1), newWallet(2)
			mallory := newWallet(66)
			s := newSim(t)
			var db storage.Store
			switch engine {
			case "bbolt":
				dir := tempDir(t)
				b := openStore(t, dir)
				storeWallets(t, b, alice, bob)
				b.Close()
				if err := storagetest.ForgeBoltWalletAddress(filepath.Join(dir, bolt.FileName), alice.owner, mallory.addr); err != nil {
					t.Fatal(err)
				}
				db = openStore(t, dir)
			case "postgres":
				ctx := context.Background()
				p, err := postgres.Open(ctx, pgtest.Start(t).NewDatabase(t), postgres.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Close() })
				for _, w := range []wallet{alice, bob} {
					if _, _, err := p.CreateWallet(storage.Wallet{Owner: w.owner, Address: w.addr, Record: recordOf(w.owner, w.addr)}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := p.Pool().Exec(ctx, `UPDATE wallets SET address = $1 WHERE owner = $2`, mallory.addr[:], alice.owner); err != nil {
					t.Fatal(err)
				}
				db = p
			}
			addrs, err := LoadAddresses(db)
			if err != nil {
				t.Fatal(err)
			}
			if o, ok := addrs.Owner(mallory.addr); !ok || o != alice.owner {
				t.Fatalf("the forgery did not take: the set says %d, %v", o, ok)
			}
			m := metrics.New(metrics.Options{})
			var logs bytes.Buffer
			w, err := New(Options{Network: devNetwork(1), Source: s.source(), Store: db, Addresses: addrs, Metrics: m,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			var in inbox
			d := NewDeliverer(db, in.notify, nil)
			drain(t, w, d)

			toMallory := s.send(s.faucet, &mallory.addr, eth(1), nil)
			toBob := s.send(s.faucet, &bob.addr, eth(2), nil)
			s.mine(1, toMallory.Hash(), toBob.Hash())
			drain(t, w, d)
			if got := in.byTx(toMallory.Hash()); len(got) != 0 {
				t.Fatalf("a deposit to the forged address was announced: %+v", got)
			}
			if got := in.byTx(toBob.Hash()); len(got) != 1 || got[0].Owner != bob.owner {
				t.Fatalf("bob's deposit: %+v", got)
			}
			if hist, err := db.Deposits(alice.owner, 10, 0); err != nil || len(hist) != 0 {
				t.Fatalf("alice's stored deposits: %v %+v", err, hist)
			}
			if n := counter(t, m, "autowallet_wallet_rows_tampered_total"); n < 1 {
				t.Fatalf("autowallet_wallet_rows_tampered_total = %v", n)
			}
			if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "not announced") {
				t.Fatalf("no error log: %s", out)
			}
		})
	}
}

// counter is the sum of the counter name in m's registry; a counter that
// is not there fails the test.
func counter(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	v, ok := m.Total(name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return v
}
