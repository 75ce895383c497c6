package parent

// Tests of the chain client against a real `geth --dev` (internal/testchain):
// no mocks. `make tools` installs geth.

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"log/slog"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

var (
	gwei  = big.NewInt(1_000_000_000)
	ether = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
)

// testCtx bounds a whole test's chain calls; tests never assert on time, this
// only keeps a broken node from hanging the run.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

func dial(t testing.TB, node *testchain.Node, opts ChainOptions) *Chain {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	c, err := DialChain(testCtx(t), node.URL, node.ChainID, opts)
	if err != nil {
		t.Fatalf("DialChain: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// wallet is a throwaway key the test signs with.
type wallet struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

func newWallet(t testing.TB) wallet {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return wallet{key: k, addr: crypto.PubkeyToAddress(k.PublicKey)}
}

// transfer signs an EIP-1559 ETH transfer as the enclave would.
func (w wallet) transfer(t testing.TB, chainID uint64, nonce uint64, to common.Address, amount, maxFee, tip *big.Int) (*types.Transaction, []byte) {
	t.Helper()
	id := new(big.Int).SetUint64(chainID)
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID:   id,
		Nonce:     nonce,
		GasTipCap: tip,
		GasFeeCap: maxFee,
		Gas:       GasLimitETH,
		To:        &to,
		Value:     amount,
	}), types.LatestSignerForChainID(id), w.key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return tx, raw
}

func fees(t testing.TB, c *Chain) (maxFee, tip *big.Int) {
	t.Helper()
	maxFee, tip, err := c.Fees(testCtx(t))
	if err != nil {
		t.Fatalf("Fees: %v", err)
	}
	return maxFee, tip
}

// TestChainGeth runs the client against one geth --dev that mines a block
// every second; the subtests use their own keys and run in parallel.
func TestChainGeth(t *testing.T) {
	node := testchain.Start(t, testchain.WithPeriod(1))
	c := dial(t, node, ChainOptions{})

	t.Run("ChainID", func(t *testing.T) {
		t.Parallel()
		if c.ChainID() != node.ChainID {
			t.Fatalf("ChainID() = %d, want %d", c.ChainID(), node.ChainID)
		}
		_, err := DialChain(testCtx(t), node.URL, node.ChainID+1, ChainOptions{Logger: testLogger(t)})
		if !errors.Is(err, ErrWrongChain) {
			t.Fatalf("DialChain with chain id %d: err = %v, want ErrWrongChain", node.ChainID+1, err)
		}
		t.Logf("wrong chain: %v", err)
	})

	t.Run("BalanceAfterFunding", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		w := newWallet(t)
		bal, err := c.Balance(ctx, w.addr)
		if err != nil || bal.Sign() != 0 {
			t.Fatalf("Balance of a new key = %v, %v; want 0", bal, err)
		}
		amount := new(big.Int).Mul(big.NewInt(3), ether)
		node.Fund(t, w.addr, amount)
		bal, err = c.Balance(ctx, w.addr)
		if err != nil || bal.Cmp(amount) != 0 {
			t.Fatalf("Balance after funding = %v, %v; want %v", bal, err, amount)
		}
	})

	t.Run("Fees", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		maxFee, tip := fees(t, c)
		var head *types.Header
		if err := c.do(ctx, "header", func(ctx context.Context) (err error) {
			head, err = c.eth.HeaderByNumber(ctx, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("base fee %v, max fee %v, tip %v", head.BaseFee, maxFee, tip)
		if head.BaseFee == nil || maxFee.Cmp(head.BaseFee) < 0 {
			t.Errorf("max fee %v below base fee %v", maxFee, head.BaseFee)
		}
		if tip.Sign() <= 0 || tip.Cmp(maxFee) > 0 {
			t.Errorf("tip %v not in (0, max fee %v]", tip, maxFee)
		}
		if tip.Cmp(DefaultPriorityFeeFloor) < 0 {
			t.Errorf("tip %v below the floor %v", tip, DefaultPriorityFeeFloor)
		}
		want := new(big.Int).Add(new(big.Int).Mul(big.NewInt(2), head.BaseFee), tip)
		if maxFee.Cmp(want) < 0 { // the base fee may have risen since the header was read
			t.Errorf("max fee %v < 2*base fee + tip = %v", maxFee, want)
		}
		// A floor above the node's suggestion wins.
		floor := new(big.Int).Mul(big.NewInt(50), gwei)
		c2 := dial(t, node, ChainOptions{PriorityFeeFloor: floor})
		_, tip2 := fees(t, c2)
		if tip2.Cmp(floor) != 0 {
			t.Errorf("tip with floor %v = %v", floor, tip2)
		}
	})

	t.Run("TransferConfirmed", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		w, to := newWallet(t), newWallet(t)
		node.Fund(t, w.addr, ether)
		nonce, err := c.PendingNonce(ctx, w.addr)
		if err != nil || nonce != 0 {
			t.Fatalf("PendingNonce = %d, %v; want 0", nonce, err)
		}
		maxFee, tip := fees(t, c)
		amount := big.NewInt(12345)
		tx, raw := w.transfer(t, c.ChainID(), nonce, to.addr, amount, maxFee, tip)
		hash, err := c.Broadcast(ctx, raw)
		if err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
		if hash != tx.Hash() {
			t.Fatalf("Broadcast hash %s, signed %s", hash, tx.Hash())
		}
		// The same raw transaction again, at once (most likely still
		// pending: "already known") is the same success.
		if h2, err := c.Broadcast(ctx, raw); err != nil || h2 != hash {
			t.Fatalf("second Broadcast = %s, %v; want %s, nil", h2, err, hash)
		}
		if n, err := c.PendingNonce(ctx, w.addr); err != nil || n != 1 {
			t.Fatalf("PendingNonce after broadcast = %d, %v; want 1", n, err)
		}
		const confs = 3
		r, err := c.WaitConfirmed(ctx, hash, confs)
		if err != nil {
			t.Fatalf("WaitConfirmed: %v", err)
		}
		if !r.Succeeded() || r.TxHash != hash || r.GasUsed != GasLimitETH || r.BlockNumber == 0 {
			t.Fatalf("receipt %+v", r)
		}
		if r.EffectiveGasPrice == nil || r.EffectiveGasPrice.Cmp(maxFee) > 0 || r.EffectiveGasPrice.Cmp(tip) < 0 {
			t.Fatalf("effective gas price %v outside [tip %v, max fee %v]", r.EffectiveGasPrice, tip, maxFee)
		}
		n, err := c.Confirmations(ctx, r)
		if err != nil || n < confs {
			t.Fatalf("Confirmations = %d, %v; want >= %d", n, err, confs)
		}
		got, err := c.Balance(ctx, to.addr)
		if err != nil || got.Cmp(amount) != 0 {
			t.Fatalf("recipient balance %v, %v; want %v", got, err, amount)
		}
		left, err := c.Balance(ctx, w.addr)
		want := new(big.Int).Sub(ether, amount)
		want.Sub(want, r.Fee())
		if err != nil || left.Cmp(want) != 0 {
			t.Fatalf("sender balance %v, %v; want 1 ETH - amount - fee = %v", left, err, want)
		}
		// Once mined, sending it again is still the same success (the node
		// says "nonce too low", but the transaction is its own).
		if h3, err := c.Broadcast(ctx, raw); err != nil || h3 != hash {
			t.Fatalf("Broadcast after mining = %s, %v; want %s, nil", h3, err, hash)
		}
		if st, r2, err := c.TxState(ctx, hash, w.addr, tx.Nonce()); err != nil || st != TxMined || r2.BlockNumber != r.BlockNumber {
			t.Fatalf("TxState = %v, %+v, %v; want mined in block %d", st, r2, err, r.BlockNumber)
		}

		// A different transaction with the used nonce.
		_, other := w.transfer(t, c.ChainID(), nonce, to.addr, big.NewInt(1), maxFee, tip)
		if _, err := c.Broadcast(ctx, other); !errors.Is(err, ErrNonceTooLow) || !errors.Is(err, ErrTxRejected) {
			t.Fatalf("Broadcast with used nonce: %v, want ErrNonceTooLow", err)
		} else {
			t.Logf("used nonce: %v", err)
		}
	})

	t.Run("InsufficientFunds", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		w, to := newWallet(t), newWallet(t)
		maxFee, tip := fees(t, c)
		_, raw := w.transfer(t, c.ChainID(), 0, to.addr, ether, maxFee, tip)
		_, err := c.Broadcast(ctx, raw)
		if !errors.Is(err, ErrInsufficientFunds) || !errors.Is(err, ErrTxRejected) || errors.Is(err, ErrNodeUnavailable) {
			t.Fatalf("Broadcast from an empty account: %v, want ErrInsufficientFunds", err)
		}
		t.Logf("insufficient funds: %v", err)

		// Funded, but not for value + gas limit * max fee.
		node.Fund(t, w.addr, ether)
		_, raw = w.transfer(t, c.ChainID(), 0, to.addr, ether, maxFee, tip)
		if _, err := c.Broadcast(ctx, raw); !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("Broadcast of the whole balance plus gas: %v, want ErrInsufficientFunds", err)
		}
	})

	t.Run("RejectedTransactions", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		w, to := newWallet(t), newWallet(t)
		node.Fund(t, w.addr, ether)
		maxFee, tip := fees(t, c)

		// Signed for another chain: refused before it reaches the node.
		_, raw := w.transfer(t, c.ChainID()+1, 0, to.addr, big.NewInt(1), maxFee, tip)
		if _, err := c.Broadcast(ctx, raw); !errors.Is(err, ErrWrongChain) {
			t.Errorf("Broadcast for another chain: %v, want ErrWrongChain", err)
		}
		// Not a transaction at all.
		if _, err := c.Broadcast(ctx, []byte{0x02, 0xc0}); !errors.Is(err, ErrInvalidTransaction) {
			t.Errorf("Broadcast of garbage: %v, want ErrInvalidTransaction", err)
		}
		// No tip: below geth's --txpool.pricelimit (1 wei).
		_, raw = w.transfer(t, c.ChainID(), 0, to.addr, big.NewInt(1), maxFee, new(big.Int))
		if _, err := c.Broadcast(ctx, raw); !errors.Is(err, ErrFeeTooLow) {
			t.Errorf("Broadcast without a tip: %v, want ErrFeeTooLow", err)
		} else {
			t.Logf("fee too low: %v", err)
		}
		// Max fee below the base fee: geth accepts it into its pool, where it
		// waits for the base fee to fall. It is pending, not unknown; only the
		// intent's expiry can tell the tracker to give up on it.
		stuck, raw := w.transfer(t, c.ChainID(), 0, to.addr, big.NewInt(1), big.NewInt(1), big.NewInt(1))
		if _, err := c.Broadcast(ctx, raw); err != nil {
			t.Fatalf("Broadcast below the base fee: %v (geth used to accept it)", err)
		}
		if st, _, err := c.TxState(ctx, stuck.Hash(), w.addr, 0); err != nil || st != TxPending {
			t.Errorf("TxState of a tx below the base fee = %v, %v; want pending", st, err)
		}
	})

	t.Run("TxState", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		w, to, other := newWallet(t), newWallet(t), newWallet(t)
		node.Fund(t, w.addr, ether)
		maxFee, tip := fees(t, c)

		// Signed, never sent: unknown, its nonce is free.
		a, rawA := w.transfer(t, c.ChainID(), 0, to.addr, big.NewInt(1), maxFee, tip)
		if st, _, err := c.TxState(ctx, a.Hash(), w.addr, 0); err != nil || st != TxUnknown {
			t.Fatalf("TxState of an unsent tx = %v, %v; want unknown", st, err)
		}
		if _, err := c.Receipt(ctx, a.Hash()); !errors.Is(err, ErrNoReceipt) {
			t.Fatalf("Receipt of an unsent tx: %v, want ErrNoReceipt", err)
		}
		// A nonce gap keeps a transaction in the pool (queued): pending.
		gap, rawGap := w.transfer(t, c.ChainID(), 2, to.addr, big.NewInt(2), maxFee, tip)
		if _, err := c.Broadcast(ctx, rawGap); err != nil {
			t.Fatalf("Broadcast with a nonce gap: %v", err)
		}
		if st, _, err := c.TxState(ctx, gap.Hash(), w.addr, 2); err != nil || st != TxPending {
			t.Fatalf("TxState of a queued tx = %v, %v; want pending", st, err)
		}
		// Another transaction takes nonce 0: a is replaced and can never be mined.
		b, rawB := w.transfer(t, c.ChainID(), 0, other.addr, big.NewInt(3), maxFee, tip)
		if _, err := c.Broadcast(ctx, rawB); err != nil {
			t.Fatalf("Broadcast b: %v", err)
		}
		if _, err := c.WaitConfirmed(ctx, b.Hash(), 1); err != nil {
			t.Fatalf("WaitConfirmed b: %v", err)
		}
		if st, _, err := c.TxState(ctx, a.Hash(), w.addr, 0); err != nil || st != TxReplaced {
			t.Fatalf("TxState of a after b took its nonce = %v, %v; want replaced", st, err)
		}
		if _, err := c.Broadcast(ctx, rawA); !errors.Is(err, ErrNonceTooLow) {
			t.Fatalf("Broadcast of replaced a: %v, want ErrNonceTooLow", err)
		}
		// Filling the gap mines the queued transaction.
		_, rawFill := w.transfer(t, c.ChainID(), 1, to.addr, big.NewInt(4), maxFee, tip)
		if _, err := c.Broadcast(ctx, rawFill); err != nil {
			t.Fatalf("Broadcast nonce 1: %v", err)
		}
		r, err := c.WaitConfirmed(ctx, gap.Hash(), 1)
		if err != nil {
			t.Fatalf("WaitConfirmed of the formerly queued tx: %v", err)
		}
		if st, r2, err := c.TxState(ctx, gap.Hash(), w.addr, 2); err != nil || st != TxMined || r2.BlockHash != r.BlockHash {
			t.Fatalf("TxState = %v, %v; want mined", st, err)
		}
	})

	t.Run("ConcurrentBroadcasts", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		w, to := newWallet(t), newWallet(t)
		node.Fund(t, w.addr, ether)
		maxFee, tip := fees(t, c)
		tx, raw := w.transfer(t, c.ChainID(), 0, to.addr, big.NewInt(7), maxFee, tip)
		// The same approval replayed many times at once is one transaction.
		errs := make(chan error, 8)
		for range cap(errs) {
			go func() {
				h, err := c.Broadcast(ctx, raw)
				if err == nil && h != tx.Hash() {
					err = errors.New("other hash " + h.Hex())
				}
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Errorf("concurrent Broadcast: %v", err)
			}
		}
		if _, err := c.WaitConfirmed(ctx, tx.Hash(), 1); err != nil {
			t.Fatal(err)
		}
		if n, err := c.LatestNonce(ctx, w.addr); err != nil || n != 1 {
			t.Fatalf("LatestNonce = %d, %v; want 1", n, err)
		}
	})
}

