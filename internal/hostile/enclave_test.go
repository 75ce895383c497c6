// Package hostile plays a compromised host against the real enclave: the
// cmd/enclave program, built once and run as its own process on 127.0.0.1,
// spoken to over its HTTP API with any bytes a root user on the parent could
// send. Each test asserts the refusal code and that no signature came out.
// docs/threat-model.md lists the attacks with these tests' names.
package hostile

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// Parameters of the enclave under attack.
const (
	botID   int64  = 4242
	chainID uint64 = 1337
	alice   int64  = 1001
	bob     int64  = 1002
)

// enclaveBin is cmd/enclave, built once for the package (TestMain).
var enclaveBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hostile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	enclaveBin = filepath.Join(dir, "enclave")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	if out, err := exec.Command(goTool, "build", "-o", enclaveBin, "github.com/autowallet/autowallet/cmd/enclave").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building cmd/enclave: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// telegram is the key the enclave's config trusts in place of Telegram's.
type telegram struct{ key ed25519.PrivateKey }

func newTelegram(t testing.TB) telegram {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return telegram{k}
}

// sign makes initData for user opened with startParam, as Telegram would.
func (tg telegram) sign(user int64, startParam string, authDate time.Time) string {
	return protocol.SignInitData(initValues(user, startParam, authDate), botID, tg.key, "")
}

func initValues(user int64, startParam string, authDate time.Time) map[string]string {
	v := map[string]string{
		"user":          `{"id":` + strconv.FormatInt(user, 10) + `,"first_name":"Test"}`,
		"auth_date":     strconv.FormatInt(authDate.Unix(), 10),
		"chat_type":     "sender",
		"chat_instance": "-77",
		"query_id":      "AAHdF6IQAAAAAN0XohDhrOrc",
	}
	if startParam != "" {
		v["start_param"] = startParam
	}
	return v
}

// writeConfig writes a dev enclave config trusting tg (mode "dev" with no
// hmac_bot_token: only Ed25519 initData counts, as in production).
func writeConfig(t testing.TB, tg telegram, extra map[string]any) string {
	t.Helper()
	cfg := map[string]any{
		"version": 1, "mode": "dev", "bot_id": botID,
		"telegram_public_key": hex.EncodeToString(tg.key.Public().(ed25519.PublicKey)),
		"allowed_chain_ids":   []uint64{chainID}, "max_auth_age": "1h", "clock_skew": "1m",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "enclave.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// enclaveProc is a running cmd/enclave process.
type enclaveProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startEnclave runs `enclave -config cfg -tcp 127.0.0.1:0 -dev-vault-key
// keyFile -entropy os` and waits for its "listening" line.
func startEnclave(t testing.TB, cfg, keyFile string) *enclaveProc {
	t.Helper()
	cmd := exec.Command(enclaveBin, "-config", cfg, "-tcp", "127.0.0.1:0", "-dev-vault-key", keyFile, "-entropy", "os")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &enclaveProc{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "enclave listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case p.addr = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("enclave did not start; stderr:\n%s", p.stderr)
	}
	return p
}

// wire is the hostile parent's HTTP client. It records every answer to
// /v1/approve, so a test can count the signatures that came out.
type wire struct {
	t    testing.TB
	base string

	mu     sync.Mutex
	signed []string // raw_tx of every 200 answer to /v1/approve
}

func newWire(t testing.TB, addr string) *wire { return &wire{t: t, base: "http://" + addr} }

var httpClient = &http.Client{Timeout: 20 * time.Second}

// post sends body as is and returns the status and the answer.
func (w *wire) post(path string, body []byte) (int, []byte) {
	w.t.Helper()
	resp, err := httpClient.Post(w.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		w.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatalf("POST %s: reading the answer: %v", path, err)
	}
	w.check(path, resp.StatusCode, b)
	return resp.StatusCode, b
}

// check enforces the invariant of the whole suite: a raw transaction only
// ever comes in a 200 answer to /v1/approve, and each one is counted.
func (w *wire) check(path string, status int, body []byte) {
	w.t.Helper()
	has := bytes.Contains(body, []byte(`"raw_tx"`))
	if has && (status != http.StatusOK || path != protocol.PathApprove) {
		w.t.Fatalf("%s answered %d with a raw_tx", path, status)
	}
	if path == protocol.PathApprove && status == http.StatusOK {
		var ar protocol.ApproveResponse
		if err := json.Unmarshal(body, &ar); err != nil || ar.RawTx == "" {
			w.t.Fatalf("approve 200 without a transaction: %s", body)
		}
		w.mu.Lock()
		w.signed = append(w.signed, ar.RawTx)
		w.mu.Unlock()
	}
}

func (w *wire) signatures() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.signed...)
}

func (w *wire) postJSON(path string, v any) (int, []byte) {
	w.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.post(path, b)
}

