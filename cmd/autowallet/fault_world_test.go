package main

// The fault tests' world: real processes where the fault is a process
// dying. geth --dev (internal/testchain), the enclave as the cmd/enclave
// program on a fixed loopback port with its dev vault key file, the
// Telegram emulator standing in for Telegram (in this process, with hooks
// on the Bot API), and `autowallet parent` processes with a bot token,
// killed and restarted on one data folder. After each fault the world's
// promises are checked (checkPromises).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// faultBins are the two programs, built once per test binary.
var faultBins struct {
	once             sync.Once
	dir              string
	autowallet, encl string
	err              error
}

func buildFaultBins(t *testing.T) (autowallet, enclaveBin string) {
	t.Helper()
	faultBins.once.Do(func() {
		if faultBins.dir, faultBins.err = os.MkdirTemp("", "autowallet-fault-"); faultBins.err != nil {
			return
		}
		faultBins.autowallet = filepath.Join(faultBins.dir, "autowallet")
		faultBins.encl = filepath.Join(faultBins.dir, "enclave")
		for bin, pkg := range map[string]string{faultBins.autowallet: ".", faultBins.encl: "../enclave"} {
			if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
				faultBins.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if faultBins.err != nil {
		t.Fatal(faultBins.err)
	}
	return faultBins.autowallet, faultBins.encl
}

const faultToken = "4242:fault-test"

type faultWorld struct {
	t        *testing.T
	node     *testchain.Node
	tg       ed25519.PrivateKey
	emu      *emulator.Emulator
	tgURL    string
	data     string
	bin      string
	encBin   string
	encAddr  string // fixed 127.0.0.1:port of the enclave
	encCfg   string
	vaultKey string
	enc      *exec.Cmd
	encLog   *bytes.Buffer
	// dialEnclave is what the parent dials: encAddr, or a proxy to it.
	dialEnclave string

	// botHook, when set, runs before the emulator serves a Bot API method;
	// returning true drops the request (the bot sees a 502).
	botHook atomic.Pointer[func(method string) bool]
	// enclaveHook, when set, sees every enclave answer the proxy relays;
	// returning an error drops the answer.
	enclaveHook atomic.Pointer[func(path string) error]

	parents []*parentProcess
}

func newFaultWorld(t *testing.T, chainOpts ...testchain.Option) *faultWorld {
	t.Helper()
	w := &faultWorld{t: t, data: t.TempDir()}
	w.bin, w.encBin = buildFaultBins(t)
	w.node = testchain.Start(t, chainOpts...)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	w.tg = key

	// Enclave: a dev config trusting the emulator's key, a key file, a port.
	cfg, _ := json.Marshal(map[string]any{
		"version": 1, "mode": "dev", "bot_id": testenv.BotID, "telegram_public_key": hex.EncodeToString(pub),
		"allowed_chain_ids": []uint64{w.node.ChainID}, "max_auth_age": "1h", "clock_skew": "1m",
	})
	dir := t.TempDir()
	w.encCfg, w.vaultKey = filepath.Join(dir, "enclave.json"), filepath.Join(dir, "vault.key")
	if err := os.WriteFile(w.encCfg, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.encAddr = l.Addr().String()
	l.Close()
	w.startEnclave()
	t.Cleanup(func() { w.killEnclave() })

	// A proxy in front of the enclave, for the hooks.
	target, _ := url.Parse("http://" + w.encAddr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if h := w.enclaveHook.Load(); h != nil {
			return (*h)(r.Request.URL.Path)
		}
		return nil
	}
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	w.dialEnclave = strings.TrimPrefix(ps.URL, "http://")

	// Telegram.
	w.emu, err = emulator.New(emulator.Config{BotToken: faultToken, BotUsername: "fault_bot", MiniAppShortName: "wallet",
		MiniAppURL: "https://pages.example/miniapp/", SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	emuHandler := w.emu.Handler()
	tg := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		method := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		if h := w.botHook.Load(); h != nil && (*h)(method) {
			http.Error(rw, "dropped by the test", http.StatusBadGateway)
			return
		}
		emuHandler.ServeHTTP(rw, r)
	}))
	t.Cleanup(tg.Close)
	t.Cleanup(w.emu.Close)
	w.tgURL = tg.URL
	return w
}

// startEnclave runs the enclave program on the fixed address; with the key
// file it comes up unlocked.
func (w *faultWorld) startEnclave() {
	w.t.Helper()
	cmd := exec.Command(w.encBin, "-config", w.encCfg, "-tcp", w.encAddr, "-dev-vault-key", w.vaultKey, "-entropy", "os")
	stdout, _ := cmd.StdoutPipe()
	w.encLog = new(bytes.Buffer)
	cmd.Stderr = w.encLog
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "enclave listening on ") {
				up <- true
			}
		}
		close(up)
	}()
	select {
	case ok := <-up:
		if !ok {
			cmd.Wait()
			w.t.Fatalf("enclave exited: %s", w.encLog)
		}
	case <-time.After(30 * time.Second):
		w.t.Fatalf("enclave did not start: %s", w.encLog)
	}
	w.enc = cmd
}

