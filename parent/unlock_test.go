package parent_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage/bolt"
)

var lentCreds = aws.Credentials{AccessKeyID: "ASIAPARENTTEST", SecretAccessKey: "parent-secret", SessionToken: "parent-token", Source: "test"}

// stubKMS stands in for KMS behind the enclave's KeySource: blobs are
// AES-GCM under a master key only it holds, and it counts calls and checks
// the lent credentials reach it.
type stubKMS struct {
	t    *testing.T
	aead cipher.AEAD
	mu   sync.Mutex
	gen  int
	dec  int
}

func newStubKMS(t *testing.T) *stubKMS {
	master := make([]byte, 32)
	rand.Read(master)
	block, _ := aes.NewCipher(master)
	aead, _ := cipher.NewGCM(block)
	return &stubKMS{t: t, aead: aead}
}

func (k *stubKMS) check(c protocol.AWSCredentials) {
	if c.AccessKeyID != lentCreds.AccessKeyID || c.SecretAccessKey != lentCreds.SecretAccessKey || c.SessionToken != lentCreds.SessionToken {
		k.t.Errorf("the enclave got other credentials than the parent lent")
	}
}

func (k *stubKMS) GenerateVaultKey(_ context.Context, c protocol.AWSCredentials) ([]byte, []byte, error) {
	k.check(c)
	k.mu.Lock()
	k.gen++
	k.mu.Unlock()
	key, nonce := make([]byte, 32), make([]byte, 12)
	rand.Read(key)
	rand.Read(nonce)
	return key, k.aead.Seal(nonce, nonce, key, nil), nil
}

func (k *stubKMS) DecryptVaultKey(_ context.Context, c protocol.AWSCredentials, blob []byte) ([]byte, error) {
	k.check(c)
	k.mu.Lock()
	k.dec++
	k.mu.Unlock()
	if len(blob) < 12 {
		return nil, protocol.ErrKMSRefused
	}
	key, err := k.aead.Open(nil, blob[:12], blob[12:], nil)
	if err != nil {
		return nil, protocol.ErrKMSRefused
	}
	return key, nil
}

func (k *stubKMS) counts() (int, int) { k.mu.Lock(); defer k.mu.Unlock(); return k.gen, k.dec }

// testKMSConfig names a KMS key, as every production config must. The KMS
// enclaves here run a production config in process (a dev config may not
// carry KMS fields); the stub KMS stands in for the key source, and no NSM is
// needed since the stub does not ask for a Recipient.
var testKMSConfig = &enclave.KMSConfig{KeyARN: "arn:aws:kms:eu-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc", Region: "eu-west-2", ProxyPort: 8000}

// kmsEnclave is a locked enclave with the stub KMS on a loopback address;
// stop and start on the same address model an enclave restart.
type kmsEnclave struct {
	t    *testing.T
	addr string
	cfg  *enclave.Config
	tg   ed25519.PrivateKey
	kms  *stubKMS
	srv  *enclave.Server
}

func (e *kmsEnclave) start() { e.startWith(e.kms) }

// startWith starts the enclave with source as its key service.
func (e *kmsEnclave) startWith(source enclave.KeySource) {
	e.t.Helper()
	signer, err := enclave.NewSigner(e.cfg, enclave.Options{Entropy: rand.Reader})
	if err != nil {
		e.t.Fatal(err)
	}
	signer.SetKeySource(source)
	l, err := net.Listen("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.addr = l.Addr().String()
	e.srv = enclave.NewServer(signer, slog.New(slog.DiscardHandler))
	go enclave.Serve(e.srv, l)
}

func (e *kmsEnclave) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
}

// waitVault polls /v1/health until the vault is in state.
// firstBootClient is the enclave client of a parent started with
// -init-vault-key: it may make the deployment's first vault key.
func firstBootClient(addr string) *parent.EnclaveClient {
	c := parent.NewEnclaveClientTCP(addr, 10*time.Second)
	c.AllowNewVaultKey()
	return c
}

func waitVault(t *testing.T, c *parent.EnclaveClient, state string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if h, err := c.Health(context.Background()); err == nil && h.Vault == state {
			return
		}
	}
	t.Fatalf("the enclave's vault never became %s", state)
}

