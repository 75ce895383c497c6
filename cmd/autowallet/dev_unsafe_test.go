package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// startTokenDev runs `autowallet dev` with a bot token against an emulator
// standing in for Telegram's Bot API (signing with tgKey), and extra flags.
func startTokenDev(t *testing.T, token string, tgKey ed25519.PrivateKey, flags ...string) (*DevMain, *emulator.Emulator) {
	t.Helper()
	emu, err := emulator.New(emulator.Config{BotToken: token, BotUsername: "tokendev_bot", MiniAppShortName: "wallet",
		MiniAppURL: "https://pages.example/miniapp/", SigningKey: tgKey})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	emu.Register(mux)
	tg := httptest.NewServer(mux)
	t.Cleanup(tg.Close)
	t.Cleanup(emu.Close)
	m := startDev(t, t.TempDir(), append([]string{"-bot-token", token, "-telegram-api", tg.URL, "-miniapp", "https://t.me/tokendev_bot/wallet"}, flags...)...)
	t.Cleanup(func() { m.Close() })
	return m, emu
}

// TestDevWithTokenIsEd25519Only: `autowallet dev` with a bot token never
// takes the bot-token HMAC. An approval whose HMAC `hash` is valid (the host
// holds the token) but whose Ed25519 signature is forged is refused by the
// dev enclave with bad_signature; the same initData signed with the trusted
// key is signed (so the refusal is the signature's).
func TestDevWithTokenIsEd25519Only(t *testing.T) {
	const botID = 7000000077
	token := strconv.Itoa(botID) + ":token-dev-test"
	_, tgKey, _ := ed25519.GenerateKey(rand.Reader)
	_, forger, _ := ed25519.GenerateKey(rand.Reader)
	m, emu := startTokenDev(t, token, tgKey, "-telegram-public-key", hex.EncodeToString(tgKey.Public().(ed25519.PublicKey)))

	const user = 4401
	createWallet(t, emu.User(user, "Hal", "hal"))
	w, err := m.Service().Wallet(user)
	if err != nil {
		t.Fatal(err)
	}
	client := parent.NewEnclaveClientTCP(m.enclaveAddr, 10*time.Second)
	ctx := context.Background()
	st, err := client.Statement(ctx, w.Record) // the wallet proof, as the host gets it
	if err != nil {
		t.Fatal(err)
	}
	in := &protocol.Intent{ChainID: devchain.ChainID, From: w.Address, To: common.HexToAddress("0x00000000000000000000000000000000000000aa"),
		Amount: big.NewInt(1), GasLimit: 21000, MaxFeePerGas: big.NewInt(2e9), MaxPriorityFeePerGas: big.NewInt(1e9),
		Expiry: uint64(time.Now().Add(10 * time.Minute).Unix()), WalletProof: st.Proof}
	sp, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := json.Marshal(map[string]any{"id": user, "first_name": "Hal"})
	values := map[string]string{"user": string(u), "auth_date": strconv.FormatInt(time.Now().Unix(), 10), "start_param": sp,
		"chat_type": "sender", "chat_instance": "-1"}

	for name, initData := range map[string]string{
		"valid HMAC, forged Ed25519": protocol.SignInitData(values, botID, forger, token),
		"valid HMAC, no Ed25519":     protocol.SignInitData(values, botID, nil, token),
	} {
		if _, _, err := client.Approve(ctx, initData, w.Record); !errors.Is(err, protocol.ErrBadSignature) {
			t.Errorf("%s: %v, want bad_signature", name, err)
		}
		// The parent's own pre-check agrees with the enclave.
		if _, err := protocol.VerifyInitData(initData, protocol.VerifyConfig{BotID: botID, PublicKey: tgKey.Public().(ed25519.PublicKey), MaxAge: time.Hour, ClockSkew: time.Minute}, time.Now()); !errors.Is(err, protocol.ErrBadSignature) {
			t.Errorf("%s: pre-check %v", name, err)
		}
	}
	if _, _, err := client.Approve(ctx, protocol.SignInitData(values, botID, tgKey, token), w.Record); err != nil {
		t.Fatalf("the same approval signed with the trusted key: %v", err)
	}

	// End to end, as a host holding the token would try it: a real transfer
	// built by the bot, "approved" through the Mini App API with initData
	// whose HMAC is valid and whose Ed25519 signature is forged. Refused with
	// bad_signature, nothing signed; the user's own approval then goes through.
	hal := emu.User(user, "Hal", "hal")
	ask(t, hal, "/faucet", anyMessage)
	if !waitFor(20*time.Second, func() bool { b, err := m.Service().Balance(ctx, w.Address); return err == nil && b.Sign() > 0 }) {
		t.Fatal("faucet ETH never arrived")
	}
	// ETH is on both dev networks and the faucet paid both: name one.
	card := ask(t, hal, "/send 0.01 ETH to "+common.HexToAddress("0x00000000000000000000000000000000000000bb").Hex()+" on Dev L1",
		func(m emulator.Message) bool { return approveLink(m) != "" })
	link := approveLink(card)
	_, sp2, ok := strings.Cut(link, "startapp=")
	if !ok {
		t.Fatalf("no startapp in %q", link)
	}
	values["start_param"], values["auth_date"] = sp2, strconv.FormatInt(time.Now().Unix(), 10)
	post := func(initData string) (int, parent.MiniAppResponse, protocol.Code) {
		return approveVia(t, &parentProcess{url: "http://" + m.Addr().String()}, initData)
	}
	status, _, code := post(protocol.SignInitData(values, botID, forger, token))
	if status != 401 || code != protocol.CodeBadSignature {
		t.Fatalf("forged Ed25519 with a valid HMAC through the Mini App API: %d %s", status, code)
	}
	if tr, err := m.Service().Transfer(parent.TransferID(sp2)); err != nil || len(tr.SignedTx) != 0 {
		t.Fatalf("after the forged approval the transfer has a signed transaction: %v", err)
	}
	if status, ans, code := post(protocol.SignInitData(values, botID, tgKey, token)); status != 200 || ans.TxHash == "" {
		t.Fatalf("the user's approval: %d %+v %s", status, ans, code)
	}
}