// killEnclave sends SIGKILL to the enclave process.
func (w *faultWorld) killEnclave() {
	if w.enc != nil {
		w.enc.Process.Kill()
		w.enc.Wait()
		w.enc = nil
	}
}

func (w *faultWorld) parentArgs() []string {
	return []string{
		"-data", w.data, "-http", "127.0.0.1:0", "-rpc", w.node.URL, "-chain-id", strconv.FormatUint(w.node.ChainID, 10),
		"-enclave-tcp", w.dialEnclave, "-telegram-public-key", hex.EncodeToString(w.tg.Public().(ed25519.PublicKey)),
		"-bot-token", faultToken, "-telegram-api", w.tgURL, "-miniapp", "https://t.me/fault_bot/wallet",
		"-poll", "200ms", "-confirmations", "2",
	}
}

// startParent starts `autowallet parent` on the world's data folder.
func (w *faultWorld) startParent(extra ...string) *parentProcess {
	w.t.Helper()
	p := startParent(w.t, w.bin, append(w.parentArgs(), extra...)...)
	w.parents = append(w.parents, p)
	return p
}

// kill9 kills a parent with SIGKILL and waits for it to be gone.
func kill9(t *testing.T, p *parentProcess) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

// stopParent stops a parent cleanly (SIGTERM) so the test may open its store.
func stopParent(t *testing.T, p *parentProcess) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("parent did not stop on SIGTERM; log:\n%s", p.logs)
	}
}

// parentLogs is every parent's log so far, for failure messages and counts.
func (w *faultWorld) parentLogs() string {
	var b strings.Builder
	for i, p := range w.parents {
		fmt.Fprintf(&b, "--- parent %d ---\n%s", i+1, p.logs)
	}
	return b.String()
}

// approveVia posts initData to a parent's Mini App API.
func approveVia(t *testing.T, p *parentProcess, initData string) (int, parent.MiniAppResponse, protocol.Code) {
	t.Helper()
	body, _ := json.Marshal(parent.MiniAppRequest{InitData: initData})
	resp, err := http.Post(p.url+parent.PathMiniAppApprove, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ok parent.MiniAppResponse
	var e struct{ Error *protocol.Error }
	json.Unmarshal(b, &ok)
	json.Unmarshal(b, &e)
	var code protocol.Code
	if e.Error != nil {
		code = e.Error.Code
	}
	return resp.StatusCode, ok, code
}

// health is a parent's /healthz. The parent answers from a check up to a
// second old (parent/ratelimit.go), so it first waits that long: the answer
// then reflects the world after the fault the caller just made.
func health(t *testing.T, p *parentProcess) parent.Health {
	t.Helper()
	time.Sleep(1100 * time.Millisecond)
	resp, err := http.Get(p.url + parent.PathHealthz)
	if err != nil {
		t.Fatalf("the parent stopped serving: %v", err)
	}
	defer resp.Body.Close()
	var h parent.Health
	json.NewDecoder(resp.Body).Decode(&h)
	return h
}

// sendCard asks the bot to send amount ETH to `to` and returns the
// transfer's card with its Review & approve link.
func sendCard(t *testing.T, u *emulator.User, amount string, to common.Address) (emulator.Message, string) {
	t.Helper()
	card := ask(t, u, "/send "+amount+" ETH to "+to.Hex(), func(m emulator.Message) bool { return approveLink(m) != "" })
	return card, approveLink(card)
}

func approveLink(m emulator.Message) string {
	for _, row := range m.Buttons {
		for _, b := range row {
			if strings.Contains(b.URL, "startapp=") {
				return b.URL
			}
		}
	}
	return ""
}

// waitFor polls cond every 100ms up to limit; it reports whether cond held.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMessage waits for u's chat to hold a message matching ok.
func waitMessage(t *testing.T, u *emulator.User, what string, ok func(emulator.Message) bool) emulator.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := u.WaitMessage(ctx, ok)
	if err != nil {
		t.Fatalf("no %s: %v", what, err)
	}
	return m
}

