package watch

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"math/big"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// emitterCode deploys a contract that, called with (to, amount) as two
// 32-byte words, emits Transfer(msg.sender, to, amount): a stand-in ERC-20
// for the watcher (it reads nothing but the event). Hand-assembled:
//
//	PUSH1 32 PUSH1 32 PUSH1 0 CALLDATACOPY   mem[0:32] = amount
//	PUSH1 0 CALLDATALOAD CALLER PUSH32 topic  topics: Transfer, sender, to
//	PUSH1 32 PUSH1 0 LOG3 STOP
func emitterCode() []byte {
	runtime := []byte{0x60, 0x20, 0x60, 0x20, 0x60, 0x00, 0x37, 0x60, 0x00, 0x35, 0x33, 0x7f}
	runtime = append(runtime, TransferTopic[:]...)
	runtime = append(runtime, 0x60, 0x20, 0x60, 0x00, 0xa3, 0x00)
	l := byte(len(runtime))
	init := []byte{0x60, l, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, l, 0x60, 0x00, 0xf3}
	return append(init, runtime...)
}

func transferData(to common.Address, amount *big.Int) []byte {
	return append(common.LeftPadBytes(to[:], 32), common.LeftPadBytes(amount.Bytes(), 32)...)
}

// sim is a simulated chain with funded keys.
type sim struct {
	t       *testing.T
	b       *simulated.Backend
	faucet  *ecdsa.PrivateKey
	nonces  map[common.Address]uint64
	chainID *big.Int
}

func newSim(t *testing.T, funded ...common.Address) *sim {
	t.Helper()
	faucet, _ := crypto.GenerateKey()
	alloc := types.GenesisAlloc{crypto.PubkeyToAddress(faucet.PublicKey): {Balance: new(big.Int).Mul(big.NewInt(1e6), big.NewInt(params.Ether))}}
	for _, a := range funded {
		alloc[a] = types.Account{Balance: new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether))}
	}
	b := simulated.NewBackend(alloc)
	t.Cleanup(func() { _ = b.Close() })
	s := &sim{t: t, b: b, faucet: faucet, nonces: map[common.Address]uint64{}, chainID: big.NewInt(1337)}
	// A few blocks, so a fresh watcher's start (the confirmed head) is
	// below the tests' deposits.
	s.commit(3)
	return s
}

func (s *sim) source() Source { return ClientSource{C: s.b.Client()} }

// send signs and sends a transaction (not mined until Commit).
func (s *sim) send(key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte) *types.Transaction {
	return s.sendFee(key, to, value, data, big.NewInt(10*params.GWei))
}

type walletKey = *ecdsa.PrivateKey

func (s *sim) sendFee(key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte, fee *big.Int) *types.Transaction {
	s.t.Helper()
	tx, err := s.signSend(key, to, value, data, fee)
	if err != nil {
		s.t.Fatal(err)
	}
	return tx
}

func (s *sim) trySend(key *ecdsa.PrivateKey, to *common.Address, value *big.Int, fee *big.Int) (common.Hash, error) {
	tx, err := s.signSend(key, to, value, nil, fee)
	if err != nil {
		return common.Hash{}, err
	}
	return tx.Hash(), nil
}

func (s *sim) signSend(key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte, fee *big.Int) (*types.Transaction, error) {
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, ok := s.nonces[from]
	if !ok {
		n, err := s.b.Client().PendingNonceAt(context.Background(), from)
		if err != nil {
			return nil, err
		}
		nonce = n
	}
	gas := uint64(21000)
	if to == nil || len(data) > 0 {
		gas = 300000
	}
	tx := types.MustSignNewTx(key, types.LatestSignerForChainID(s.chainID), &types.DynamicFeeTx{
		ChainID: s.chainID, Nonce: nonce, GasTipCap: fee, GasFeeCap: new(big.Int).Mul(fee, big.NewInt(10)),
		Gas: gas, To: to, Value: value, Data: data,
	})
	if err := s.b.Client().SendTransaction(context.Background(), tx); err != nil {
		return nil, err
	}
	s.nonces[from] = nonce + 1
	return tx, nil
}

