// Package devchain is the embedded EVM chain of `autowallet dev`:
// go-ethereum's simulated backend, serving JSON-RPC over HTTP on loopback like
// any node, producing a block every period on its own, with a funded faucet.
// Its state lives in memory: each start begins again from genesis.
//
// `autowallet dev` runs two (StartWith): an L1 stand-in (chain 1337) and an
// L2 stand-in (chain 31337, shorter block period, an OP-stack
// GasPriceOracle stand-in at 0x42…0F so transactions have an L1 data fee),
// each with a real ERC-20 "test USDC" (OpenZeppelin, package contracts)
// deployed at start by the faucet, which drips ETH and test USDC.
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

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"

	"github.com/autowallet/autowallet/contracts"
)

// ChainID of the simulated chain.
var ChainID = params.AllDevChainProtocolChanges.ChainID.Uint64()

// DripAmount is what the faucet sends per request: 1 ETH.
var DripAmount = big.NewInt(1e18)

// TokenDripAmount is the test USDC the faucet sends per request: 100 USDC
// (6 decimals).
var TokenDripAmount = big.NewInt(100_000_000)

// Options of StartWith. The zero value is the chain Start runs.
type Options struct {
	// ChainID of the chain (default ChainID, 1337).
	ChainID uint64
	// Period between blocks (at least 100ms; default 1s).
	Period time.Duration
	Log    *slog.Logger
	// L1BaseFee, if set, places the GasPriceOracle stand-in at the OP
	// Stack predeploy address with that L1 base fee (wei): the chain then
	// answers getL1Fee like Base or Optimism.
	L1BaseFee *big.Int
	// TestUSDC deploys the TestUSDC token at start, owned by the faucet,
	// which mints itself a supply to drip from (Chain.USDC).
	TestUSDC bool
}

// Chain is a running dev chain.
type Chain struct {
	// URL is the JSON-RPC endpoint, http://127.0.0.1:<port>.
	URL string
	// ID is the chain id.
	ID uint64
	// USDC is the test USDC contract (zero without Options.TestUSDC).
	USDC common.Address

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
	return StartWith(Options{Period: period, Log: log})
}

// StartWith runs a chain with the given options.
func StartWith(o Options) (*Chain, error) {
	if o.ChainID == 0 {
		o.ChainID = ChainID
	}
	if o.Period <= 0 {
		o.Period = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	period, log := o.Period, o.Log
	key, err := FaucetKey(o.ChainID)
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
		alloc := types.GenesisAlloc{from: {Balance: million}}
		if o.L1BaseFee != nil {
			alloc[contracts.GasPriceOracleAddress] = contracts.GasPriceOracleGenesis(o.L1BaseFee)
		}
		sim = simulated.NewBackend(alloc, func(n *node.Config, e *ethconfig.Config) {
			n.HTTPHost = "127.0.0.1"
			n.HTTPPort = port
			n.HTTPModules = []string{"eth", "net", "web3"}
			// The simulated backend's dev config with this chain's id
			// (a copy: the package's config is shared).
			cfg := *e.Genesis.Config
			cfg.ChainID = new(big.Int).SetUint64(o.ChainID)
			e.Genesis.Config = &cfg
			e.NetworkId = o.ChainID
		})
	}()
	if err != nil {
		return nil, err
	}
	c := &Chain{
		URL:    fmt.Sprintf("http://127.0.0.1:%d", port),
		ID:     o.ChainID,
		sim:    sim,
		faucet: key,
		from:   from,
		log:    log,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if o.TestUSDC {
		// Deployed and minted before blocks run on their own: each
		// transaction is committed at once, so the start stays quick.
		if err := c.deployUSDC(); err != nil {
			sim.Close()
			return nil, err
		}
	}
	go c.produce(max(period, 100*time.Millisecond))
	return c, nil
}

// FaucetKey is the faucet's key on a dev chain: the same on every start
// (Keccak-256 of "autowallet dev faucet" and the chain id), so the test USDC
// the faucet deploys as its first transaction has the same address every
// time, and with it the dev enclave's config (its allowed tokens) and
// PCR0. A public key for a chain that lives in memory on loopback and
// carries nothing of value.
func FaucetKey(chainID uint64) (*ecdsa.PrivateKey, error) {
	seed := crypto.Keccak256([]byte(fmt.Sprintf("autowallet dev faucet %d", chainID)))
	return crypto.ToECDSA(seed)
}

// usdcSupply is what the faucet mints itself at start: 1,000,000,000 test USDC.
var usdcSupply = new(big.Int).Mul(big.NewInt(1_000_000_000), big.NewInt(1_000_000))

func (c *Chain) deployUSDC() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := contracts.NewDeployer(c.sim.Client(), c.faucet, new(big.Int).SetUint64(c.ID))
	d.Commit = func() { c.sim.Commit() }
	addr, _, err := d.DeployTestUSDC(ctx)
	if err != nil {
		return fmt.Errorf("dev chain %d: deploying test USDC: %w", c.ID, err)
	}
	if _, err := d.Mint(ctx, addr, c.from, usdcSupply); err != nil {
		return fmt.Errorf("dev chain %d: minting test USDC: %w", c.ID, err)
	}
	c.USDC = addr
	c.nonce, err = c.sim.Client().PendingNonceAt(ctx, c.from)
	c.log.Info("test USDC deployed", "chain_id", c.ID, "address", addr.Hex())
	return err
}

