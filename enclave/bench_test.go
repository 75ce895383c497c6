package enclave

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// cpuPerOp reports, when the returned func is called after the loop, the
// process's CPU time (user and system, every goroutine: server, client,
// GC) per op as cpu-ns/op. On a shared machine the wall time of a
// benchmark moves with the neighbours' load; the CPU an op costs much less,
// so ratios of cpu-ns/op stay honest under load (internal/benchtable prints
// them beside the wall-time ones).
func cpuPerOp(b *testing.B) func() {
	start := processCPU(b)
	return func() {
		b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchApproval is a valid approval of the vector wallet: the same input for
// every Approve benchmark, so their figures compare.
func benchApproval(b *testing.B) (*fixture, string, []byte) {
	f := newFixture(b)
	rec := mustHex(b, vectorRecord(b).Record)
	r, err := decodeRecord(rec)
	if err != nil {
		b.Fatal(err)
	}
	a := &approval{signer: f.signer, user: r.Owner, authDate: f.now, startParam: f.startParam(f.intent(r.Address)), record: rec}
	return f, f.signInitData(a), rec
}

func BenchmarkApprove(b *testing.B) {
	f, initData, rec := benchApproval(b)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := f.signer.Approve(initData, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApproveHTTP is Approve through the real server on loopback,
// called by the parent's own client (parent.EnclaveClient, its lean
// HTTP/1.1 transport), one approval at a time on one keep-alive
// connection.
func BenchmarkApproveHTTP(b *testing.B) {
	f, initData, rec := benchApproval(b)
	url, _ := startServer(b, f.signer)
	client := parent.NewEnclaveClientTCP(strings.TrimPrefix(url, "http://"), 10*time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, _, err := client.Approve(ctx, initData, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApproveHTTPRawClient is BenchmarkApproveHTTP, the same server and
// request, with the least an HTTP/1.1 client can do: one keep-alive
// connection, the request written in one write, the answer read with
// http.ReadResponse and dropped. The difference to BenchmarkApproveHTTP is
// what the parent's client adds to that (its pool, the request's JSON
// encoding, the strict read of the answer), none of it the enclave's
// (docs/performance.md, "Where an approval's time goes").
func BenchmarkApproveHTTPRawClient(b *testing.B) {
	f, initData, rec := benchApproval(b)
	url, _ := startServer(b, f.signer)
	body := approveBody(b, initData, rec)
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		protocol.PathApprove, len(body), body)
	br := bufio.NewReader(c)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%d %v", resp.StatusCode, err)
		}
	}
}

// The parts of BenchmarkApproveHTTP, for the breakdown in docs/performance.md
// ("Where an approval's time goes"), each with the same request and client:
// BenchmarkApproveHTTPLocked is the enclave's server doing everything but
// Approve (the signer is locked, so the handler decodes the request strictly
// and answers vault_locked), BenchmarkHTTPRoundTrip is net/http alone (a
// handler that reads the body and writes a fixed response of the approve
// response's size) and BenchmarkApproveDecode is the strict decode of the
// request body alone.
func BenchmarkApproveHTTPLocked(b *testing.B) {
	f, initData, rec := benchApproval(b)
	url, _ := startServer(b, f.newSigner(f.cfg, nil))
	benchPost(b, url+protocol.PathApprove, approveBody(b, initData, rec), http.StatusServiceUnavailable)
}

func BenchmarkHTTPRoundTrip(b *testing.B) {
	f, initData, rec := benchApproval(b)
	signed, err := f.signer.Approve(initData, rec)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := json.Marshal(signed.response())
	if err != nil {
		b.Fatal(err)
	}
	resp = append(resp, '\n') // as json.Encoder writes it
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
	})}
	go srv.Serve(l)
	defer srv.Close()
	benchPost(b, "http://"+l.Addr().String()+protocol.PathApprove, approveBody(b, initData, rec), http.StatusOK)
}

func BenchmarkApproveDecode(b *testing.B) {
	_, initData, rec := benchApproval(b)
	body := approveBody(b, initData, rec)
	b.ReportAllocs()
	for b.Loop() {
		var req protocol.ApproveRequest
		if err := protocol.DecodeJSON(bytes.NewReader(body), protocol.MaxRequestBody, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPost posts body to url over one keep-alive connection per iteration
// with net/http's client and wants status back. The Transport is set as the
// parent's enclave client set its own before issue 11's lean transport
// (no compression); BenchmarkApproveHTTP uses the parent's client itself.
func benchPost(b *testing.B, url string, body []byte, status int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != status {
			b.Fatalf("%d %v", resp.StatusCode, err)
		}
	}
}

// BenchmarkApproveFloor is the cryptography an approval cannot avoid: one
// Ed25519 verification of a message the size of the initData, one of the
// 59-byte wallet statement (the intent's wallet proof), one AES-GCM open of a
// 48-byte sealed key, one EIP-1559 signature with the latest signer.
// Approve's cost over this is parsing, checks and encoding.
func BenchmarkApproveFloor(b *testing.B) {
	_, initData, rec := benchApproval(b)
	tg := testvectors.TelegramKey()
	pub := tg.Public().(ed25519.PublicKey)
	msg := []byte(initData)
	sig := ed25519.Sign(tg, msg)
	id := testvectors.IdentityKeyFor(testvectors.VaultKey())
	stmt, err := protocol.StatementMessage(testvectors.Owner, common.Address(rec[9:29]))
	if err != nil {
		b.Fatal(err)
	}
	proof := ed25519.Sign(id, stmt)
	idPub := id.Public().(ed25519.PublicKey)
	block, err := aes.NewCipher(testvectors.VaultKey())
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	priv, err := crypto.ToECDSA(testvectors.WalletKey())
	if err != nil {
		b.Fatal(err)
	}
	to := common.HexToAddress("0x1111111111111111111111111111111111111111")
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: big.NewInt(int64(testvectors.ChainID)), Nonce: 3, GasTipCap: big.NewInt(15e8), GasFeeCap: big.NewInt(3e10),
		Gas: 21000, To: &to, Value: big.NewInt(5e16),
	})
	signer := types.LatestSignerForChainID(tx.ChainId())
	key := make([]byte, 0, 32)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) || !ed25519.Verify(idPub, stmt, proof) {
			b.Fatal("verify")
		}
		if _, err := aead.Open(key[:0], rec[29:41], rec[41:], rec[:29]); err != nil {
			b.Fatal(err)
		}
		if _, err := types.SignTx(tx, signer, priv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateWallet(b *testing.B) {
	s, err := NewSigner(testConfig(), Options{Entropy: rand.Reader})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Unlock(testvectors.VaultKey()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.CreateWallet(alice); err != nil {
			b.Fatal(err)
		}
	}
}
