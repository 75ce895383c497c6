package parent

// The chain client: the host's only way to the EVM node. It reads balances,
// nonces and fees, broadcasts the raw transactions the enclave signed, and
// follows them until they are confirmed, dropped or replaced.
//
// Every call has its own timeout (ChainOptions.CallTimeout), so a node that
// is down or hangs makes calls fail quickly with ErrNodeUnavailable rather
// than block the bot. Node refusals of a transaction come back as typed
// errors (ErrNonceTooLow, ErrInsufficientFunds, ...), and Broadcast is
// idempotent: sending a transaction the node already has (in its pool or in
// a block) is a success, so a caller may retry it freely.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/autowallet/autowallet/internal/metrics"
)

// GasLimitETH is the gas limit of a plain ETH transfer to an account without
// code.
const GasLimitETH uint64 = 21000

// Errors of the chain client. Each error a Chain method returns wraps at most
// one of the kinds below (and ErrTxRejected for every refusal of a
// transaction), plus the underlying cause, so callers test them with
// errors.Is.
var (
	// ErrNodeUnavailable: the node could not be reached or did not answer in
	// time (connection refused, timeout, HTTP 5xx/408/429, broken response).
	// Retrying later may succeed.
	ErrNodeUnavailable = errors.New("chain node unavailable")
	// ErrNodeRejected: the node answered the request with an error that is
	// not about a transaction (for example HTTP 401/404, or a JSON-RPC error).
	ErrNodeRejected = errors.New("chain node rejected the request")
	// ErrWrongChain: the node is on another chain than the one configured, or
	// a transaction is signed for another chain.
	ErrWrongChain = errors.New("wrong chain")
	// ErrNoEIP1559: the latest block has no base fee (a pre-London chain).
	ErrNoEIP1559 = errors.New("chain has no EIP-1559 base fee")
	// ErrNoReceipt: the transaction has no receipt (yet): it is pending,
	// dropped or was never sent.
	ErrNoReceipt = errors.New("no receipt for transaction")

	// ErrTxRejected is wrapped by every refusal of a transaction by the node;
	// the errors below say why, where the reason is known.
	ErrTxRejected = errors.New("transaction rejected by the node")
	// ErrNonceTooLow: another transaction already used this nonce.
	ErrNonceTooLow = errors.New("nonce too low")
	// ErrNonceTooHigh: the nonce leaves a gap the node does not accept.
	ErrNonceTooHigh = errors.New("nonce too high")
	// ErrInsufficientFunds: the balance does not cover value + gas limit * max fee.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrFeeTooLow: the fee is below what the node or the current base fee requires.
	ErrFeeTooLow = errors.New("fee too low")
	// ErrReplacementUnderpriced: a different transaction with the same nonce
	// is pending and this one does not pay enough more to replace it.
	ErrReplacementUnderpriced = errors.New("replacement transaction underpriced")
	// ErrGasLimit: the gas limit is below the intrinsic gas or above the block gas limit.
	ErrGasLimit = errors.New("bad gas limit")
	// ErrInvalidTransaction: the raw transaction cannot be decoded, or the node
	// finds it invalid (bad signature, wrong chain id, ...).
	ErrInvalidTransaction = errors.New("invalid transaction")
)

// Defaults of ChainOptions.
const (
	DefaultCallTimeout     = 10 * time.Second
	DefaultPollInterval    = 500 * time.Millisecond
	DefaultPollMaxInterval = 5 * time.Second
)

var (
	// DefaultPriorityFeeFloor is the smallest priority fee (tip) Fees returns:
	// 0.001 gwei. Some nodes suggest 0, which block builders may ignore.
	DefaultPriorityFeeFloor = big.NewInt(1_000_000)
	// DefaultPriorityFee is the tip Fees uses when the node does not implement
	// eth_maxPriorityFeePerGas: 1 gwei.
	DefaultPriorityFee = big.NewInt(1_000_000_000)
)

