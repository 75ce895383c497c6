// Package devchain is the embedded EVM chain of `autowallet dev`:
// go-ethereum's simulated backend, serving JSON-RPC over HTTP on loopback like
// any node, producing a block every period on its own, with a funded faucet.
// Its state lives in memory: each start begins again from genesis.
package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"
)

// ChainID of the simulated chain.
var ChainID = params.AllDevChainProtocolChanges.ChainID.Uint64()

// DripAmount is what the faucet sends per request: 1 ETH.
var DripAmount = big.NewInt(1e18)

// Chain is a running dev chain.
type Chain struct {
	// URL is the JSON-RPC endpoint, http://127.0.0.1:<port>.
	URL string

	sim    *simulated.Backend
	faucet *ecdsa.PrivateKey
	from   common.Address
	log    *slog.Logger
	mu     sync.Mutex // one faucet transaction at a time
	// nonce is the faucet's next nonce, kept here: the node's pending nonce
	// lags while a block is being committed, which would reuse one.
	nonce uint64
	stop  chan struct{}
	done  chan struct{}
	// paused stops block production until Resume (tests that need
	// transactions to wait in the pool).
	paused atomic.Bool
}

// Pause stops producing blocks: transactions wait in the pool.
func (c *Chain) Pause() { c.paused.Store(true) }

// Resume produces blocks again, one every period.
func (c *Chain) Resume() { c.paused.Store(false) }

// Start runs the chain with a block every period (at least 100ms).
func Start(period time.Duration, log *slog.Logger) (*Chain, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("dev chain: finding a port: %w", err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	million := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))
	var sim *simulated.Backend
	// NewBackend panics on a failed start (a port taken in between).
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("dev chain: starting the simulated backend: %v", r)
			}
		}()
		sim = simulated.NewBackend(types.GenesisAlloc{from: {Balance: million}}, func(n *node.Config, _ *ethconfig.Config) {
			n.HTTPHost = "127.0.0.1"
			n.HTTPPort = port
			n.HTTPModules = []string{"eth", "net", "web3"}
		})
	}()
	if err != nil {
		return nil, err
	}
	c := &Chain{
		URL:    fmt.Sprintf("http://127.0.0.1:%d", port),
		sim:    sim,
		faucet: key,
		from:   from,
		log:    log,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go c.produce(max(period, 100*time.Millisecond))
	return c, nil
}

// produce commits a block every period until Close.
func (c *Chain) produce(period time.Duration) {
	defer close(c.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if !c.paused.Load() {
				c.sim.Commit()
			}
		}
	}
}

// Drip sends DripAmount from the faucet to addr and returns the transaction
// hash; it is mined with the next block.
func (c *Chain) Drip(ctx context.Context, to common.Address) (*big.Int, common.Hash, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.sim.Client()
	pending, err := cl.PendingNonceAt(ctx, c.from)
	if err != nil {
		return nil, common.Hash{}, err
	}
	nonce := max(pending, c.nonce)
	head, err := cl.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, common.Hash{}, err
	}
	tip := big.NewInt(1e9)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(ChainID), Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap,
		Gas: 21000, To: &to, Value: DripAmount,
	}), types.LatestSignerForChainID(new(big.Int).SetUint64(ChainID)), c.faucet)
	if err != nil {
		return nil, common.Hash{}, err
	}
	if err := cl.SendTransaction(ctx, tx); err != nil {
		return nil, common.Hash{}, err
	}
	c.nonce = nonce + 1
	c.log.Info("faucet drip", "to", to.Hex(), "tx", tx.Hash().Hex())
	return new(big.Int).Set(DripAmount), tx.Hash(), nil
}

// Close stops block production and the node.
func (c *Chain) Close() error {
	select {
	case <-c.stop:
		return errors.New("dev chain: already closed")
	default:
	}
	close(c.stop)
	<-c.done
	return c.sim.Close()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
