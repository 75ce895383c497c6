package parent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/attestation"
	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// countingEnclave is a real enclave server (unlocked, with a dev NSM) on
// loopback whose handler counts the calls per path.
type countingEnclave struct {
	addr  string
	nsm   *enclave.DevNSM
	mu    sync.Mutex
	calls map[string]int
}

func (e *countingEnclave) count(path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[path]
}

func startCountingEnclave(t *testing.T) *countingEnclave {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	cfg := &enclave.Config{Dev: true, BotID: 1, TelegramPublicKey: pub, AllowedChainIDs: []uint64{1337}, MaxAuthAge: time.Hour, ClockSkew: time.Minute}
	root, err := enclave.LoadOrCreateDevRoot(filepath.Join(t.TempDir(), "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	e := &countingEnclave{calls: map[string]int{}}
	if e.nsm, err = enclave.NewDevNSM(root, enclave.EncodeConfig(cfg), nil); err != nil {
		t.Fatal(err)
	}
	signer, err := enclave.NewSigner(cfg, enclave.Options{Entropy: rand.Reader, Attester: e.nsm})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, enclave.VaultKeySize)
	rand.Read(key)
	if err := signer.Unlock(key); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := enclave.NewServer(signer, slog.New(slog.DiscardHandler))
	inner := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.calls[r.URL.Path]++
		e.mu.Unlock()
		inner.ServeHTTP(w, r)
	})
	go enclave.Serve(srv, l)
	t.Cleanup(func() { srv.Close() })
	e.addr = l.Addr().String()
	return e
}

// countingRPC is a test JSON-RPC node on loopback: chain 1337, nonce 0,
// counting calls per method.
type countingRPC struct {
	url   string
	mu    sync.Mutex
	calls map[string]int
}

func (n *countingRPC) count(method string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls[method]
}

func startCountingRPC(t *testing.T) *countingRPC {
	t.Helper()
	n := &countingRPC{calls: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			http.Error(w, "bad request", 400)
			return
		}
		n.mu.Lock()
		n.calls[req.Method]++
		n.mu.Unlock()
		result := map[string]string{"eth_chainId": "0x539", "eth_getTransactionCount": "0x0"}[req.Method]
		if result == "" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": -32601, "message": "no such method"}})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
	}))
	t.Cleanup(srv.Close)
	n.url = srv.URL
	return n
}

