package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// buildAutowallet compiles this command once per test binary (shared with
// the fault tests' builds).
func buildAutowallet(t *testing.T) string {
	t.Helper()
	bin, _ := buildFaultBins(t)
	return bin
}

// TestMain removes the binaries the process tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if faultBins.dir != "" {
		os.RemoveAll(faultBins.dir)
	}
	os.Exit(code)
}

// parentProcess is `autowallet parent` running as its own process.
type parentProcess struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func startParent(t *testing.T, bin string, args ...string) *parentProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"parent"}, args...)...)
	cmd.Env = append(os.Environ(), "ETH_RPC_URL=", "TELEGRAM_BOT_ID=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := new(bytes.Buffer)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "listening on "); ok {
				lines <- url
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-lines:
		return &parentProcess{cmd: cmd, url: url, logs: logs}
	case <-time.After(60 * time.Second):
		t.Fatalf("parent did not start; its log:\n%s", logs)
	}
	return nil
}

// TestParentKilledBetweenSignedAndSent: the parent stores the signed
// transaction, is killed with SIGKILL before it could broadcast (the node was
// down), and a new parent process on the same data folder sends it exactly
// once.
func TestParentKilledBetweenSignedAndSent(t *testing.T) {
	node := testchain.Start(t)
	enc := testenv.StartEnclave(t, node.ChainID)
	data := t.TempDir()
	bin := buildAutowallet(t)

	// Prepare wallets and a built transfer with the same parts the process uses.
	alice, bob, tr := func() (storage.Wallet, storage.Wallet, storage.Transfer) {
		store, err := bolt.Open(data, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		chain, err := parent.DialChain(context.Background(), node.URL, node.ChainID, parent.ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer chain.Close()
		svc, err := parent.NewService(store, parent.NewEnclaveClientTCP(enc.Addr, 10*time.Second), parent.OneNetwork(chain),
			parent.ServiceConfig{}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		alice, _, err := svc.EnsureWallet(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		bob, _, err := svc.EnsureWallet(context.Background(), 2)
		if err != nil {
			t.Fatal(err)
		}
		node.Fund(t, alice.Address, big.NewInt(1e18))
		tr, err := svc.Build(context.Background(), parent.BuildRequest{Owner: 1, To: bob.Address, Amount: big.NewInt(123e15)})
		if err != nil {
			t.Fatal(err)
		}
		return alice, bob, tr
	}()

	args := []string{
		"-data", data, "-http", "127.0.0.1:0", "-rpc", node.URL, "-chain-id", strconv.FormatUint(node.ChainID, 10),
		"-enclave-tcp", enc.Addr, "-bot-id", strconv.FormatInt(testenv.BotID, 10),
		"-telegram-public-key", hex.EncodeToString(enc.Key.Public().(ed25519.PublicKey)),
		"-poll", "200ms", "-confirmations", "1",
	}
	p := startParent(t, bin, args...)
	node.Stop(t)
	body, _ := json.Marshal(parent.MiniAppRequest{InitData: enc.InitData(1, tr.StartParam)})
	resp, err := http.Post(p.url+parent.PathMiniAppApprove, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var ok parent.MiniAppResponse
	json.NewDecoder(resp.Body).Decode(&ok)
	resp.Body.Close()
	if resp.StatusCode != 200 || ok.Status != "approved" {
		t.Fatalf("approve with node down = %d %+v", resp.StatusCode, ok)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()

	node.Start(t)
	p2 := startParent(t, bin, args...)
	chain, err := parent.DialChain(context.Background(), node.URL, node.ChainID, parent.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	want := big.NewInt(123e15)
	for i := 0; ; i++ {
		b, err := chain.Balance(context.Background(), bob.Address)
		if err == nil && b.Cmp(want) == 0 {
			break
		}
		if i == 300 {
			t.Fatalf("bob's balance = %v, want %v; parent log:\n%s", b, want, p2.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Let the tracker see the confirmation, then stop the parent cleanly.
	var final storage.Transfer
	for i := 0; ; i++ {
		time.Sleep(300 * time.Millisecond)
		if i == 100 {
			t.Fatalf("transfer not confirmed; parent log:\n%s", p2.logs)
		}
		r, err := chain.Receipt(context.Background(), common.HexToHash(ok.TxHash))
		if err != nil {
			continue
		}
		if confs, _ := chain.Confirmations(context.Background(), r); confs >= 2 {
			break
		}
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("parent exit: %v\n%s", err, p2.logs)
	}
	store, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if final, err = store.Transfer(tr.ID); err != nil || final.State != storage.StateConfirmed || final.TxHash.Hex() != ok.TxHash {
		t.Fatalf("transfer after restart = %s %s, %v", final.State, final.TxHash.Hex(), err)
	}
	if n, _ := chain.PendingNonce(context.Background(), alice.Address); n != 1 {
		t.Fatalf("alice's nonce = %d, want 1: the transfer was sent exactly once", n)
	}
}