// ChainOptions configure a Chain. The zero value is usable: every zero field
// takes its default.
type ChainOptions struct {
	// Logger receives the client's logs; nil discards them. Logs name
	// transactions by hash, never by their raw bytes or request bodies.
	Logger *slog.Logger
	// CallTimeout bounds every single JSON-RPC call (default 10s).
	CallTimeout time.Duration
	// PriorityFeeFloor is the least tip Fees returns (default 0.001 gwei).
	PriorityFeeFloor *big.Int
	// PriorityFee is the tip Fees uses if the node does not implement
	// eth_maxPriorityFeePerGas (default 1 gwei).
	PriorityFee *big.Int
	// Retry is the policy Broadcast and WaitConfirmed use against an
	// unavailable node (zero fields: DefaultRetryPolicy).
	Retry RetryPolicy
	// PollInterval is WaitConfirmed's first wait between receipt polls; it
	// doubles up to PollMaxInterval (defaults 500ms and 5s).
	PollInterval    time.Duration
	PollMaxInterval time.Duration
	// HTTPClient, if set, is used for http(s) URLs instead of a client with
	// CallTimeout-bounded dialing.
	HTTPClient *http.Client
	// Metrics, if set, times every call by Network and method and counts
	// the failed ones. Network is the network's configured name (the
	// label's value).
	Metrics *metrics.Metrics
	Network string
}

func (o ChainOptions) withDefaults() ChainOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.PriorityFeeFloor == nil {
		o.PriorityFeeFloor = DefaultPriorityFeeFloor
	}
	if o.PriorityFee == nil {
		o.PriorityFee = DefaultPriorityFee
	}
	o.Retry = o.Retry.withDefaults()
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PollMaxInterval <= 0 {
		o.PollMaxInterval = DefaultPollMaxInterval
	}
	if o.PollMaxInterval < o.PollInterval {
		o.PollMaxInterval = o.PollInterval
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: o.CallTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   o.CallTimeout,
			ResponseHeaderTimeout: o.CallTimeout,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}}
	}
	return o
}

// Chain is a client of one EVM node on one chain. It is safe for concurrent use.
type Chain struct {
	rpc     *rpc.Client
	eth     *ethclient.Client
	chainID uint64
	opts    ChainOptions
	log     *slog.Logger
}

// DialChain connects to the node at rpcURL and checks that it is on chain
// wantChainID; a node on another chain is refused with ErrWrongChain. A node
// that does not answer gives ErrNodeUnavailable.
func DialChain(ctx context.Context, rpcURL string, wantChainID uint64, opts ChainOptions) (*Chain, error) {
	opts = opts.withDefaults()
	if wantChainID == 0 {
		return nil, errors.New("dial chain: chain id 0 is not a chain")
	}
	endpoint := redactURL(rpcURL)
	dctx, cancel := context.WithTimeout(ctx, opts.CallTimeout) // ws:// connects here
	cl, err := rpc.DialOptions(dctx, rpcURL, rpc.WithHTTPClient(opts.HTTPClient))
	cancel()
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("dial chain node %s: %w: %w", endpoint, ErrNodeUnavailable, err)
	}
	c := &Chain{
		rpc:     cl,
		eth:     ethclient.NewClient(cl),
		chainID: wantChainID,
		opts:    opts,
		log:     opts.Logger.With("component", "chain", "chain_id", wantChainID),
	}
	var id *big.Int
	err = c.do(ctx, "eth_chainId", func(ctx context.Context) (err error) {
		id, err = c.eth.ChainID(ctx)
		return err
	})
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("dial chain node %s: %w", endpoint, err)
	}
	if !id.IsUint64() || id.Uint64() != wantChainID {
		cl.Close()
		return nil, fmt.Errorf("dial chain node %s: %w: the node is on chain %s, configured for chain %d",
			endpoint, ErrWrongChain, id, wantChainID)
	}
	c.log.Info("connected to chain node", "endpoint", endpoint)
	return c, nil
}

// ChainID is the chain id the client was dialed for (and the node confirmed).
func (c *Chain) ChainID() uint64 { return c.chainID }

// Close closes the connection to the node.
func (c *Chain) Close() { c.rpc.Close() }

// Balance returns the balance of addr in wei at the latest block.
func (c *Chain) Balance(ctx context.Context, addr common.Address) (*big.Int, error) {
	var bal *big.Int
	err := c.do(ctx, "eth_getBalance", func(ctx context.Context) (err error) {
		bal, err = c.eth.BalanceAt(ctx, addr, nil)
		return err
	})
	return bal, err
}

// PendingNonce returns the next nonce of addr, counting its transactions in
// the node's pool: the nonce for a new transfer.
func (c *Chain) PendingNonce(ctx context.Context, addr common.Address) (uint64, error) {
	var n uint64
	err := c.do(ctx, "eth_getTransactionCount(pending)", func(ctx context.Context) (err error) {
		n, err = c.eth.PendingNonceAt(ctx, addr)
		return err
	})
	return n, err
}