// Faucet is the faucet's address (it deployed the test USDC).
func (c *Chain) Faucet() common.Address { return c.from }

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
	hash, err := c.send(ctx, to, DripAmount, nil, 21000)
	if err != nil {
		return nil, common.Hash{}, err
	}
	c.log.Info("faucet drip", "chain_id", c.ID, "to", to.Hex(), "tx", hash.Hex())
	return new(big.Int).Set(DripAmount), hash, nil
}

// DripToken sends TokenDripAmount of test USDC from the faucet to addr with
// transfer(to, amount); it is mined with the next block.
func (c *Chain) DripToken(ctx context.Context, to common.Address) (*big.Int, common.Hash, error) {
	if c.USDC == (common.Address{}) {
		return nil, common.Hash{}, errors.New("dev chain: no test USDC on this chain")
	}
	erc20, err := contracts.TestUSDCMetaData.GetAbi()
	if err != nil {
		return nil, common.Hash{}, err
	}
	data, err := erc20.Pack("transfer", to, TokenDripAmount)
	if err != nil {
		return nil, common.Hash{}, err
	}
	gas, err := c.sim.Client().EstimateGas(ctx, ethereum.CallMsg{From: c.from, To: &c.USDC, Data: data})
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("dev chain: estimating the token drip: %w", err)
	}
	hash, err := c.send(ctx, c.USDC, new(big.Int), data, gas+gas/4)
	if err != nil {
		return nil, common.Hash{}, err
	}
	c.log.Info("faucet token drip", "chain_id", c.ID, "to", to.Hex(), "tx", hash.Hex())
	return new(big.Int).Set(TokenDripAmount), hash, nil
}

// send signs and sends one faucet transaction with the next nonce.
func (c *Chain) send(ctx context.Context, to common.Address, value *big.Int, data []byte, gas uint64) (common.Hash, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.sim.Client()
	pending, err := cl.PendingNonceAt(ctx, c.from)
	if err != nil {
		return common.Hash{}, err
	}
	nonce := max(pending, c.nonce)
	head, err := cl.HeaderByNumber(ctx, nil)
	if err != nil {
		return common.Hash{}, err
	}
	tip := big.NewInt(1e9)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	id := new(big.Int).SetUint64(c.ID)
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID: id, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap,
		Gas: gas, To: &to, Value: value, Data: data,
	}), types.LatestSignerForChainID(id), c.faucet)
	if err != nil {
		return common.Hash{}, err
	}
	if err := cl.SendTransaction(ctx, tx); err != nil {
		return common.Hash{}, err
	}
	c.nonce = nonce + 1
	return tx.Hash(), nil
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
