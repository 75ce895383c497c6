package main

import (
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
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// writeConfig writes an enclave config trusting the test Telegram key.
func writeConfig(t *testing.T, mode string) string {
	t.Helper()
	cfg := map[string]any{
		"version": 2, "mode": mode, "bot_id": testvectors.BotID,
		"telegram_public_key": hex.EncodeToString(testvectors.TelegramKey().Public().(ed25519.PublicKey)),
		"chains":              []map[string]any{{"chain_id": testvectors.ChainID, "tokens": []string{testvectors.TokenHex}}},
		"max_auth_age":        "1h", "clock_skew": "1m",
	}
	if mode == "production" { // a production config must name its KMS key
		cfg["kms_key_arn"], cfg["kms_region"], cfg["kms_proxy_port"] = "arn:aws:kms:eu-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc", "eu-west-2", 8000
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

func getJSON(t *testing.T, url string, resp any) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("%s: %v", url, protocol.ReadError(r))
	}
	if err := json.NewDecoder(r.Body).Decode(resp); err != nil {
		t.Fatal(err)
	}
}

func postJSON(t *testing.T, url string, req, resp any) {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("%s: %v", url, protocol.ReadError(r))
	}
	if err := json.NewDecoder(r.Body).Decode(resp); err != nil {
		t.Fatal(err)
	}
}

// TestMainDevServesAndSigns runs the program as `enclave -tcp 127.0.0.1:0
// -dev-vault-key ...` with a dev config, then creates a wallet and approves a
// transfer over HTTP.
func TestMainDevServesAndSigns(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "vault.key")
	m := NewMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.ParseFlags([]string{"-config", writeConfig(t, "dev"), "-tcp", "127.0.0.1:0", "-dev-vault-key", keyPath, "-entropy", "os"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	st, err := os.Stat(keyPath)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 32 {
		t.Fatalf("vault key file: %v, %v", st, err)
	}
	base := "http://" + m.Addr().String()

	var w protocol.CreateWalletResponse
	postJSON(t, base+protocol.PathWallets, protocol.CreateWalletRequest{Owner: testvectors.Owner}, &w)
	from := common.HexToAddress(w.Address)
	in := &protocol.Intent{
		ChainID: testvectors.ChainID, From: from, To: common.HexToAddress("0x1111111111111111111111111111111111111111"),
		Amount: big.NewInt(1), Nonce: 0, GasLimit: 21000, MaxFeePerGas: big.NewInt(2e9), MaxPriorityFeePerGas: big.NewInt(1e9),
		Expiry: uint64(time.Now().Add(5 * time.Minute).Unix()), WalletProof: w.Proof,
	}
	// The identity key in health is the HKDF of the key file, and the
	// wallet's proof verifies with it.
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	var h protocol.HealthResponse
	getJSON(t, base+protocol.PathHealth, &h)
	if want := hex.EncodeToString(testvectors.IdentityKeyFor(key).Public().(ed25519.PublicKey)); h.IdentityKey != want {
		t.Fatalf("health identity_key %q, want %q", h.IdentityKey, want)
	}
	if err := protocol.VerifyStatement(testvectors.IdentityKeyFor(key).Public().(ed25519.PublicKey), testvectors.Owner, from, w.Proof); err != nil {
		t.Fatal(err)
	}
	sp, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	initData := protocol.SignInitData(map[string]string{
		"user":        `{"id":` + strconv.FormatInt(testvectors.Owner, 10) + `}`,
		"auth_date":   strconv.FormatInt(time.Now().Unix(), 10),
		"start_param": sp,
	}, testvectors.BotID, testvectors.TelegramKey(), "")
	var ar protocol.ApproveResponse
	postJSON(t, base+protocol.PathApprove, protocol.ApproveRequest{InitData: initData, Record: w.Record}, &ar)
	raw, err := hexutil.Decode(ar.RawTx)
	if err != nil {
		t.Fatal(err)
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if sender, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx); err != nil || sender != from {
		t.Fatalf("sender %s, %v", sender, err)
	}
}

func TestMainRefuses(t *testing.T) {
	cases := map[string][]string{
		"dev vault key with a production config": {"-config", writeConfig(t, "production"), "-tcp", "127.0.0.1:0", "-dev-vault-key", filepath.Join(t.TempDir(), "k")},
		"all interfaces":                         {"-config", writeConfig(t, "dev"), "-tcp", "0.0.0.0:0"},
		"empty host":                             {"-config", writeConfig(t, "dev"), "-tcp", ":0"},
		"a public address":                       {"-config", writeConfig(t, "dev"), "-tcp", "192.0.2.1:0"},
		"a host name":                            {"-config", writeConfig(t, "dev"), "-tcp", "example.com:0"},
		"bad entropy":                            {"-config", writeConfig(t, "dev"), "-tcp", "127.0.0.1:0", "-entropy", "dice"},
		"missing config":                         {"-config", filepath.Join(t.TempDir(), "none.json"), "-tcp", "127.0.0.1:0"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			m := NewMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := m.ParseFlags(args); err != nil {
				t.Fatal(err)
			}
			if err := m.Run(context.Background()); err == nil {
				m.Close()
				t.Fatal("Run accepted it")
			}
			if m.listener != nil {
				t.Fatal("a listener was opened")
			}
		})
	}
	// The production refusal happens before the key file is created.
	keyPath := cases["dev vault key with a production config"][5]
	if _, err := os.Stat(keyPath); !os.IsNotExist(err) {
		t.Fatalf("a production config created the dev vault key: %v", err)
	}
	m := NewMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.ParseFlags([]string{"extra"}); err == nil {
		t.Fatal("accepted a positional argument")
	}
}

// TestEnclaveDependencies keeps the enclave binary small: it must not link
// the bot, storage or anything that dials an Ethereum node.
func TestEnclaveDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !strings.Contains(string(out), "github.com/autowallet/autowallet/enclave\n") {
		t.Fatalf("go list gave an implausible list: %q", out)
	}
	for _, dep := range deps {
		for _, banned := range []string{"go.etcd.io/bbolt", "github.com/go-telegram/bot", "github.com/ethereum/go-ethereum/ethclient", "github.com/ethereum/go-ethereum/rpc"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("the enclave links %s", dep)
			}
		}
	}
}