// TestChainNodeDown stops the node: calls fail with ErrNodeUnavailable (and
// do not wait for the caller's deadline); Retry rides out the outage; after
// the restart the client works again without being dialed anew, and a
// transaction the restart dropped from the pool is seen as unknown and can be
// broadcast again.
func TestChainNodeDown(t *testing.T) {
	// --dev.period 0: a block for each transaction. --txpool.nolocals: the
	// pool keeps no journal, so a restart drops pending transactions, as a
	// real node may.
	node := testchain.Start(t, testchain.WithPeriod(0), testchain.WithArgs("--txpool.nolocals"))
	c := dial(t, node, ChainOptions{
		CallTimeout: 5 * time.Second, // generous: the machine may be loaded
		Retry:       RetryPolicy{Initial: 50 * time.Millisecond, MaxAttempts: 3},
	})
	ctx := testCtx(t)

	w, to := newWallet(t), newWallet(t)
	node.Fund(t, w.addr, ether)
	maxFee, tip := fees(t, c)
	tx0, raw0 := w.transfer(t, c.ChainID(), 0, to.addr, big.NewInt(1), maxFee, tip)
	if _, err := c.Broadcast(ctx, raw0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitConfirmed(ctx, tx0.Hash(), 1); err != nil {
		t.Fatal(err)
	}
	// Queued behind a gap at nonce 1, so it stays in the pool.
	tx2, raw2 := w.transfer(t, c.ChainID(), 2, to.addr, big.NewInt(2), maxFee, tip)
	if _, err := c.Broadcast(ctx, raw2); err != nil {
		t.Fatal(err)
	}
	if st, _, err := c.TxState(ctx, tx2.Hash(), w.addr, 2); err != nil || st != TxPending {
		t.Fatalf("TxState before restart = %v, %v; want pending", st, err)
	}

	// A hung node (SIGSTOP: the port accepts, nothing answers): calls give
	// up after CallTimeout instead of waiting for the caller's deadline.
	node.Pause(t)
	if _, err := c.Balance(ctx, w.addr); !errors.Is(err, ErrNodeUnavailable) || ctx.Err() != nil {
		t.Fatalf("Balance with the node hung: %v, want ErrNodeUnavailable", err)
	} else {
		t.Logf("node hung: %v", err)
	}
	node.Resume(t)
	if _, err := c.Balance(ctx, w.addr); err != nil {
		t.Fatalf("Balance after the node resumed: %v", err)
	}

	node.Stop(t)

	checkDown := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNodeUnavailable) {
			t.Errorf("%s with the node down: %v, want ErrNodeUnavailable", what, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s waited for the test's deadline", what)
		}
	}
	_, err := c.Balance(ctx, w.addr)
	checkDown("Balance", err)
	t.Logf("node down: %v", err)
	_, err = c.PendingNonce(ctx, w.addr)
	checkDown("PendingNonce", err)
	_, _, err = c.Fees(ctx)
	checkDown("Fees", err)
	_, err = c.Receipt(ctx, tx0.Hash())
	checkDown("Receipt", err)
	_, _, err = c.TxState(ctx, tx2.Hash(), w.addr, 2)
	checkDown("TxState", err)
	_, err = c.Broadcast(ctx, raw0) // retried under the client's policy, then given up
	checkDown("Broadcast", err)
	_, err = c.WaitConfirmed(ctx, tx0.Hash(), 1)
	checkDown("WaitConfirmed", err)
	_, err = DialChain(ctx, node.URL, node.ChainID, ChainOptions{CallTimeout: 2 * time.Second})
	checkDown("DialChain", err)

	// Retry keeps trying until the node is back. The node is restarted only
	// after the first attempt failed, so the retry path is exercised.
	failed := make(chan struct{})
	var attempts atomic.Int32
	done := make(chan error, 1)
	var bal *big.Int
	go func() {
		done <- Retry(ctx, func(ctx context.Context) (err error) {
			bal, err = c.Balance(ctx, to.addr)
			return err
		}, RetryPolicy{
			Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond,
			MaxAttempts: -1, MaxElapsed: time.Minute,
			OnRetry: func(int, error, time.Duration) {
				if attempts.Add(1) == 1 {
					close(failed)
				}
			},
		})
	}()
	<-failed
	node.Start(t)
	if err := <-done; err != nil {
		t.Fatalf("Retry across the restart: %v", err)
	}
	if bal.Cmp(big.NewInt(1)) != 0 {
		t.Fatalf("balance after restart %v, want 1 (the chain survived the restart)", bal)
	}
	t.Logf("Retry succeeded after %d failed attempts", attempts.Load())

	// The restart dropped the queued transaction: unknown, nonce still free.
	if st, _, err := c.TxState(ctx, tx2.Hash(), w.addr, 2); err != nil || st != TxUnknown {
		t.Fatalf("TxState of the dropped tx = %v, %v; want unknown", st, err)
	}
	// Broadcasting it again (and the missing nonce 1) gets both mined.
	if _, err := c.Broadcast(ctx, raw2); err != nil {
		t.Fatal(err)
	}
	_, raw1 := w.transfer(t, c.ChainID(), 1, to.addr, big.NewInt(3), maxFee, tip)
	if _, err := c.Broadcast(ctx, raw1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitConfirmed(ctx, tx2.Hash(), 1); err != nil {
		t.Fatal(err)
	}
	if st, _, err := c.TxState(ctx, tx2.Hash(), w.addr, 2); err != nil || st != TxMined {
		t.Fatalf("TxState after rebroadcast = %v, %v; want mined", st, err)
	}
}

func TestRetryPolicy(t *testing.T) {
	ctx := testCtx(t)
	unavailable := errors.Join(ErrNodeUnavailable, errors.New("connection refused"))

	t.Run("StopsAtMaxAttempts", func(t *testing.T) {
		calls := 0
		err := Retry(ctx, func(context.Context) error { calls++; return unavailable },
			RetryPolicy{Initial: time.Millisecond, MaxAttempts: 3, MaxElapsed: -1})
		if calls != 3 || !errors.Is(err, ErrNodeUnavailable) {
			t.Fatalf("calls %d, err %v; want 3 calls and ErrNodeUnavailable", calls, err)
		}
	})
	t.Run("DoesNotRetryRefusals", func(t *testing.T) {
		calls := 0
		err := Retry(ctx, func(context.Context) error { calls++; return ErrNonceTooLow }, RetryPolicy{Initial: time.Millisecond})
		if calls != 1 || !errors.Is(err, ErrNonceTooLow) {
			t.Fatalf("calls %d, err %v", calls, err)
		}
	})
	t.Run("SucceedsLater", func(t *testing.T) {
		calls := 0
		var waits []time.Duration
		err := Retry(ctx, func(context.Context) error {
			if calls++; calls < 4 {
				return unavailable
			}
			return nil
		}, RetryPolicy{Initial: time.Millisecond, Max: 3 * time.Millisecond, MaxAttempts: 10,
			OnRetry: func(_ int, _ error, d time.Duration) { waits = append(waits, d) }})
		if err != nil || calls != 4 || len(waits) != 3 {
			t.Fatalf("err %v, calls %d, waits %v", err, calls, waits)
		}
		// 1ms, 2ms, 3ms (capped), each within ±20% jitter.
		for i, base := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond} {
			if lo, hi := base*8/10, base*12/10; waits[i] < lo || waits[i] > hi {
				t.Errorf("wait %d = %v, want within [%v, %v]", i, waits[i], lo, hi)
			}
		}
	})
	t.Run("StopsAtMaxElapsed", func(t *testing.T) {
		calls := 0
		err := Retry(ctx, func(context.Context) error { calls++; return unavailable },
			RetryPolicy{Initial: time.Hour, MaxAttempts: -1, MaxElapsed: time.Minute})
		if calls != 1 || !errors.Is(err, ErrNodeUnavailable) {
			t.Fatalf("calls %d, err %v: a wait beyond MaxElapsed must not be started", calls, err)
		}
	})
	t.Run("StopsWithContext", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		err := Retry(cctx, func(context.Context) error { cancel(); return unavailable },
			RetryPolicy{Initial: time.Hour, MaxElapsed: -1})
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrNodeUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClassifyTxError(t *testing.T) {
	for msg, want := range map[string]error{
		"already known": errAlreadyKnown,
		"nonce too low: next nonce 5, tx nonce 3":                          ErrNonceTooLow,
		"insufficient funds for gas * price + value: balance 0, tx cost 1": ErrInsufficientFunds,
		"replacement transaction underpriced":                              ErrReplacementUnderpriced,
		"transaction underpriced: tip needed 1, tip permitted 0":           ErrFeeTooLow,
		"max fee per gas less than block base fee":                         ErrFeeTooLow,
		"intrinsic gas too low":                                            ErrGasLimit,
		"exceeds block gas limit":                                          ErrGasLimit,
		"invalid sender":                                                   ErrInvalidTransaction,
		"something new":                                                    ErrTxRejected,
	} {
		if got := classifyTxError(rpcErr(msg)); got != want {
			t.Errorf("%q: %v, want %v", msg, got, want)
		}
	}
}

type rpcErr string

func (e rpcErr) Error() string  { return string(e) }
func (e rpcErr) ErrorCode() int { return -32000 }

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://mainnet.infura.io/v3/SECRETKEY":  "https://mainnet.infura.io",
		"https://user:pass@node.example:8545/x?k": "https://node.example:8545",
		"not a url": "(rpc url)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkFees(b *testing.B) {
	node := testchain.Start(b, testchain.WithPeriod(1))
	c := dial(b, node, ChainOptions{Logger: slog.New(slog.DiscardHandler)})
	ctx := testCtx(b)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := c.Fees(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBalance(b *testing.B) {
	node := testchain.Start(b, testchain.WithPeriod(1))
	c := dial(b, node, ChainOptions{Logger: slog.New(slog.DiscardHandler)})
	ctx := testCtx(b)
	addr := node.DevAccount()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Balance(ctx, addr); err != nil {
			b.Fatal(err)
		}
	}
}