var addressPattern = regexp.MustCompile(`0x[0-9a-fA-F]{40}`)

// checkPromises opens the (stopped) parent's store and checks what every
// fault must leave true:
//   - every address shown to a user in chat as their wallet is stored, with
//     a record the enclave opens: it approves a transfer from it;
//   - every stored wallet's record opens in the enclave;
//   - no transfer was sent twice: each wallet's nonce on chain equals the
//     number of its transfers that reached the chain;
//   - every transfer is final, or built (its card asks for approval).
func (w *faultWorld) checkPromises(users ...*emulator.User) {
	t := w.t
	t.Helper()
	store, err := bolt.Open(w.data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	wallets := map[common.Address]storage.Wallet{}
	store.ForEachWallet(func(wal storage.Wallet) error { wallets[wal.Address] = wal; return nil })
	for _, u := range users {
		for _, m := range u.Messages() {
			if !m.FromBot || m.PhotoFileID == "" { // wallet cards are photos (QR code)
				continue
			}
			for _, a := range addressPattern.FindAllString(m.Caption, -1) {
				wal, ok := wallets[common.HexToAddress(a)]
				if !ok || wal.Owner != u.ID() {
					t.Fatalf("user %d was shown wallet %s, which is not stored as theirs", u.ID(), a)
				}
			}
		}
	}
	chain, err := parent.DialChain(context.Background(), w.node.URL, w.node.ChainID, parent.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	for addr, wal := range wallets {
		w.enclaveSigns(wal)
		sent := 0
		for _, tr := range mustTransfers(t, store, wal.Owner) {
			switch tr.State {
			case storage.StateSent, storage.StateConfirmed:
				sent++
			case storage.StateApproved:
				t.Fatalf("transfer %s is still approved (not sent) after recovery", tr.ID)
			}
			if !tr.State.Final() && tr.State != storage.StateBuilt {
				t.Fatalf("transfer %s is %s after recovery", tr.ID, tr.State)
			}
		}
		if n, err := chain.LatestNonce(context.Background(), addr); err != nil || n != uint64(sent) {
			t.Fatalf("wallet %s: nonce on chain %d (%v), %d transfers sent", addr.Hex(), n, err, sent)
		}
	}
}

func mustTransfers(t *testing.T, store *bolt.DB, owner int64) []storage.Transfer {
	t.Helper()
	trs, err := store.TransfersByOwner(owner, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	return trs
}

// enclaveSigns asks the enclave directly to approve a transfer from the
// stored wallet, with initData signed for its owner: the record opens.
func (w *faultWorld) enclaveSigns(wal storage.Wallet) {
	t := w.t
	t.Helper()
	in := &protocol.Intent{ChainID: w.node.ChainID, From: wal.Address, To: common.HexToAddress("0x3333333333333333333333333333333333333333"),
		Amount: big.NewInt(1), Nonce: 999, GasLimit: 21000, MaxFeePerGas: big.NewInt(2e9), MaxPriorityFeePerGas: big.NewInt(1e9),
		Expiry:      uint64(time.Now().Add(time.Minute).Unix()),
		WalletProof: testvectors.WalletProof(readVaultKey(t, w.vaultKey), wal.Owner, wal.Address)}
	sp, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	initData := testenv.SignInitData(w.tg, wal.Owner, sp, time.Now())
	body, _ := json.Marshal(protocol.ApproveRequest{InitData: initData, Record: wal.Record})
	resp, err := http.Post("http://"+w.encAddr+protocol.PathApprove, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ar protocol.ApproveResponse
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&ar) != nil {
		t.Fatalf("wallet %s of user %d: the enclave does not open its record (%d)", wal.Address.Hex(), wal.Owner, resp.StatusCode)
	}
	raw, _ := hexutil.Decode(ar.RawTx)
	var tx types.Transaction
	if err := tx.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx); err != nil || from != wal.Address {
		t.Fatalf("wallet %s: signed by %s (%v)", wal.Address.Hex(), from.Hex(), err)
	}
}

// countLog counts lines of the parents' logs that contain s.
func (w *faultWorld) countLog(s string) int {
	return strings.Count(w.parentLogs(), s)
}

// readVaultKey reads the enclave's dev vault key file, to make the wallet
// proof the enclave gives (testvectors.WalletProof).
func readVaultKey(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
