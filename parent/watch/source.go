package watch

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/autowallet/autowallet/internal/metrics"
)

// Block is the part of a block the watcher reads.
type Block struct {
	Number     uint64
	Hash       common.Hash
	ParentHash common.Hash
	Time       uint64 // seconds since 1970
	Txs        []Tx
}

// Tx is the part of a top-level transaction the watcher reads. To is nil
// for a contract creation.
type Tx struct {
	Hash  common.Hash
	From  common.Address
	To    *common.Address
	Value *big.Int
}

// Source is the watcher's view of one network's node. RPCSource is the
// JSON-RPC implementation; tests and benchmarks may use others.
type Source interface {
	// ChainID is the chain the node serves (checked once at start).
	ChainID(ctx context.Context) (uint64, error)
	// Head is the number of the latest block.
	Head(ctx context.Context) (uint64, error)
	// Blocks returns blocks from..to (inclusive), in order, with their
	// transactions.
	Blocks(ctx context.Context, from, to uint64) ([]Block, error)
	// Logs returns the logs of blocks from..to emitted by one of the
	// contracts with topic0 equal to topic (eth_getLogs).
	Logs(ctx context.Context, from, to uint64, contracts []common.Address, topic common.Hash) ([]types.Log, error)
	// Receipt returns a transaction's status (1 success, 0 reverted) and the
	// hash of the block that includes it.
	Receipt(ctx context.Context, tx common.Hash) (status uint64, block common.Hash, err error)
}

// ErrNoBlock: the node does not have a block the watcher asked for (yet).
var ErrNoBlock = errors.New("node has no such block")

// RPCSource reads a node over JSON-RPC. Blocks are fetched in JSON-RPC
// batches of at most BatchSize, and only the fields the watcher uses are
// decoded (so transaction types go-ethereum does not know, such as the
// OP-stack deposit transaction 0x7e, do not break it).
type RPCSource struct {
	c *rpc.Client
	// BatchSize is the most blocks asked for in one JSON-RPC batch
	// (default 20: full blocks of busy L2s are large).
	BatchSize int
	// CallTimeout bounds each call (default 20 s).
	CallTimeout time.Duration
	// Metrics, if set, times each call by Network (the network's
	// configured name) and method, and counts the failed ones.
	Metrics *metrics.Metrics
	Network string
}

// NewRPCSource reads the node behind c.
func NewRPCSource(c *rpc.Client) *RPCSource {
	return &RPCSource{c: c, BatchSize: 20, CallTimeout: 20 * time.Second}
}

// Dial connects to the node at rawURL (http(s) or ws(s)).
func Dial(ctx context.Context, rawURL string) (*RPCSource, error) {
	c, err := rpc.DialContext(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("watch: dial node %s: %w", redactURL(rawURL), redact(err))
	}
	return NewRPCSource(c), nil
}

// Close closes the connection.
func (s *RPCSource) Close() { s.c.Close() }

func (s *RPCSource) call(ctx context.Context, out any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, s.CallTimeout)
	defer cancel()
	t0 := time.Now()
	err := s.c.CallContext(ctx, out, method, args...)
	s.Metrics.RPCCall(s.Network, method, time.Since(t0), err != nil)
	if err != nil {
		return fmt.Errorf("watch: %s: %w", method, redact(err))
	}
	return nil
}

func (s *RPCSource) ChainID(ctx context.Context) (uint64, error) {
	var id hexutil.Big
	if err := s.call(ctx, &id, "eth_chainId"); err != nil {
		return 0, err
	}
	if !id.ToInt().IsUint64() {
		return 0, fmt.Errorf("watch: eth_chainId: %s does not fit 64 bits", id.ToInt())
	}
	return id.ToInt().Uint64(), nil
}

func (s *RPCSource) Head(ctx context.Context) (uint64, error) {
	var n hexutil.Uint64
	err := s.call(ctx, &n, "eth_blockNumber")
	return uint64(n), err
}