// TestKeepEnclaveUnlocked: the first start stores the blob; after an
// enclave restart the parent unlocks it again with the stored blob, and a
// wallet created before still signs.
func TestKeepEnclaveUnlocked(t *testing.T) {
	pub, tg, _ := ed25519.GenerateKey(rand.Reader)
	e := &kmsEnclave{t: t, addr: "127.0.0.1:0", tg: tg, kms: newStubKMS(t), cfg: &enclave.Config{
		BotID: testenv.BotID, TelegramPublicKey: pub, AllowedChainIDs: []uint64{1337},
		MaxAuthAge: time.Hour, ClockSkew: time.Minute, KMS: testKMSConfig,
	}}
	e.start()
	t.Cleanup(e.stop)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	client := firstBootClient(e.addr)
	ctx := context.Background()

	// Locked: wallet work is refused.
	if _, _, err := client.CreateWallet(ctx, 7); !errors.Is(err, protocol.ErrVaultLocked) {
		t.Fatalf("locked enclave: %v", err)
	}
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return lentCreds, nil })
	loopCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		parent.KeepEnclaveUnlocked(loopCtx, client, store, creds, "p1", 20*time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })

	waitVault(t, client, "unlocked")
	// The enclave reports unlocked a moment before the parent has stored
	// the blob it answered: wait (bounded) for the store.
	var blob []byte
	for i := 0; ; i++ {
		if blob, err = store.Meta(parent.MetaKMSCiphertextBlob); err == nil && len(blob) > 0 {
			break
		}
		if i == 200 {
			t.Fatalf("first start stored no blob: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if gen, dec := e.kms.counts(); gen != 1 || dec != 0 {
		t.Fatalf("first start: %d GenerateDataKey, %d Decrypt", gen, dec)
	}
	addr, record, err := client.CreateWallet(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	firstHealth, err := client.Health(ctx)
	if err != nil || len(firstHealth.IdentityKey) != 64 {
		t.Fatalf("health %+v, %v", firstHealth, err)
	}
	// Unlocking an unlocked enclave with its blob is idempotent and calls
	// no KMS.
	if err := parent.UnlockEnclave(ctx, client, store, creds, "p1"); err != nil {
		t.Fatal(err)
	}
	if gen, dec := e.kms.counts(); gen != 1 || dec != 0 {
		t.Fatalf("idempotent unlock called KMS: %d, %d", gen, dec)
	}

	// Restart the enclave: a new, locked signer on the same address.
	e.stop()
	e.start()
	waitVault(t, client, "unlocked")
	if gen, dec := e.kms.counts(); gen != 1 || dec != 1 {
		t.Fatalf("after restart: %d GenerateDataKey, %d Decrypt", gen, dec)
	}
	if again, _ := store.Meta(parent.MetaKMSCiphertextBlob); !bytes.Equal(again, blob) {
		t.Fatal("the stored blob changed")
	}
	// The same vault key from KMS gives the same identity key after the
	// restart, and the wallet made before it still signs, with the proof
	// the restarted enclave states for its record.
	if h, err := client.Health(ctx); err != nil || h.IdentityKey != firstHealth.IdentityKey {
		t.Fatalf("identity key after restart %+v (%v), before %s", h, err, firstHealth.IdentityKey)
	}
	st, err := client.Statement(ctx, record)
	if err != nil || st.Owner != 7 || common.HexToAddress(st.Address) != addr {
		t.Fatalf("statement %+v, %v", st, err)
	}
	in := &protocol.Intent{ChainID: 1337, From: addr, To: common.HexToAddress("0x00000000000000000000000000000000000000aa"),
		Amount: big.NewInt(1), GasLimit: 21000, MaxFeePerGas: big.NewInt(2e9), MaxPriorityFeePerGas: big.NewInt(1e9),
		Expiry: uint64(time.Now().Add(time.Hour).Unix()), WalletProof: st.Proof}
	sp, err := in.EncodeStartParam()
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := client.Approve(ctx, testenv.SignInitData(tg, 7, sp, time.Now()), record)
	if err != nil {
		t.Fatalf("wallet from before the restart: %v", err)
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx); err != nil || from != addr {
		t.Fatalf("signed by %s, %v", from, err)
	}
}

// TestUnlockEnclaveRefusals: a stored blob KMS refuses is reported with its
// reason and left in place; an enclave without KMS says so.
func TestUnlockEnclaveRefusals(t *testing.T) {
	pub, tg, _ := ed25519.GenerateKey(rand.Reader)
	e := &kmsEnclave{t: t, addr: "127.0.0.1:0", tg: tg, kms: newStubKMS(t), cfg: &enclave.Config{
		BotID: testenv.BotID, TelegramPublicKey: pub, AllowedChainIDs: []uint64{1337},
		MaxAuthAge: time.Hour, ClockSkew: time.Minute, KMS: testKMSConfig,
	}}
	e.start()
	t.Cleanup(e.stop)
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.PutMeta(parent.MetaKMSCiphertextBlob, []byte("a blob of another deployment")); err != nil {
		t.Fatal(err)
	}
	client := firstBootClient(e.addr)
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return lentCreds, nil })
	err = parent.UnlockEnclave(context.Background(), client, store, creds, "p1")
	if !errors.Is(err, protocol.ErrKMSRefused) {
		t.Fatalf("refused blob: %v", err)
	}
	if b, _ := store.Meta(parent.MetaKMSCiphertextBlob); string(b) != "a blob of another deployment" {
		t.Fatal("the stored blob was replaced")
	}
	failing := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, errors.New("no IMDS") })
	if err := parent.UnlockEnclave(context.Background(), client, store, failing, "p1"); err == nil {
		t.Fatal("unlocked without credentials")
	}

	dev := testenv.StartEnclave(t, 1337) // a dev enclave: key file, no KMS
	if err := parent.UnlockEnclave(context.Background(), parent.NewEnclaveClientTCP(dev.Addr, 10*time.Second), store, creds, "p1"); !errors.Is(err, protocol.ErrKMSNotConfigured) {
		t.Fatalf("dev enclave: %v", err)
	}
}