// TestDevWithTokenTrustsTelegramKey: by default, dev with a token trusts
// Telegram's production Ed25519 key and no HMAC. The dev NSM's PCR0 is the
// SHA-384 of the enclave config's bytes, so the config that runs is pinned
// exactly: dev, the token's bot id, Telegram's key, no hmac_bot_token.
func TestDevWithTokenTrustsTelegramKey(t *testing.T) {
	const botID = 7000000078
	token := strconv.Itoa(botID) + ":token-dev-default"
	_, tgKey, _ := ed25519.GenerateKey(rand.Reader)
	m, _ := startTokenDev(t, token, tgKey)
	if TelegramProductionKey != "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d" {
		t.Fatalf("TelegramProductionKey = %s", TelegramProductionKey)
	}
	prod, _ := hex.DecodeString(TelegramProductionKey)
	// The dev chains' test USDC, the same on every start (the faucet's
	// deterministic key), allowed on each chain.
	_, allowedTokens := enclaveAllowed(m.Networks())
	if len(allowedTokens[networks.DevL1ChainID]) != 1 || len(allowedTokens[networks.DevL2ChainID]) != 1 {
		t.Fatalf("allowed tokens %v", allowedTokens)
	}
	want := enclave.EncodeConfig(&enclave.Config{Dev: true, BotID: botID, TelegramPublicKey: prod,
		AllowedChainIDs: []uint64{networks.DevL1ChainID, networks.DevL2ChainID}, AllowedTokens: allowedTokens,
		MaxAuthAge: time.Hour, ClockSkew: time.Minute})
	if sum := sha512.Sum384(want); hex.EncodeToString(m.DevNSM().PCR0()) != hex.EncodeToString(sum[:]) {
		t.Fatalf("the dev enclave runs another config than %s", want)
	}
	if strings.Contains(string(want), "hmac") {
		t.Fatal("the expected config carries an HMAC")
	}
}

// fakeNode answers eth_chainId with id (and little else): enough for dev
// mode to learn the chain of ETH_RPC_URL.
func fakeNode(t *testing.T, id uint64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		if req.Method != "eth_chainId" {
			json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": -32601, "message": "not here"}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": "0x" + strconv.FormatUint(id, 16)})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDevRefusesMainnet: dev mode refuses a node on a public mainnet, with an