type rpcTx struct {
	Hash  common.Hash     `json:"hash"`
	From  common.Address  `json:"from"`
	To    *common.Address `json:"to"`
	Value *hexutil.Big    `json:"value"`
}

type rpcBlock struct {
	Number       hexutil.Uint64 `json:"number"`
	Hash         common.Hash    `json:"hash"`
	ParentHash   common.Hash    `json:"parentHash"`
	Timestamp    hexutil.Uint64 `json:"timestamp"`
	Transactions []rpcTx        `json:"transactions"`
}

func (s *RPCSource) Blocks(ctx context.Context, from, to uint64) ([]Block, error) {
	if to < from {
		return nil, nil
	}
	out := make([]Block, 0, to-from+1)
	batch := max(s.BatchSize, 1)
	for start := from; start <= to; start += uint64(batch) {
		end := min(to, start+uint64(batch)-1)
		raw := make([]*rpcBlock, end-start+1)
		elems := make([]rpc.BatchElem, len(raw))
		for i := range elems {
			elems[i] = rpc.BatchElem{Method: "eth_getBlockByNumber",
				Args: []any{hexutil.Uint64(start + uint64(i)), true}, Result: &raw[i]}
		}
		cctx, cancel := context.WithTimeout(ctx, s.CallTimeout)
		t0 := time.Now()
		err := s.c.BatchCallContext(cctx, elems)
		cancel()
		s.Metrics.RPCCall(s.Network, "eth_getBlockByNumber(batch)", time.Since(t0), err != nil)
		if err != nil {
			return nil, fmt.Errorf("watch: eth_getBlockByNumber %d..%d: %w", start, end, redact(err))
		}
		for i, e := range elems {
			n := start + uint64(i)
			if e.Error != nil {
				return nil, fmt.Errorf("watch: eth_getBlockByNumber %d: %w", n, e.Error)
			}
			b := raw[i]
			if b == nil {
				return nil, fmt.Errorf("watch: block %d: %w", n, ErrNoBlock)
			}
			if uint64(b.Number) != n {
				return nil, fmt.Errorf("watch: asked for block %d, node answered block %d", n, b.Number)
			}
			blk := Block{Number: n, Hash: b.Hash, ParentHash: b.ParentHash, Time: uint64(b.Timestamp), Txs: make([]Tx, len(b.Transactions))}
			for j, t := range b.Transactions {
				v := new(big.Int)
				if t.Value != nil {
					v = t.Value.ToInt()
				}
				blk.Txs[j] = Tx{Hash: t.Hash, From: t.From, To: t.To, Value: v}
			}
			out = append(out, blk)
		}
	}
	return out, nil
}

func (s *RPCSource) Logs(ctx context.Context, from, to uint64, contracts []common.Address, topic common.Hash) ([]types.Log, error) {
	arg := map[string]any{
		"fromBlock": hexutil.Uint64(from),
		"toBlock":   hexutil.Uint64(to),
		"address":   contracts,
		"topics":    [][]common.Hash{{topic}},
	}
	var logs []types.Log
	if err := s.call(ctx, &logs, "eth_getLogs", arg); err != nil {
		return nil, err
	}
	return logs, nil
}

func (s *RPCSource) Receipt(ctx context.Context, tx common.Hash) (uint64, common.Hash, error) {
	var r *struct {
		Status    hexutil.Uint64 `json:"status"`
		BlockHash common.Hash    `json:"blockHash"`
	}
	if err := s.call(ctx, &r, "eth_getTransactionReceipt", tx); err != nil {
		return 0, common.Hash{}, err
	}
	if r == nil {
		return 0, common.Hash{}, fmt.Errorf("watch: receipt of %s: %w", tx, ethereum.NotFound)
	}
	return uint64(r.Status), r.BlockHash, nil
}

// redact drops the path, query and user info from the URL a net/http error
// quotes: RPC providers put API keys there, and these errors are logged.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return err
}

// redactURL keeps the scheme and host of an RPC URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(rpc url)"
	}
	return u.Scheme + "://" + u.Host
}
