package contracts

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// Backend is what the deploy helpers need from a chain. *ethclient.Client and
// the simulated backend's Client() both satisfy it.
type Backend interface {
	bind.ContractBackend
	bind.DeployBackend
}

// MinedTimeout bounds how long a helper waits for one transaction to be
// mined when ctx has no earlier deadline.
const MinedTimeout = 2 * time.Minute

// ErrReverted is returned (wrapped) when a mined transaction failed.
var ErrReverted = errors.New("contracts: transaction reverted")

// ErrCodeMismatch is returned (wrapped) when the code a deployment left on
// chain is not the committed runtime code.
var ErrCodeMismatch = errors.New("contracts: deployed code differs from the committed build")

// Deployer sends transactions from one key and waits until each is mined.
// It keeps the key's nonce itself, so calls may follow each other without
// waiting for the node's pending state; it is safe for concurrent use (one
// transaction at a time).
type Deployer struct {
	backend Backend
	key     *ecdsa.PrivateKey
	chainID *big.Int
	// Commit, if set, is called after each transaction is sent: the
	// simulated backend's Commit, for a chain that makes no blocks by itself.
	// Leave nil for geth --dev, the dev chains or a real node.
	Commit func()

	mu       sync.Mutex
	nonce    uint64
	nonceSet bool
}

// NewDeployer returns a Deployer that signs with key for chainID.
func NewDeployer(backend Backend, key *ecdsa.PrivateKey, chainID *big.Int) *Deployer {
	return &Deployer{backend: backend, key: key, chainID: new(big.Int).Set(chainID)}
}

// Address is the deployer's address: the owner of what it deploys.
func (d *Deployer) Address() common.Address { return crypto.PubkeyToAddress(d.key.PublicKey) }

// DeployTestUSDC deploys TestUSDC (owner: the deployer) and checks its code.
func (d *Deployer) DeployTestUSDC(ctx context.Context) (common.Address, *TestUSDC, error) {
	var token *TestUSDC
	addr, err := d.deploy(ctx, TestUSDCRuntimeCode(), func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
		a, tx, t, err := DeployTestUSDC(o, d.backend)
		token = t
		return a, tx, err
	})
	return addr, token, err
}

// DeployTestUSDT deploys TestUSDT (owner: the deployer) and checks its code.
func (d *Deployer) DeployTestUSDT(ctx context.Context) (common.Address, *TestUSDT, error) {
	var token *TestUSDT
	addr, err := d.deploy(ctx, TestUSDTRuntimeCode(), func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
		a, tx, t, err := DeployTestUSDT(o, d.backend)
		token = t
		return a, tx, err
	})
	return addr, token, err
}

// DeployGasPriceOracle deploys the GasPriceOracle stand-in at a fresh
// address (a genesis alloc uses GasPriceOracleGenesis instead).
func (d *Deployer) DeployGasPriceOracle(ctx context.Context, l1BaseFee *big.Int) (common.Address, *GasPriceOracle, error) {
	var oracle *GasPriceOracle
	addr, err := d.deploy(ctx, GasPriceOracleRuntimeCode(), func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
		a, tx, g, err := DeployGasPriceOracle(o, d.backend, l1BaseFee)
		oracle = g
		return a, tx, err
	})
	return addr, oracle, err
}

// Mint mints amount of token (TestUSDC or TestUSDT: both have
// mint(address,uint256)) to to and waits until it is mined. Only the
// deployer of the token may mint.
func (d *Deployer) Mint(ctx context.Context, token, to common.Address, amount *big.Int) (*types.Receipt, error) {
	t, err := NewTestUSDTTransactor(token, d.backend)
	if err != nil {
		return nil, err
	}
	return d.send(ctx, func(o *bind.TransactOpts) (*types.Transaction, error) { return t.Mint(o, to, amount) })
}

// Transfer sends amount of an ERC-20 token from the deployer to to with
// transfer(to, amount) and waits until it is mined. Success is the
// receipt's status, not a return value, so it works for USDT-style tokens.
func (d *Deployer) Transfer(ctx context.Context, token, to common.Address, amount *big.Int) (*types.Receipt, error) {
	t, err := NewTestUSDTTransactor(token, d.backend)
	if err != nil {
		return nil, err
	}
	return d.send(ctx, func(o *bind.TransactOpts) (*types.Transaction, error) { return t.Transfer(o, to, amount) })
}

func (d *Deployer) deploy(ctx context.Context, runtime []byte, do func(*bind.TransactOpts) (common.Address, *types.Transaction, error)) (common.Address, error) {
	var addr common.Address
	r, err := d.send(ctx, func(o *bind.TransactOpts) (*types.Transaction, error) {
		a, tx, err := do(o)
		addr = a
		return tx, err
	})
	if err != nil {
		return common.Address{}, err
	}
	if r.ContractAddress != addr {
		return common.Address{}, fmt.Errorf("contracts: receipt names contract %s, expected %s", r.ContractAddress, addr)
	}
	// The code on chain must be the committed, rebuilt-and-checked build.
	code, err := d.backend.CodeAt(ctx, addr, r.BlockNumber)
	if err != nil {
		return common.Address{}, fmt.Errorf("contracts: reading the code at %s: %w", addr, err)
	}
	if string(code) != string(runtime) {
		return common.Address{}, fmt.Errorf("%w: at %s (%d bytes, want %d)", ErrCodeMismatch, addr, len(code), len(runtime))
	}
	return addr, nil
}

// send signs and sends one transaction with the next nonce, then waits for
// its receipt and fails unless it succeeded.
func (d *Deployer) send(ctx context.Context, do func(*bind.TransactOpts) (*types.Transaction, error)) (*types.Receipt, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, MinedTimeout)
		defer cancel()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	opts, err := bind.NewKeyedTransactorWithChainID(d.key, d.chainID)
	if err != nil {
		return nil, err
	}
	opts.Context = ctx
	if !d.nonceSet {
		n, err := d.backend.PendingNonceAt(ctx, opts.From)
		if err != nil {
			return nil, fmt.Errorf("contracts: nonce of %s: %w", opts.From, err)
		}
		d.nonce, d.nonceSet = n, true
	}
	opts.Nonce = new(big.Int).SetUint64(d.nonce)
	tx, err := do(opts)
	if err != nil {
		d.nonceSet = false // ask the node again next time
		return nil, fmt.Errorf("contracts: sending from %s: %w", opts.From, err)
	}
	d.nonce++
	if d.Commit != nil {
		d.Commit()
	}
	r, err := waitMined(ctx, d.backend, tx.Hash())
	if err != nil {
		return nil, err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return r, fmt.Errorf("%w: %s (gas used %d)", ErrReverted, tx.Hash(), r.GasUsed)
	}
	return r, nil
}

// waitMined polls for the receipt every 50 ms until ctx ends. Errors other
// than "not found" (a node still indexing) are retried too and reported if
// the wait times out.
func waitMined(ctx context.Context, b bind.DeployBackend, hash common.Hash) (*types.Receipt, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		r, err := b.TransactionReceipt(ctx, hash)
		if err == nil && r != nil {
			return r, nil
		}
		if err != nil && !errors.Is(err, ethereum.NotFound) {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return nil, fmt.Errorf("contracts: waiting for %s to be mined: %w (last error: %v)", hash, ctx.Err(), last)
			}
			return nil, fmt.Errorf("contracts: waiting for %s to be mined: %w", hash, ctx.Err())
		case <-tick.C:
		}
	}
}