// errCode is the code of an error answer, "" for anything else.
func errCode(body []byte) protocol.Code {
	var e struct {
		Error *protocol.Error `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == nil {
		return ""
	}
	return e.Error.Code
}

// createWallet asks the enclave for a wallet of owner's.
func (w *wire) createWallet(owner int64) (common.Address, []byte) {
	w.t.Helper()
	status, body := w.postJSON(protocol.PathWallets, protocol.CreateWalletRequest{Owner: owner})
	if status != 200 {
		w.t.Fatalf("create wallet: %d %s", status, body)
	}
	var cw protocol.CreateWalletResponse
	if err := json.Unmarshal(body, &cw); err != nil {
		w.t.Fatal(err)
	}
	addr := common.HexToAddress(cw.Address)
	proofs.Store(addr, []byte(cw.Proof))
	return addr, cw.Record
}

// proofs holds every wallet proof an enclave answered, by address: what a
// hostile host holds too. transfer() puts the one for its from address in
// the intent.
var proofs sync.Map // common.Address -> []byte

func proofFor(addr common.Address) []byte {
	if p, ok := proofs.Load(addr); ok {
		return p.([]byte)
	}
	return make([]byte, protocol.WalletProofSize)
}

// approve posts an approval and returns the signed transaction, failing the
// test on a refusal.
func (w *wire) approve(initData string, record []byte) protocol.ApproveResponse {
	w.t.Helper()
	status, body := w.postJSON(protocol.PathApprove, protocol.ApproveRequest{InitData: initData, Record: record})
	if status != 200 {
		w.t.Fatalf("approve: %d %s", status, body)
	}
	var ar protocol.ApproveResponse
	json.Unmarshal(body, &ar)
	return ar
}

// refused posts an approval and asserts it is refused with want (the code
// and its HTTP status) and carries no transaction.
func (w *wire) refused(want protocol.Code, initData string, record []byte) {
	w.t.Helper()
	w.refusedBody(want, mustJSON(w.t, protocol.ApproveRequest{InitData: initData, Record: record}))
}

func (w *wire) refusedBody(want protocol.Code, body []byte) {
	w.t.Helper()
	status, ans := w.post(protocol.PathApprove, body)
	if got := errCode(ans); got != want || status != want.HTTPStatus() {
		w.t.Fatalf("answer %d %q (%s), want %d %q", status, got, ans, want.HTTPStatus(), want)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// transfer is a valid ETH transfer from addr, expiring in ten minutes, with
// the wallet proof the enclave gave for addr when it created it.
func transfer(from common.Address, nonce uint64) *protocol.Intent {
	return &protocol.Intent{
		ChainID: chainID, From: from, To: common.HexToAddress("0x2222222222222222222222222222222222222222"),
		Amount: big.NewInt(5e16), Nonce: nonce, GasLimit: 21000, MaxFeePerGas: big.NewInt(3e10),
		MaxPriorityFeePerGas: big.NewInt(1e9), Expiry: uint64(time.Now().Add(10 * time.Minute).Unix()),
		WalletProof: proofFor(from),
	}
}

func startParam(t testing.TB, in *protocol.Intent) string {
	t.Helper()
	sp, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// senderOf decodes a signed transaction and returns its sender.
func senderOf(t testing.TB, rawHex string) (common.Address, *types.Transaction) {
	t.Helper()
	raw, err := hexutil.Decode(rawHex)
	if err != nil {
		t.Fatal(err)
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx)
	if err != nil {
		t.Fatal(err)
	}
	return from, &tx
}

// world is one running enclave with two users' wallets.
type world struct {
	tg         telegram
	enc        *enclaveProc
	w          *wire
	aliceAddr  common.Address
	aliceRec   []byte
	bobAddr    common.Address
	bobRec     []byte
	configPath string
	keyFile    string // the dev vault key file
}

// enclaveProof is a proof only the enclave could make (from its vault key
// file, which a host does not have): tests use it to show that a later
// check still holds on its own when the wallet proof is right.
func (wd *world) enclaveProof(t testing.TB, owner int64, addr common.Address) []byte {
	return testvectors.WalletProof(readFile(t, wd.keyFile), owner, addr)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	tg := newTelegram(t)
	cfg := writeConfig(t, tg, nil)
	keyFile := filepath.Join(t.TempDir(), "vault.key")
	enc := startEnclave(t, cfg, keyFile)
	wd := &world{tg: tg, enc: enc, w: newWire(t, enc.addr), configPath: cfg, keyFile: keyFile}
	wd.aliceAddr, wd.aliceRec = wd.w.createWallet(alice)
	wd.bobAddr, wd.bobRec = wd.w.createWallet(bob)
	return wd
}

// requireServing asserts the enclave still answers a normal request.
func (wd *world) requireServing(t *testing.T) {
	t.Helper()
	resp, err := httpClient.Get("http://" + wd.enc.addr + protocol.PathHealth)
	if err != nil {
		t.Fatalf("the enclave stopped serving: %v\n%s", err, wd.enc.stderr)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health: %d", resp.StatusCode)
	}
}
