package enclave

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// vectorsDir is the repository's testdata, relative to this package.
const vectorsDir = "../testdata"

// The tokens of testConfig: testToken allowed on testvectors.ChainID,
// otherChainToken on testvectors.DevChainID only.
var (
	testToken       = common.HexToAddress(testvectors.TokenHex)
	otherChainToken = common.HexToAddress(testvectors.OtherChainTokenHex)
)

// Users of the tests: the owner of the fixture's main wallet, and another.
const (
	alice = testvectors.Owner
	bob   = testvectors.Owner + 1
)

// allReasons is every refusal reason the enclave API carries.
var allReasons = []error{
	protocol.ErrMalformedRequest, protocol.ErrTooLarge, protocol.ErrMalformedInitData, protocol.ErrBadSignature,
	protocol.ErrStaleAuth, protocol.ErrMalformedIntent, protocol.ErrIntentExpired, protocol.ErrMalformedRecord,
	protocol.ErrRecordTampered, protocol.ErrWrongOwner, protocol.ErrWrongWallet, protocol.ErrChainNotAllowed,
	protocol.ErrTokenNotAllowed, protocol.ErrVaultLocked, protocol.ErrBadWalletProof,
}

// reasonOf is the sentinel of a code, by the API's own mapping.
func reasonOf(t testing.TB, code protocol.Code) error {
	t.Helper()
	for _, r := range allReasons {
		if (&protocol.Error{Code: code}).Is(r) {
			return r
		}
	}
	t.Fatalf("code %q has no reason", code)
	return nil
}

// wantRefusal asserts that err is the refusal reason (errors.Is) and that it
// maps to that reason's code on the wire, and to no other reason.
func wantRefusal(t testing.TB, err, reason error) {
	t.Helper()
	if !errors.Is(err, reason) {
		t.Fatalf("want %q, got %v", reason, err)
	}
	for _, r := range allReasons {
		if r != reason && errors.Is(err, r) {
			t.Fatalf("%v is both %q and %q", err, reason, r)
		}
	}
	if code := protocol.CodeOf(err); !(&protocol.Error{Code: code}).Is(reason) {
		t.Fatalf("%v has code %s, which is not %q", err, code, reason)
	}
}

// fixture is an unlocked signer for the test bot at a fixed now, with the
// test vault key, trusting the test Telegram key.
type fixture struct {
	t      testing.TB
	cfg    *Config
	signer *Signer
	tg     ed25519.PrivateKey
	now    time.Time
}

func testConfig() *Config {
	return &Config{
		BotID:             testvectors.BotID,
		TelegramPublicKey: testvectors.TelegramKey().Public().(ed25519.PublicKey),
		AllowedChainIDs:   []uint64{testvectors.ChainID, testvectors.DevChainID},
		// The test token on the test chain; another contract on 1337 only.
		AllowedTokens: map[uint64][]common.Address{
			testvectors.ChainID:    {testToken},
			testvectors.DevChainID: {otherChainToken},
		},
		MaxAuthAge: testvectors.MaxAuthAge,
		ClockSkew:  testvectors.ClockSkew,
		KMS:        testKMSConfig(),
	}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, cfg: testConfig(), tg: testvectors.TelegramKey(), now: testvectors.NowTime()}
	f.signer = f.newSigner(f.cfg, testvectors.VaultKey())
	return f
}

// newSigner makes a signer at the fixture's now; a nil vaultKey leaves it locked.
func (f *fixture) newSigner(cfg *Config, vaultKey []byte) *Signer {
	f.t.Helper()
	s, err := NewSigner(cfg, Options{Entropy: rand.Reader, Now: func() time.Time { return f.now }})
	if err != nil {
		f.t.Fatal(err)
	}
	if vaultKey != nil {
		if err := s.Unlock(vaultKey); err != nil {
			f.t.Fatal(err)
		}
	}
	return s
}

