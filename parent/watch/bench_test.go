package watch

// The watcher's cost (make bench): blocks/s with N Transfer logs per block,
// from an in-memory source that speaks the Source types (so the figure is
// the watcher's own work: checks, the address lookups, building deposits and
// the one bbolt transaction per step, fsync included; not a node's JSON), and
// the memory of the watched-address set with 1,000,000 addresses.

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/big"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// benchAddress is the i-th address of a deterministic, random-looking set.
func benchAddress(i uint64) common.Address {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return common.BytesToAddress(crypto.Keccak256(b[:])[:20])
}

func blockHash(n uint64) common.Hash {
	var b [9]byte
	b[0] = 'b'
	binary.BigEndian.PutUint64(b[1:], n)
	return crypto.Keccak256Hash(b[:])
}

// memSource serves made-up blocks: txsPerBlock transactions (none to our
// wallets) and logsPerBlock Transfer logs of the token, one in hundred to
// one of our wallets.
type memSource struct {
	head               uint64
	token              common.Address
	ours               []common.Address
	txsPerBlock, nLogs int
	logs               []types.Log // prepared for the next step
	blocks             []Block
}

func (m *memSource) ChainID(context.Context) (uint64, error) { return networks.DevL1ChainID, nil }
func (m *memSource) Head(context.Context) (uint64, error)    { return m.head, nil }

func (m *memSource) Blocks(_ context.Context, from, to uint64) ([]Block, error) {
	if len(m.blocks) > 0 && m.blocks[0].Number == from && uint64(len(m.blocks)) == to-from+1 {
		return m.blocks, nil
	}
	var out []Block // not prepared: empty blocks of the same chain
	for n := from; n <= to; n++ {
		out = append(out, Block{Number: n, Hash: blockHash(n), ParentHash: blockHash(n - 1), Time: 1_700_000_000 + n})
	}
	return out, nil
}

// prepare builds the blocks and logs of from..to (outside the timed part).
func (m *memSource) prepare(from, to uint64) {
	m.blocks = m.blocks[:0]
	for n := from; n <= to; n++ {
		b := Block{Number: n, Hash: blockHash(n), ParentHash: blockHash(n - 1), Time: 1_700_000_000 + n}
		for i := range m.txsPerBlock {
			to := benchAddress(1<<40 + n*1000 + uint64(i))
			b.Txs = append(b.Txs, Tx{Hash: common.Hash{byte(i)}, From: to, To: &to, Value: big.NewInt(1)})
		}
		m.blocks = append(m.blocks, b)
	}
	m.logs = m.logs[:0]
	amount := common.LeftPadBytes(big.NewInt(1_000_000).Bytes(), 32)
	for n := from; n <= to; n++ {
		h := blockHash(n)
		for i := range m.nLogs {
			recipient := benchAddress(1<<41 + n*10000 + uint64(i)) // a stranger
			if i%100 == 0 {
				recipient = m.ours[(n*uint64(m.nLogs)+uint64(i))%uint64(len(m.ours))]
			}
			m.logs = append(m.logs, types.Log{
				Address: m.token, Topics: []common.Hash{TransferTopic, common.BytesToHash(benchAddress(uint64(i)).Bytes()), common.BytesToHash(recipient[:])},
				Data: amount, BlockNumber: n, BlockHash: h, TxHash: crypto.Keccak256Hash(h[:], []byte{byte(i), byte(i >> 8)}), Index: uint(i),
			})
		}
	}
}

func (m *memSource) Logs(_ context.Context, from, to uint64, _ []common.Address, _ common.Hash) ([]types.Log, error) {
	return m.logs, nil
}

func (m *memSource) Receipt(context.Context, common.Hash) (uint64, common.Hash, error) {
	return 0, common.Hash{}, fmt.Errorf("no native deposits in the benchmark")
}

// BenchmarkWatcher: one op is one step of 100 blocks (100 txs each and N
// Transfer logs each), stored in one fsynced transaction; 10,000 watched
// wallets.
func BenchmarkWatcher(b *testing.B) {
	for _, nLogs := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("logs=%d", nLogs), func(b *testing.B) {
			const step = 100
			db, err := bolt.Open(filepath.Join(b.TempDir(), "data"), bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			token := common.HexToAddress("0x00000000000000000000000000000000000000c0")
			addrs := NewAddresses(10_000)
			src := &memSource{token: token, txsPerBlock: 100, nLogs: nLogs}
			// The wallets are stored too (one transaction): a deposit is
			// stored only after its recipient's row is checked against its
			// record (verify.go), a read per recipient of the step.
			err = db.Update(func(tx storage.Tx) error {
				for i := range 10_000 {
					a := benchAddress(uint64(i))
					addrs.Watch(a, int64(i+1))
					src.ours = append(src.ours, a)
					if _, _, err := tx.CreateWallet(storage.Wallet{Owner: int64(i + 1), Address: a, Record: recordOf(int64(i+1), a)}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			n := networks.DevL1()
			n.Tokens = []networks.Token{{Address: token, Symbol: "USDC", Decimals: 6}}
			// Start after block 1 (its hash is in the cursor).
			if _, err := db.StoreWatchedBlocks(storage.WatchCursor{ChainID: n.ChainID, Block: 1, Hashes: []common.Hash{blockHash(1)}}, nil); err != nil {
				b.Fatal(err)
			}
			w, err := New(Options{Network: n, Source: src, Store: db, Addresses: addrs, StepBlocks: step})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				from := 2 + uint64(i)*step
				src.head = from + step - 1 + n.Confirmations
				src.prepare(from, from+step-1)
				b.StartTimer()
				got, err := w.Step(ctx)
				if err != nil || got != step {
					b.Fatalf("step: %d blocks, %v", got, err)
				}
			}
			b.StopTimer()
			blocks := float64(b.N * step)
			b.ReportMetric(blocks/b.Elapsed().Seconds(), "blocks/s")
			b.ReportMetric(blocks*float64(nLogs)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}

// BenchmarkAddressSet1M: the heap of the watched-address set with 1,000,000
// addresses (B/address, set-MiB) and one lookup (ns/op).
func BenchmarkAddressSet1M(b *testing.B) {
	const n = 1_000_000
	keys := make([]common.Address, n)
	for i := range keys {
		keys[i] = benchAddress(uint64(i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a := NewAddresses(0) // grown as wallets are created, not presized
	for i, k := range keys {
		a.Watch(k, int64(i+1))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	b.ResetTimer()
	hits := 0
	for i := range b.N {
		if _, ok := a.Owner(keys[i%n]); ok {
			hits++
		}
	}
	b.StopTimer()
	if hits != b.N || a.Len() != n {
		b.Fatalf("lookups: %d of %d, len %d", hits, b.N, a.Len())
	}
	b.ReportMetric(heap/n, "B/address")
	b.ReportMetric(heap/(1<<20), "set-MiB")
	runtime.KeepAlive(keys)
}
