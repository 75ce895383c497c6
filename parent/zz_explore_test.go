package parent_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
)

func BenchmarkZZUsers(b *testing.B) {
	for _, users := range []int{64, 256} {
		for _, pool := range [][2]int{{16, 0}, {64, 0}, {64, 64}, {256, 0}, {16, 16}} {
			b.Run(fmt.Sprintf("users=%d/idle=%d/max=%d", users, pool[0], pool[1]), func(b *testing.B) {
				enc := testenv.StartEnclave(b, 1337)
				cl := parent.NewEnclaveClientTCP(enc.Addr, 30*time.Second)
				cl.SetEnclaveConns(pool[0], pool[1])
				svc, err := parent.NewService(benchStore(b), cl, nil, parent.ServiceConfig{}, slog.New(slog.DiscardHandler))
				if err != nil {
					b.Fatal(err)
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for range users {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							if _, _, err := svc.EnsureWallet(context.Background(), i); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				reportWallets(b, 0)
			})
		}
	}
}