func (f *fixture) wallet(owner int64) *Wallet {
	f.t.Helper()
	w, err := f.signer.CreateWallet(owner)
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// intent is a valid transfer from addr, a wallet of alice's: 0.05 ETH,
// expiring ten minutes after the fixture's now, with the wallet proof for
// (alice, from) under the test vault key.
func (f *fixture) intent(from common.Address) *protocol.Intent {
	return &protocol.Intent{
		ChainID: testvectors.ChainID, From: from, To: common.HexToAddress("0x1111111111111111111111111111111111111111"),
		Amount: big.NewInt(5e16), Nonce: 3, GasLimit: 21000, MaxFeePerGas: big.NewInt(3e10),
		MaxPriorityFeePerGas: big.NewInt(15e8), Expiry: uint64(f.now.Add(10 * time.Minute).Unix()),
		WalletProof: testvectors.WalletProof(testvectors.VaultKey(), alice, from),
	}
}

// startParam encodes in; it fails the test if in is not encodable.
func (f *fixture) startParam(in *protocol.Intent) string {
	f.t.Helper()
	sp, err := in.EncodeStartParam()
	if err != nil {
		f.t.Fatal(err)
	}
	return sp
}

// approval is one call of Approve, built from a valid one by changing one thing.
type approval struct {
	signer     *Signer
	user       int64
	authDate   time.Time
	startParam string // "" leaves start_param out
	botToken   string // sign with this bot token's HMAC instead of the Telegram key
	record     []byte
	// edit, when set, rewrites the signed initData (to tamper with it).
	edit func(raw string) string
}

// validApproval approves a transfer from a new wallet of alice's, signed a
// minute ago. It also returns the wallet.
func (f *fixture) validApproval() (*approval, *Wallet) {
	w := f.wallet(alice)
	return &approval{
		signer: f.signer, user: alice, authDate: f.now.Add(-time.Minute),
		startParam: f.startParam(f.intent(w.Address)), record: w.Record,
	}, w
}

func (f *fixture) signInitData(a *approval) string {
	fields := map[string]string{
		"user":          `{"id":` + strconv.FormatInt(a.user, 10) + `,"first_name":"Test"}`,
		"auth_date":     strconv.FormatInt(a.authDate.Unix(), 10),
		"chat_type":     "private",
		"chat_instance": "-1",
	}
	if a.startParam != "" {
		fields["start_param"] = a.startParam
	}
	var raw string
	if a.botToken != "" {
		raw = protocol.SignInitData(fields, f.cfg.BotID, nil, a.botToken)
	} else {
		raw = protocol.SignInitData(fields, f.cfg.BotID, f.tg, "")
	}
	if a.edit != nil {
		raw = a.edit(raw)
	}
	return raw
}

func (f *fixture) approve(a *approval) (*Signed, error) {
	return a.signer.Approve(f.signInitData(a), a.record)
}

// Record surgery: each returns a changed copy.

func flipBit(rec []byte, offset int) []byte {
	b := bytes.Clone(rec)
	b[offset] ^= 0x01
	return b
}

func withOwner(rec []byte, owner int64) []byte {
	b := bytes.Clone(rec)
	binary.BigEndian.PutUint64(b[1:9], uint64(owner))
	return b
}

func withAddress(rec []byte, addr common.Address) []byte {
	b := bytes.Clone(rec)
	copy(b[9:29], addr[:])
	return b
}

// vectorRecord is the valid record vector: the fixed wallet of alice's,
// sealed under the test vault key.
func vectorRecord(t testing.TB) testvectors.RecordVector {
	t.Helper()
	for _, v := range testvectors.Load[testvectors.RecordVector](t, vectorsDir+"/records") {
		if v.Name == "valid" {
			return v.Vector
		}
	}
	t.Fatal("no valid record vector")
	return testvectors.RecordVector{}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is a log sink the server's goroutines can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer serves s with NewServer on a loopback port and returns its
// base URL and the captured log.
func startServer(t testing.TB, s *Signer) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(s, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	done := make(chan error, 1)
	go func() { done <- Serve(srv, l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + l.Addr().String(), logs
}