// commit mines n blocks, the first holding every transaction sent so far.
// On a loaded machine the simulated miner can run out of its build time
// and leave a sent transaction for a later block; that block is committed
// again until the sender's nonce has caught up, so a test's "deposit, then
// n-1 blocks on top" holds (at the cost of an extra block's number).
func (s *sim) commit(n int) {
	s.t.Helper()
	for i := range n {
		s.b.Commit()
		for try := 0; i == 0 && !s.allMined(); try++ {
			if try == 20 {
				s.t.Fatal("sent transactions not mined in 20 blocks")
			}
			s.b.Commit()
		}
	}
}

// allMined reports whether every sender's transactions are in blocks.
func (s *sim) allMined() bool {
	ctx := context.Background()
	for from, next := range s.nonces {
		n, err := s.b.Client().NonceAt(ctx, from, nil)
		if err != nil {
			s.t.Fatal(err)
		}
		if n < next {
			return false
		}
	}
	return true
}

// mine commits blocks until every tx has a receipt, then confirm more.
func (s *sim) mine(confirm int, txs ...common.Hash) {
	s.t.Helper()
	for range 20 {
		s.b.Commit()
		all := true
		for _, h := range txs {
			if _, err := s.b.Client().TransactionReceipt(context.Background(), h); err != nil {
				all = false
			}
		}
		if all {
			s.commit(confirm)
			return
		}
	}
	s.t.Fatal("transactions not mined in 20 blocks")
}

func (s *sim) head() uint64 {
	n, err := s.b.Client().BlockNumber(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// deploy deploys the Transfer emitter and returns its address.
func (s *sim) deploy() common.Address {
	s.t.Helper()
	tx := s.send(s.faucet, nil, new(big.Int), emitterCode())
	s.commit(1)
	r, err := s.b.Client().TransactionReceipt(context.Background(), tx.Hash())
	if err != nil || r.Status != 1 {
		s.t.Fatalf("deploy: %v %+v", err, r)
	}
	return r.ContractAddress
}

// wallet is one of our wallets with its key (so tests can send from it).
type wallet struct {
	owner int64
	key   *ecdsa.PrivateKey
	addr  common.Address
}

func newWallet(owner int64) wallet {
	k, _ := crypto.GenerateKey()
	return wallet{owner: owner, key: k, addr: crypto.PubkeyToAddress(k.PublicKey)}
}

func openStore(t *testing.T, dir string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func storeWallets(t *testing.T, db *bolt.DB, ws ...wallet) {
	t.Helper()
	for _, w := range ws {
		if _, _, err := db.CreateWallet(storage.Wallet{Owner: w.owner, Address: w.addr, Record: recordOf(w.owner, w.addr)}); err != nil {
			t.Fatal(err)
		}
	}
}

// recordOf is a sealed record of the v1 layout for owner and addr: its
// header is what the watcher checks a wallet row against (verify.go); its
// ciphertext is filler, the watcher never opens a record.
func recordOf(owner int64, addr common.Address) []byte {
	rec := make([]byte, protocol.RecordV1Length)
	rec[0] = protocol.RecordV1
	binary.BigEndian.PutUint64(rec[1:9], uint64(owner))
	copy(rec[9:], addr[:])
	return rec
}

// inbox records delivered alerts.
type inbox struct {
	mu   sync.Mutex
	got  []storage.Deposit
	fail func(d storage.Deposit) error
}

func (i *inbox) notify(_ context.Context, d storage.Deposit) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.fail != nil {
		if err := i.fail(d); err != nil {
			return err
		}
	}
	i.got = append(i.got, d)
	return nil
}

func (i *inbox) list() []storage.Deposit {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.got)
}

// byTx returns the delivered alerts of tx.
func (i *inbox) byTx(h common.Hash) []storage.Deposit {
	var out []storage.Deposit
	for _, d := range i.list() {
		if d.TxHash == h {
			out = append(out, d)
		}
	}
	return out
}

func devNetwork(conf uint64, tokens ...networks.Token) networks.Network {
	n := networks.DevL1()
	n.Confirmations = conf
	n.Tokens = tokens
	n.ExplorerURL = "https://explorer.test"
	return n
}

// drain steps the watcher until it has no new confirmed block, then
// delivers the outbox.
func drain(t *testing.T, w *Watcher, d *Deliverer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		n, err := w.Step(ctx)
		if err != nil {
			t.Fatalf("step: %v", err)
		}
		if n == 0 {
			break
		}
	}
	if d != nil {
		if _, err := d.Deliver(ctx); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
}

func tempDir(t *testing.T) string { return filepath.Join(t.TempDir(), "data") }

func eth(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)) }

func addrOf(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }
