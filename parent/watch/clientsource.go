package watch

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// EthClient is the part of go-ethereum's ethclient.Client (and of the
// simulated backend's client) that ClientSource uses.
type EthClient interface {
	ChainID(ctx context.Context) (*big.Int, error)
	BlockNumber(ctx context.Context) (uint64, error)
	BlockByNumber(ctx context.Context, number *big.Int) (*types.Block, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
}

// ClientSource is a Source on a go-ethereum client: one call per block and
// full transaction decoding (senders recovered from signatures), so it only
// knows the transaction types go-ethereum knows. RPCSource is the one for
// production; this one serves the simulated backend.
type ClientSource struct {
	C EthClient
}

func (s ClientSource) ChainID(ctx context.Context) (uint64, error) {
	id, err := s.C.ChainID(ctx)
	if err != nil {
		return 0, err
	}
	return id.Uint64(), nil
}

func (s ClientSource) Head(ctx context.Context) (uint64, error) { return s.C.BlockNumber(ctx) }

func (s ClientSource) Blocks(ctx context.Context, from, to uint64) ([]Block, error) {
	var out []Block
	for n := from; n <= to && n >= from; n++ {
		b, err := s.C.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			return nil, fmt.Errorf("watch: block %d: %w", n, err)
		}
		blk := Block{Number: n, Hash: b.Hash(), ParentHash: b.ParentHash(), Time: b.Time()}
		for _, tx := range b.Transactions() {
			from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
			if err != nil {
				return nil, fmt.Errorf("watch: sender of %s: %w", tx.Hash(), err)
			}
			blk.Txs = append(blk.Txs, Tx{Hash: tx.Hash(), From: from, To: tx.To(), Value: tx.Value()})
		}
		out = append(out, blk)
	}
	return out, nil
}

func (s ClientSource) Logs(ctx context.Context, from, to uint64, contracts []common.Address, topic common.Hash) ([]types.Log, error) {
	return s.C.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
		Addresses: contracts, Topics: [][]common.Hash{{topic}},
	})
}

func (s ClientSource) Receipt(ctx context.Context, tx common.Hash) (uint64, common.Hash, error) {
	r, err := s.C.TransactionReceipt(ctx, tx)
	if err != nil {
		return 0, common.Hash{}, fmt.Errorf("watch: receipt of %s: %w", tx, err)
	}
	return r.Status, r.BlockHash, nil
}
