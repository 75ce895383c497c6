package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/postgres"
)

// The price an index on the slots' times (send_slots_tat, for the prune:
// measured and left out, docs/postgres.md "The send-slot prune") would put
// on the send path, on a durable server: "index" adds it, so that
// reservations update it (and are no longer HOT updates); "noindex" is the
// schema as migrated. Loose limits: every reservation is
// granted and moves both rows' times (the bot's and the chat's), over
// 10,000 chats in turn.

var looseSendLimits = storage.SendLimits{
	Global: storage.RateLimit{Every: time.Microsecond, Burst: 1000},
	Chat:   storage.RateLimit{Every: time.Microsecond, Burst: 1000},
}

func sendSlotsDB(b *testing.B, index bool) *postgres.DB {
	b.Helper()
	db := durableDB(b, 32)
	if index {
		if _, err := db.Pool().Exec(context.Background(), `CREATE INDEX send_slots_tat ON send_slots (tat) WHERE chat_id <> 0`); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// walLSN is the server's WAL position; walSince the bytes written since.
func walLSN(b *testing.B, db *postgres.DB) string {
	b.Helper()
	var lsn string
	if err := db.Pool().QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		b.Fatal(err)
	}
	return lsn
}

func walSince(b *testing.B, db *postgres.DB, lsn string) int64 {
	b.Helper()
	var n int64
	if err := db.Pool().QueryRow(context.Background(), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint`, lsn).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkReserveSend: one caller, a reservation at a time (the latency
// at Telegram's 30 messages a second, far below what the store allows),
// and the WAL each writes (WAL-B/op: what the index adds to every
// reservation, steadier than the time on a shared machine).
func BenchmarkReserveSend(b *testing.B) {
	for _, name := range []string{"index", "noindex"} {
		b.Run(name, func(b *testing.B) {
			db := sendSlotsDB(b, name == "index")
			b.ReportAllocs()
			wal0 := walLSN(b, db)
			var chat int64
			for b.Loop() {
				chat = 1 + (chat+1)%10_000
				if _, _, err := db.ReserveSend(chat, looseSendLimits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(walSince(b, db, wal0))/float64(b.N), "WAL-B/op")
		})
	}
}

// BenchmarkReserveSendParallel: 16 goroutines per CPU over 32 connections,
// all taking the bot's row in turn: the store's most reservations a second.
func BenchmarkReserveSendParallel(b *testing.B) {
	for _, name := range []string{"index", "noindex"} {
		b.Run(name, func(b *testing.B) {
			db := sendSlotsDB(b, name == "index")
			b.ReportAllocs()
			b.SetParallelism(16)
			var next atomic.Int64
			b.ResetTimer()
			t0 := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := db.ReserveSend(1+next.Add(1)%10_000, looseSendLimits); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(next.Load())/time.Since(t0).Seconds(), "sends/s")
		})
	}
}
