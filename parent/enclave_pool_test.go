package parent_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
)

// TestEnclaveClientBoundsConnections: 3 rounds of 64 concurrent wallet
// creations reach the enclave over at most 16 connections in all: requests
// beyond the pool wait for a connection instead of dialing one each (a
// burst of taps cannot make the parent open and close hundreds of
// connections to the enclave, or the enclave juggle them).
func TestEnclaveClientBoundsConnections(t *testing.T) {
	enc := testenv.StartEnclave(t, 1337)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var conns sync.WaitGroup
	go func() { // a counting proxy in front of the enclave
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				up, err := net.Dial("tcp", enc.Addr)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	client := parent.NewEnclaveClientTCP(l.Addr().String(), 10*time.Second)
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := client.CreateWallet(context.Background(), int64(1+round*64+i)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	if n := accepted.Load(); n > 16 || n == 0 {
		t.Fatalf("the client opened %d connections to the enclave for 192 requests, want 1..16", n)
	}
	t.Logf("%d connections for 192 requests", accepted.Load())
	l.Close()
}