// LatestNonce returns the number of transactions of addr in the latest block:
// every nonce below it is used on chain.
func (c *Chain) LatestNonce(ctx context.Context, addr common.Address) (uint64, error) {
	var n uint64
	err := c.do(ctx, "eth_getTransactionCount(latest)", func(ctx context.Context) (err error) {
		n, err = c.eth.NonceAt(ctx, addr, nil)
		return err
	})
	return n, err
}

// BlockNumber returns the number of the latest block.
func (c *Chain) BlockNumber(ctx context.Context) (uint64, error) {
	var n uint64
	err := c.do(ctx, "eth_blockNumber", func(ctx context.Context) (err error) {
		n, err = c.eth.BlockNumber(ctx)
		return err
	})
	return n, err
}

// Fees returns EIP-1559 fees for a transaction sent now.
//
// The priority fee (tip) is the node's eth_maxPriorityFeePerGas, at least
// ChainOptions.PriorityFeeFloor (ChainOptions.PriorityFee if the node does not
// implement the method). The max fee is 2 * base fee of the latest block +
// tip. The base fee can rise by at most 12.5% a block, so this headroom keeps
// the transaction includable through at least 5 consecutive full blocks
// (1.125^5 < 2 < 1.125^6); the sender only ever pays base fee + tip, the rest
// of the max fee is a bound, not a cost (but the balance must cover it).
func (c *Chain) Fees(ctx context.Context) (maxFee, maxPriorityFee *big.Int, err error) {
	var head *types.Header
	err = c.do(ctx, "eth_getBlockByNumber(latest)", func(ctx context.Context) (err error) {
		head, err = c.eth.HeaderByNumber(ctx, nil)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if head.BaseFee == nil {
		return nil, nil, fmt.Errorf("fees: block %s: %w", head.Number, ErrNoEIP1559)
	}
	var tip *big.Int
	err = c.do(ctx, "eth_maxPriorityFeePerGas", func(ctx context.Context) (err error) {
		tip, err = c.eth.SuggestGasTipCap(ctx)
		return err
	})
	switch {
	case err == nil:
	case isMethodNotFound(err):
		c.log.Debug("node has no eth_maxPriorityFeePerGas; using the configured tip", "tip", c.opts.PriorityFee)
		tip = new(big.Int).Set(c.opts.PriorityFee)
	default:
		return nil, nil, err
	}
	if tip.Cmp(c.opts.PriorityFeeFloor) < 0 {
		tip = new(big.Int).Set(c.opts.PriorityFeeFloor)
	}
	maxFee = new(big.Int).Lsh(head.BaseFee, 1)
	maxFee.Add(maxFee, tip)
	return maxFee, tip, nil
}

// Broadcast sends a signed raw transaction to the node and returns its hash.
//
// It is idempotent: if the node already has this very transaction (in its
// pool, "already known", or in a block, which a node reports as "nonce too
// low"), Broadcast succeeds. A different transaction whose nonce is used gives
// ErrNonceTooLow; other refusals give ErrInsufficientFunds, ErrFeeTooLow,
// ErrReplacementUnderpriced, ErrGasLimit, ErrNonceTooHigh,
// ErrInvalidTransaction or plain ErrTxRejected, all wrapping ErrTxRejected.
// An unavailable node is retried under ChainOptions.Retry, then reported as
// ErrNodeUnavailable.
func (c *Chain) Broadcast(ctx context.Context, rawTx []byte) (common.Hash, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(rawTx); err != nil {
		return common.Hash{}, fmt.Errorf("broadcast: %w: %w: %w", ErrTxRejected, ErrInvalidTransaction, err)
	}
	hash := tx.Hash()
	if id := tx.ChainId(); tx.Protected() && (!id.IsUint64() || id.Uint64() != c.chainID) {
		return hash, fmt.Errorf("broadcast %s: %w: %w: signed for chain %s, client is on chain %d",
			hash, ErrTxRejected, ErrWrongChain, id, c.chainID)
	}
	log := c.log.With("tx", hash, "nonce", tx.Nonce())
	policy := c.opts.Retry
	policy.OnRetry = c.onRetry(log, "broadcast", policy.OnRetry)
	err := Retry(ctx, func(ctx context.Context) error { return c.sendOnce(ctx, log, hash, rawTx) }, policy)
	if err != nil {
		log.Warn("broadcast failed", "err", err)
		return hash, fmt.Errorf("broadcast %s: %w", hash, err)
	}
	return hash, nil
}

func (c *Chain) sendOnce(ctx context.Context, log *slog.Logger, hash common.Hash, rawTx []byte) error {
	var got common.Hash
	err := c.do(ctx, "eth_sendRawTransaction", func(ctx context.Context) error {
		return c.rpc.CallContext(ctx, &got, "eth_sendRawTransaction", hexutil.Bytes(rawTx))
	})
	if err == nil {
		if got != hash {
			log.Warn("node answered another hash for the transaction", "node_hash", got)
		}
		log.Info("transaction broadcast")
		return nil
	}
	if !errors.Is(err, ErrNodeRejected) {
		return err // unavailable or context done
	}
	kind := classifyTxError(err)
	if kind == errAlreadyKnown {
		log.Debug("node already knows the transaction")
		return nil
	}
	// Whatever the node's reason ("nonce too low" for a mined transaction,
	// "replacement underpriced" from nodes that compare an identical
	// transaction with itself), if it holds this very transaction, it is sent.
	if known, kerr := c.knowsTx(ctx, hash); kerr == nil && known {
		log.Debug("node already holds the transaction", "node_said", rpcMessage(err))
		return nil
	}
	if kind == ErrTxRejected {
		return fmt.Errorf("%w: %s", ErrTxRejected, rpcMessage(err))
	}
	return fmt.Errorf("%w: %w: %s", ErrTxRejected, kind, rpcMessage(err))
}

// knowsTx reports whether the node has the transaction, pending or mined.
func (c *Chain) knowsTx(ctx context.Context, hash common.Hash) (bool, error) {
	err := c.do(ctx, "eth_getTransactionByHash", func(ctx context.Context) error {
		_, _, err := c.eth.TransactionByHash(ctx, hash)
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ethereum.NotFound):
		return false, nil
	default:
		return false, err
	}
}

// Receipt is what the bot needs to know about a mined transaction.
type Receipt struct {
	TxHash            common.Hash
	Status            uint64 // 1 success, 0 failure (reverted)
	BlockNumber       uint64
	BlockHash         common.Hash
	GasUsed           uint64
	EffectiveGasPrice *big.Int // wei per gas actually paid (base fee + tip)
	// Logs are the receipt's event logs (a token transfer's Transfer event
	// is checked against the intent: tokenMoved in tokenlog.go).
	Logs []*types.Log
}

// Succeeded reports whether the transaction executed successfully.
func (r *Receipt) Succeeded() bool { return r.Status == types.ReceiptStatusSuccessful }

// Fee returns the fee paid in wei: gas used * effective gas price.
func (r *Receipt) Fee() *big.Int {
	if r.EffectiveGasPrice == nil {
		return nil
	}
	return new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
}

// Receipt returns the receipt of a mined transaction, or ErrNoReceipt if the
// node has none (pending, dropped or unknown).
func (c *Chain) Receipt(ctx context.Context, hash common.Hash) (*Receipt, error) {
	var r *types.Receipt
	err := c.do(ctx, "eth_getTransactionReceipt", func(ctx context.Context) (err error) {
		r, err = c.eth.TransactionReceipt(ctx, hash)
		return err
	})
	if errors.Is(err, ethereum.NotFound) {
		return nil, fmt.Errorf("receipt %s: %w", hash, ErrNoReceipt)
	}
	if err != nil {
		return nil, err
	}
	if r.BlockNumber == nil {
		return nil, fmt.Errorf("receipt %s: %w: receipt without block number", hash, ErrNodeRejected)
	}
	return &Receipt{
		TxHash:            hash,
		Status:            r.Status,
		BlockNumber:       r.BlockNumber.Uint64(),
		BlockHash:         r.BlockHash,
		GasUsed:           r.GasUsed,
		EffectiveGasPrice: r.EffectiveGasPrice,
		Logs:              r.Logs,
	}, nil
}

// ReceiptL1Fee returns the l1Fee field of an OP-stack receipt (the L1 data
// fee the transaction paid), nil when the node's receipt has none.
func (c *Chain) ReceiptL1Fee(ctx context.Context, hash common.Hash) (*big.Int, error) {
	var r struct {
		L1Fee *hexutil.Big `json:"l1Fee"`
	}
	err := c.do(ctx, "eth_getTransactionReceipt(l1Fee)", func(ctx context.Context) error {
		return c.rpc.CallContext(ctx, &r, "eth_getTransactionReceipt", hash)
	})
	if err != nil || r.L1Fee == nil {
		return nil, err
	}
	return r.L1Fee.ToInt(), nil
}

// Confirmations returns how many blocks, counting the receipt's own, are on
// top of the chain: 1 right after inclusion. It returns 0 if the receipt's
// block is no longer canonical (a reorganisation) or is ahead of the head the
// node reports.
func (c *Chain) Confirmations(ctx context.Context, r *Receipt) (uint64, error) {
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return 0, err
	}
	if head < r.BlockNumber {
		return 0, nil
	}
	var h *types.Header
	err = c.do(ctx, "eth_getBlockByNumber", func(ctx context.Context) (err error) {
		h, err = c.eth.HeaderByNumber(ctx, new(big.Int).SetUint64(r.BlockNumber))
		return err
	})
	if errors.Is(err, ethereum.NotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if h.Hash() != r.BlockHash {
		return 0, nil
	}
	return head - r.BlockNumber + 1, nil
}

// NonceAtDepth returns how many transactions of addr are in the block
// depth-1 below the head (depth 1: the head): every nonce below it is used
// by a transaction at least depth blocks deep.
func (c *Chain) NonceAtDepth(ctx context.Context, addr common.Address, depth uint64) (uint64, error) {
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return 0, err
	}
	if depth == 0 {
		depth = 1
	}
	if head+1 < depth {
		return 0, nil
	}
	var n uint64
	err = c.do(ctx, "eth_getTransactionCount(block)", func(ctx context.Context) (err error) {
		n, err = c.eth.NonceAt(ctx, addr, new(big.Int).SetUint64(head+1-depth))
		return err
	})
	return n, err
}

// WaitConfirmed polls until the transaction is mined with at least
// confirmations blocks (values below 1 count as 1) and returns its receipt.
// Polls back off from PollInterval to PollMaxInterval; an unavailable node
// is retried under ChainOptions.Retry and then returned as
// ErrNodeUnavailable. The receipt is fetched again at each poll, so a
// reorganisation that moves or removes the transaction is followed. It waits
// as long as ctx allows for a transaction that never appears: a caller
// tracking a possibly dropped transaction uses TxState.
func (c *Chain) WaitConfirmed(ctx context.Context, hash common.Hash, confirmations int) (*Receipt, error) {
	want := uint64(max(confirmations, 1))
	log := c.log.With("tx", hash)
	policy := c.opts.Retry
	policy.OnRetry = c.onRetry(log, "wait for receipt", policy.OnRetry)
	wait := c.opts.PollInterval
	for {
		var (
			r     *Receipt
			confs uint64
		)
		err := Retry(ctx, func(ctx context.Context) error {
			var err error
			if r, err = c.Receipt(ctx, hash); err != nil {
				return err
			}
			confs, err = c.Confirmations(ctx, r)
			return err
		}, policy)
		switch {
		case err == nil && confs >= want:
			log.Info("transaction confirmed", "block", r.BlockNumber, "confirmations", confs, "status", r.Status)
			return r, nil
		case err == nil, errors.Is(err, ErrNoReceipt):
		default:
			return nil, fmt.Errorf("wait for %s: %w", hash, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %s: %w", hash, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, c.opts.PollMaxInterval)
	}
}

// TxStatus is what the node knows of a transaction.
type TxStatus int

const (
	// TxUnknown: the node has neither the transaction nor another one with
	// its nonce: it was dropped (or never reached the node). The nonce is
	// still free, so broadcasting the same raw transaction again is safe.
	TxUnknown TxStatus = iota
	// TxPending: the transaction is in the node's pool.
	TxPending
	// TxMined: the transaction is in a block; TxState returns its receipt.
	TxMined
	// TxReplaced: another transaction with the same sender and nonce is in a
	// block, so this one can never be mined.
	TxReplaced
)

func (s TxStatus) String() string {
	switch s {
	case TxUnknown:
		return "unknown"
	case TxPending:
		return "pending"
	case TxMined:
		return "mined"
	case TxReplaced:
		return "replaced"
	}
	return fmt.Sprintf("TxStatus(%d)", int(s))
}

// TxState tells whether the transaction hash, sent by from with nonce, is
// mined (with its receipt), pending, replaced by another transaction with the
// same nonce, or unknown (dropped). Nothing is retried: an unavailable node
// gives ErrNodeUnavailable.
func (c *Chain) TxState(ctx context.Context, hash common.Hash, from common.Address, nonce uint64) (TxStatus, *Receipt, error) {
	r, err := c.Receipt(ctx, hash)
	if err == nil {
		return TxMined, r, nil
	}
	if !errors.Is(err, ErrNoReceipt) {
		return TxUnknown, nil, err
	}
	known, err := c.knowsTx(ctx, hash)
	if err != nil {
		return TxUnknown, nil, err
	}
	if known {
		// In the pool, or mined between the two calls: look once more.
		if r, err := c.Receipt(ctx, hash); err == nil {
			return TxMined, r, nil
		}
		return TxPending, nil, nil
	}
	used, err := c.LatestNonce(ctx, from)
	if err != nil {
		return TxUnknown, nil, err
	}
	if used <= nonce {
		return TxUnknown, nil, nil
	}
	// The nonce is used on chain. By this very transaction, if it was mined
	// after the first look?
	if r, err := c.Receipt(ctx, hash); err == nil {
		return TxMined, r, nil
	} else if !errors.Is(err, ErrNoReceipt) {
		return TxUnknown, nil, err
	}
	return TxReplaced, nil, nil
}

// RetryPolicy bounds Retry: exponential backoff from Initial, times
// Multiplier per attempt, at most Max between attempts, with ±20% jitter;
// it stops after MaxAttempts attempts or once MaxElapsed has passed
// (whichever comes first; a negative bound is no bound). Zero fields take
// the values of DefaultRetryPolicy.
type RetryPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	Multiplier  float64
	MaxAttempts int
	MaxElapsed  time.Duration
	// Retryable tells which errors are worth another attempt; nil retries
	// errors wrapping ErrNodeUnavailable only.
	Retryable func(error) bool
	// OnRetry, if set, is called before each wait with the attempt that
	// failed (from 1), its error and the wait.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// DefaultRetryPolicy: 200ms, 400ms, 800ms, ... up to 5s between attempts,
// at most 5 attempts and 30s.
var DefaultRetryPolicy = RetryPolicy{
	Initial:     200 * time.Millisecond,
	Max:         5 * time.Second,
	Multiplier:  2,
	MaxAttempts: 5,
	MaxElapsed:  30 * time.Second,
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.Multiplier < 1 {
		p.Multiplier = d.Multiplier
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	if p.Retryable == nil {
		p.Retryable = func(err error) bool { return errors.Is(err, ErrNodeUnavailable) }
	}
	return p
}

// Retry calls fn until it succeeds, returns an error p.Retryable refuses, or
// the policy's bounds or ctx end the attempts. It returns nil or the last
// error (with ctx's error too, if ctx ended the wait).
func Retry(ctx context.Context, fn func(ctx context.Context) error, p RetryPolicy) error {
	p = p.withDefaults()
	start := time.Now()
	wait := p.Initial
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !p.Retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (stopped: %w)", err, ctx.Err())
		}
		if p.MaxAttempts > 0 && attempt >= p.MaxAttempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		d := jitter(wait)
		if p.MaxElapsed > 0 && time.Since(start)+d > p.MaxElapsed {
			return fmt.Errorf("%w (gave up after %d attempts in %v)", err, attempt, time.Since(start).Round(time.Millisecond))
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped: %w)", err, ctx.Err())
		case <-t.C:
		}
		wait = time.Duration(min(float64(wait)*p.Multiplier, float64(p.Max)))
	}
}

func jitter(d time.Duration) time.Duration {
	f := 0.8 + 0.4*rand.Float64()
	return time.Duration(math.Round(float64(d) * f))
}

func (c *Chain) onRetry(log *slog.Logger, what string, next func(int, error, time.Duration)) func(int, error, time.Duration) {
	return func(attempt int, err error, wait time.Duration) {
		log.Warn(what+": node unavailable, retrying", "attempt", attempt, "wait", wait, "err", err)
		if next != nil {
			next(attempt, err, wait)
		}
	}
}

// do runs one RPC call under CallTimeout and types its error: the caller's
// context error as is, ethereum.NotFound as is, a JSON-RPC or HTTP 4xx
// answer as ErrNodeRejected, anything else as ErrNodeUnavailable.
func (c *Chain) do(ctx context.Context, method string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	t0 := time.Now()
	err := fn(cctx)
	// Not found is an answer; a failure is anything else, the caller's
	// own cancellation included.
	c.opts.Metrics.RPCCall(c.opts.Network, method, time.Since(t0), err != nil && !errors.Is(err, ethereum.NotFound))
	if err == nil || errors.Is(err, ethereum.NotFound) {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
	kind := classifyCallError(err)
	// net/http errors quote the whole URL, and providers put API keys in
	// it: keep only the scheme and host.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return fmt.Errorf("%s: %w: %w", method, kind, err)
}

func classifyCallError(err error) error {
	var httpErr rpc.HTTPError
	if errors.As(err, &httpErr) {
		switch s := httpErr.StatusCode; {
		case s >= 500, s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
			return ErrNodeUnavailable
		default:
			return ErrNodeRejected
		}
	}
	var rpcErr rpc.Error
	if errors.As(err, &rpcErr) {
		// A node still indexing transactions answers receipts later.
		if strings.Contains(strings.ToLower(rpcErr.Error()), "indexing is in progress") {
			return ErrNodeUnavailable
		}
		return ErrNodeRejected
	}
	return ErrNodeUnavailable
}

// errAlreadyKnown is the internal kind of "the node has this transaction".
var errAlreadyKnown = errors.New("already known")

// txErrorKinds maps the messages of geth, Erigon, Nethermind, Besu and
// Reth to error kinds; the first match wins, so longer phrases come first.
var txErrorKinds = []struct {
	substr string
	kind   error
}{
	{"already known", errAlreadyKnown},
	{"alreadyknown", errAlreadyKnown},
	{"known transaction", errAlreadyKnown},
	{"already imported", errAlreadyKnown},
	{"already in mempool", errAlreadyKnown},
	{"already exists", errAlreadyKnown},
	{"nonce too low", ErrNonceTooLow},
	{"oldnonce", ErrNonceTooLow},
	{"nonce is too low", ErrNonceTooLow},
	{"nonce too high", ErrNonceTooHigh},
	{"nonce is too high", ErrNonceTooHigh},
	{"insufficient funds", ErrInsufficientFunds},
	{"insufficientfunds", ErrInsufficientFunds},
	{"insufficient balance", ErrInsufficientFunds},
	{"replacement transaction underpriced", ErrReplacementUnderpriced},
	{"replacement underpriced", ErrReplacementUnderpriced},
	{"underpriced", ErrFeeTooLow},
	{"less than block base fee", ErrFeeTooLow},
	{"gas price below minimum", ErrFeeTooLow},
	{"feetoolow", ErrFeeTooLow},
	{"fee too low", ErrFeeTooLow},
	{"intrinsic gas too low", ErrGasLimit},
	{"exceeds block gas limit", ErrGasLimit},
	{"gas limit reached", ErrGasLimit},
	{"invalid sender", ErrInvalidTransaction},
	{"invalid chain id", ErrInvalidTransaction},
	{"replay-protected", ErrInvalidTransaction},
	{"invalid signature", ErrInvalidTransaction},
	{"higher than max fee per gas", ErrInvalidTransaction},
	{"rlp", ErrInvalidTransaction},
}

func classifyTxError(err error) error {
	msg := strings.ToLower(rpcMessage(err))
	for _, k := range txErrorKinds {
		if strings.Contains(msg, k.substr) {
			return k.kind
		}
	}
	return ErrTxRejected
}

// rpcMessage is the node's own message in err.
func rpcMessage(err error) string {
	var rpcErr rpc.Error
	if errors.As(err, &rpcErr) {
		return rpcErr.Error()
	}
	var httpErr rpc.HTTPError
	if errors.As(err, &httpErr) {
		return httpErr.Status
	}
	return err.Error()
}

func isMethodNotFound(err error) bool {
	var rpcErr rpc.Error
	if errors.As(err, &rpcErr) {
		if rpcErr.ErrorCode() == -32601 {
			return true
		}
		msg := strings.ToLower(rpcErr.Error())
		return strings.Contains(msg, "method not found") || strings.Contains(msg, "does not exist") ||
			strings.Contains(msg, "not supported")
	}
	return false
}

// redactURL keeps the scheme and host of an RPC URL for logs and errors:
// providers put API keys in the path, query or user info.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(rpc url)"
	}
	return u.Scheme + "://" + u.Host
}
