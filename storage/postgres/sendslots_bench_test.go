package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// BenchmarkReserveSendParallel reserves send slots for 10,000 chats in
// turn from 16 goroutines per CPU over 32 connections, on a durable
// server: the price of the send path. "index" is the schema as migrated
// (send_slots_tat, which every reservation that moves a chat's time
// updates); "noindex" drops it, the schema before migration 0004.
func BenchmarkReserveSendParallel(b *testing.B) {
	for _, name := range []string{"index", "noindex"} {
		b.Run(name, func(b *testing.B) {
			db := durableDB(b, 32)
			if name == "noindex" {
				if _, err := db.Pool().Exec(context.Background(), `DROP INDEX send_slots_tat`); err != nil {
					b.Fatal(err)
				}
			}
			// Loose limits: every reservation is granted and moves both
			// rows' times (the bot's and the chat's).
			l := storage.SendLimits{Global: storage.RateLimit{Every: time.Microsecond, Burst: 1000}, Chat: storage.RateLimit{Every: time.Microsecond, Burst: 1000}}
			b.ReportAllocs()
			b.SetParallelism(16)
			var next atomic.Int64
			b.ResetTimer()
			t0 := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					chat := 1 + next.Add(1)%10_000
					if _, ok, err := db.ReserveSend(chat, l); err != nil || !ok {
						b.Error(err, ok)
						return
					}
				}
			})
			b.ReportMetric(float64(next.Load())/time.Since(t0).Seconds(), "sends/s")
		})
	}
}