// error naming the chain and the reason, before the enclave starts; the
// unsafe flag (or its environment variable) lifts only that refusal.
func TestDevRefusesMainnet(t *testing.T) {
	required := []uint64{1, 10, 56, 100, 137, 8453, 42161, 42170, 43114, 59144, 534352, 324, 81457, 5000, 7777777, 130, 1101, 250, 42220, 480}
	for _, id := range required {
		if err := checkDevChain(id, "https://rpc.example/v2/SECRET", false); err == nil || !strings.Contains(err.Error(), "public mainnet") ||
			!strings.Contains(err.Error(), publicMainnets[id]) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("chain %d: %v", id, err)
		}
		if err := checkDevChain(id, "", true); err != nil {
			t.Errorf("chain %d with -unsafe-mainnet: %v", id, err)
		}
	}
	for _, id := range []uint64{1337, 11155111, 17000, 84532, 421614, 31337} { // dev, Sepolia, Holesky, Base/Arbitrum Sepolia, anvil
		if err := checkDevChain(id, "", false); err != nil {
			t.Errorf("test chain %d: %v", id, err)
		}
	}
	if devchain.ChainID != 1337 {
		t.Fatalf("the embedded chain's id %d is not on the test list", devchain.ChainID)
	}
	// Chains nobody listed are refused too: value-carrying chains appear
	// faster than a denylist grows (Cronos, Sonic, opBNB, Metis, Sei,
	// Ronin, Kaia, Berachain, Taiko, and an id nobody uses).
	for _, id := range []uint64{25, 146, 204, 1088, 1329, 2020, 8217, 80094, 167000, 987654321} {
		err := checkDevChain(id, "", false)
		if err == nil || !strings.Contains(err.Error(), "not on dev mode's list of test chains") || !strings.Contains(err.Error(), "-unsafe-mainnet") {
			t.Errorf("unlisted chain %d: %v", id, err)
		}
	}

	for _, id := range []uint64{1, 8453} {
		m := NewDevMain(slog.New(slog.DiscardHandler), io.Discard)
		if err := m.ParseFlags([]string{"-data", t.TempDir(), "-http", "127.0.0.1:0", "-rpc", fakeNode(t, id)}); err != nil {
			t.Fatal(err)
		}
		err := m.Run(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "public mainnet") || !strings.Contains(err.Error(), "-unsafe-mainnet") {
			t.Fatalf("dev on chain %d: %v", id, err)
		}
		if m.enclave != nil || m.enclaveAddr != "" {
			t.Fatalf("chain %d: the enclave started before the refusal", id)
		}
	}
	// The environment opts in only with an explicit true.
	for v, want := range map[string]bool{"1": true, "true": true, "0": false, "yes": false, "": false} {
		t.Setenv("AUTOWALLET_UNSAFE_MAINNET", v)
		m := NewDevMain(slog.New(slog.DiscardHandler), io.Discard)
		if err := m.ParseFlags(nil); err != nil || m.Config.UnsafeMainnet != want {
			t.Errorf("AUTOWALLET_UNSAFE_MAINNET=%q: %v, unsafe %v", v, err, m.Config.UnsafeMainnet)
		}
	}
}

// TestDevRefusesPublicListen: a non-loopback -http is refused with the
// emulator (always: its chat page has no login) and with a token unless
// -unsafe-public-listen is given; each error says why.
func TestDevRefusesPublicListen(t *testing.T) {
	public := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	cases := []struct {
		name             string
		addr             net.Addr
		emulator, unsafe bool
		want             string // "" means allowed
	}{
		{"loopback, emulator", loop, true, false, ""},
		{"loopback, token", loop, false, false, ""},
		{"public, emulator", public, true, false, "no login"},
		{"public, emulator, unsafe", public, true, true, "no login"},
		{"public, token", public, false, false, "-unsafe-public-listen"},
		{"public, token, unsafe", public, false, true, ""},
		{"IPv6 any, token", &net.TCPAddr{IP: net.IPv6unspecified}, false, false, "not a loopback"},
	}
	for _, c := range cases {
		err := checkDevListen(c.addr, c.emulator, c.unsafe)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// The whole command refuses before it listens or starts anything.
	for name, flags := range map[string][]string{
		"emulator": {"-http", "0.0.0.0:0"},
		"token":    {"-http", "0.0.0.0:0", "-bot-token", "5:x", "-telegram-api", "http://127.0.0.1:1", "-miniapp", "https://t.me/x_bot/app"},
	} {
		m := NewDevMain(slog.New(slog.DiscardHandler), io.Discard)
		if err := m.ParseFlags(append([]string{"-data", t.TempDir()}, flags...)); err != nil {
			t.Fatal(err)
		}
		err := m.Run(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "not a loopback address") || m.enclave != nil || m.emu != nil {
			t.Errorf("%s on 0.0.0.0: %v", name, err)
		}
	}
	t.Setenv("AUTOWALLET_UNSAFE_PUBLIC_LISTEN", "1")
	m := NewDevMain(slog.New(slog.DiscardHandler), io.Discard)
	if err := m.ParseFlags(nil); err != nil || !m.Config.UnsafePublicListen {
		t.Errorf("AUTOWALLET_UNSAFE_PUBLIC_LISTEN=1: %v %v", err, m.Config.UnsafePublicListen)
	}
}