// publicAPI is the parent's API (RegisterAPI) on loopback, on the counting
// enclave and node.
func publicAPI(t *testing.T, e *countingEnclave, node *countingRPC) string {
	t.Helper()
	chain, err := parent.DialChain(context.Background(), node.url, 1337, parent.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chain.Close)
	mux := http.NewServeMux()
	svc, err := parent.NewService(nil, parent.NewEnclaveClientTCP(e.addr, 5*time.Second), parent.OneNetwork(chain), parent.ServiceConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	svc.RegisterAPI(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// flood sends n GETs from 32 goroutines and hands each answer to check.
func flood(t *testing.T, n int, url func(i int) string, check func(i, status int, h http.Header, body []byte)) time.Duration {
	t.Helper()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				resp, err := http.Get(url(i))
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				check(i, resp.StatusCode, resp.Header, body)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// TestHealthzFlood: 2,000 GET /healthz cost at most one enclave health call
// and one RPC call per second of the flood (plus one), and every answer is
// the right one.
func TestHealthzFlood(t *testing.T) {
	e, node := startCountingEnclave(t), startCountingRPC(t)
	base := publicAPI(t, e, node)
	const n = 2000
	elapsed := flood(t, n, func(int) string { return base + parent.PathHealthz }, func(_, status int, _ http.Header, body []byte) {
		var h parent.Health
		if err := json.Unmarshal(body, &h); err != nil || status != 200 || !reflect.DeepEqual(h, parent.Health{Status: "ok", Enclave: "unlocked", Chain: "ok", Networks: map[string]string{"1337": "ok"}}) {
			t.Errorf("healthz: %d %s", status, body)
		}
	})
	budget := int(elapsed/time.Second) + 2
	enc, rpc := e.count(protocol.PathHealth), node.count("eth_getTransactionCount")
	t.Logf("%d requests in %v: %d enclave health calls, %d RPC calls (budget %d)", n, elapsed, enc, rpc, budget)
	if enc < 1 || enc > budget || rpc < 1 || rpc > budget {
		t.Fatalf("%d enclave and %d RPC calls for %d requests in %v, want 1 to %d", enc, rpc, n, elapsed, budget)
	}
	// After the cache's second, a new check happens: the answer follows
	// the world, it is not frozen.
	before := e.count(protocol.PathHealth)
	time.Sleep(1100 * time.Millisecond)
	if resp, err := http.Get(base + parent.PathHealthz); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after a second: %v", err)
	}
	if e.count(protocol.PathHealth) != before+1 {
		t.Fatalf("no fresh check after the cache expired: %d -> %d", before, e.count(protocol.PathHealth))
	}
}

// TestAttestationFlood: 300 GET /attestation with distinct nonces cost at
// most the bucket's burst plus its rate over the flood's time in NSM calls;
// every 200 carries a document that verifies over its own nonce, every other
// answer is 429 rate_limited in the API's error shape with Retry-After; a
// malformed request spends no token.
func TestAttestationFlood(t *testing.T) {
	e, node := startCountingEnclave(t), startCountingRPC(t)
	base := publicAPI(t, e, node)
	const n = 300
	nonce := func(i int) []byte { return []byte{byte(i >> 8), byte(i), 0xa5} }
	var ok, limited atomic.Int64
	elapsed := flood(t, n, func(i int) string {
		return base + parent.PathAttestation + "?nonce=" + hex.EncodeToString(nonce(i))
	}, func(i, status int, h http.Header, body []byte) {
		switch status {
		case 200:
			var out protocol.AttestationResponse
			if err := json.Unmarshal(body, &out); err != nil {
				t.Errorf("200 without a document: %s", body)
				return
			}
			if _, err := attestation.Verify(out.Document, attestation.Options{Time: time.Now(), RootSHA256: e.nsm.Root().SHA256(), Nonce: nonce(i), PCRs: map[int][]byte{0: e.nsm.PCR0()}}); err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			ok.Add(1)
		case 429:
			err := protocol.ReadError(&http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(body))})
			if !errors.Is(err, &protocol.Error{Code: protocol.CodeRateLimited}) || h.Get("Retry-After") != "1" {
				t.Errorf("429: %v, Retry-After %q", err, h.Get("Retry-After"))
			}
			limited.Add(1)
		default:
			t.Errorf("status %d: %s", status, body)
		}
	})
	calls := e.count(protocol.PathAttestation)
	budget := 5 + int(elapsed/time.Second) + 1
	t.Logf("%d requests in %v: %d answered, %d limited, %d enclave attestation calls (budget %d)", n, elapsed, ok.Load(), limited.Load(), calls, budget)
	if calls < 1 || calls > budget || int64(calls) != ok.Load() || ok.Load()+limited.Load() != n {
		t.Fatalf("%d enclave calls, %d answered, %d limited of %d, budget %d", calls, ok.Load(), limited.Load(), n, budget)
	}
	// A malformed request is refused as such, even with the bucket empty,
	// and costs no enclave call.
	for range 20 {
		resp, err := http.Get(base + parent.PathAttestation + "?nonce=zz")
		if err != nil {
			t.Fatal(err)
		}
		if err := protocol.ReadError(resp); resp.StatusCode != 400 || !errors.Is(err, protocol.ErrMalformedRequest) {
			t.Fatalf("malformed during the flood: %d %v", resp.StatusCode, err)
		}
		resp.Body.Close()
	}
	if got := e.count(protocol.PathAttestation); got != calls {
		t.Fatalf("malformed requests reached the enclave: %d -> %d", calls, got)
	}
	// The bucket refills: after a while a request is served again.
	time.Sleep(1100 * time.Millisecond)
	resp, err := http.Get(base + parent.PathAttestation + "?nonce=01")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the refill: %v %v", resp, err)
	}
	resp.Body.Close()
}
