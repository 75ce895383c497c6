package parent_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/internal/pgtest"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
	"github.com/autowallet/autowallet/storage/postgres"
	"github.com/autowallet/autowallet/storage/storagetest"
)

// TestWalletRowForged plays the database as the attacker (review 12,
// finding 2): the address column of a user's wallet row is set to the
// attacker's own address, the sealed record left alone, in a bbolt file
// written directly and in PostgreSQL with an UPDATE. Every read of the
// service refuses the row with storage.ErrWalletTampered (an ErrCorrupt):
// no address is handed out, a lookup of the forged address finds nobody,
// a second wallet is not created over it, an error is logged without the
// record, and autowallet_wallet_rows_tampered_total counts it. Another
// user's untouched wallet still reads.
func TestWalletRowForged(t *testing.T) {
	enc := testenv.StartEnclave(t, 1337)
	client := parent.NewEnclaveClientTCP(enc.Addr, 10*time.Second)
	mallory := common.HexToAddress("0x00000000000000000000000000000000000bad01")
	const victim, other = 1501, 1502
	var pg *pgtest.Server

	for _, engine := range []string{"bbolt", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			var open func() storage.Store
			var forge func(storage.Store) storage.Store
			switch engine {
			case "bbolt":
				dir := t.TempDir()
				open = func() storage.Store {
					db, err := bolt.Open(dir, bolt.Options{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					return db
				}
				forge = func(s storage.Store) storage.Store {
					s.(*bolt.DB).Close()
					if err := storagetest.ForgeBoltWalletAddress(filepath.Join(dir, bolt.FileName), victim, mallory); err != nil {
						t.Fatal(err)
					}
					return open()
				}
			case "postgres":
				if pg == nil {
					pg = pgtest.Start(t)
				}
				dsn := pg.NewDatabase(t)
				open = func() storage.Store {
					db, err := postgres.Open(ctx, dsn, postgres.Options{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					return db
				}
				forge = func(s storage.Store) storage.Store {
					tag, err := s.(*postgres.DB).Pool().Exec(ctx, `UPDATE wallets SET address = $1 WHERE owner = $2`, mallory[:], victim)
					if err != nil || tag.RowsAffected() != 1 {
						t.Fatalf("UPDATE: %v, %v", tag, err)
					}
					return s
				}
			}
			service := func(s storage.Store) (*parent.Service, *metrics.Metrics, *bytes.Buffer) {
				m := metrics.New(metrics.Options{})
				var logs bytes.Buffer
				svc, err := parent.NewService(s, client, nil, parent.ServiceConfig{Metrics: m}, slog.New(slog.NewTextHandler(&logs, nil)))
				if err != nil {
					t.Fatal(err)
				}
				return svc, m, &logs
			}

			store := open()
			svc, _, _ := service(store)
			w, _, err := svc.EnsureWallet(ctx, victim)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.EnsureWallet(ctx, other); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Wallet(victim); err != nil {
				t.Fatal("before the forgery:", err)
			}

			svc, m, logs := service(forge(store))
			got, err := svc.Wallet(victim)
			if !errors.Is(err, storage.ErrWalletTampered) || !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("Wallet of the forged row = %s, %v; want ErrWalletTampered", got.Address, err)
			}
			if got.Address != (common.Address{}) {
				t.Fatalf("a refused read still gave the address %s", got.Address)
			}
			if u, ok := svc.OwnerOf(mallory); ok {
				t.Fatalf("the forged address belongs to user %d", u.ID)
			}
			if _, _, err := svc.EnsureWallet(ctx, victim); !errors.Is(err, storage.ErrWalletTampered) {
				t.Fatalf("EnsureWallet over the forged row: %v", err)
			}
			if _, err := svc.ReceiveLink(ctx, victim); !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("ReceiveLink of the forged row: %v", err)
			}
			if _, err := svc.Wallet(other); err != nil {
				t.Fatal("an untouched wallet:", err)
			}
			if n := counterValue(t, m, "autowallet_wallet_rows_tampered_total"); n < 3 {
				t.Fatalf("autowallet_wallet_rows_tampered_total = %v, want a count per refused read (>= 3)", n)
			}
			out := logs.String()
			if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "wallet row refused") || !strings.Contains(out, mallory.Hex()) {
				t.Fatalf("no error log naming the forged address: %s", out)
			}
			if strings.Contains(out, hex.EncodeToString(w.Record[29:])) || strings.Contains(strings.ToLower(out), hex.EncodeToString(w.Record)) {
				t.Fatal("the log carries the sealed record")
			}
		})
	}
}

// counterValue is the sum of the counter name in m's registry; a counter that
// is not there fails the test.
func counterValue(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	v, ok := m.Total(name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return v
}
