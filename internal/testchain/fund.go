package testchain

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// ReceiptTimeout bounds how long Fund, Mine and WaitReceipt wait for a
// transaction to be mined.
const ReceiptTimeout = 60 * time.Second

// Receipt is the part of a transaction receipt the helpers look at.
type Receipt struct {
	TxHash      common.Hash    `json:"transactionHash"`
	BlockNumber hexutil.Uint64 `json:"blockNumber"`
	Status      hexutil.Uint64 `json:"status"`
	GasUsed     hexutil.Uint64 `json:"gasUsed"`
	// ContractAddress is the contract a creation made (nil otherwise).
	ContractAddress *common.Address `json:"contractAddress"`
}

// Fund sends wei from the developer account to addr with eth_sendTransaction
// and waits until the transfer is mined. It fails the test on any error.
func (n *Node) Fund(t testing.TB, addr common.Address, wei *big.Int) *Receipt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReceiptTimeout)
	defer cancel()
	r, err := n.FundContext(ctx, addr, wei)
	if err != nil {
		t.Fatalf("testchain: funding %s with %s wei: %v", addr, wei, err)
	}
	return r
}

// FundContext is Fund returning an error instead of failing a test; it is
// safe to call from several goroutines.
func (n *Node) FundContext(ctx context.Context, addr common.Address, wei *big.Int) (*Receipt, error) {
	var hash common.Hash
	tx := map[string]any{
		"from":  n.devAcct,
		"to":    addr,
		"value": (*hexutil.Big)(wei),
		"gas":   hexutil.Uint64(21000),
	}
	if err := n.call(ctx, &hash, "eth_sendTransaction", tx); err != nil {
		return nil, fmt.Errorf("eth_sendTransaction: %w", err)
	}
	r, err := n.WaitReceiptContext(ctx, hash)
	if err != nil {
		return nil, err
	}
	if r.Status != 1 {
		return r, fmt.Errorf("funding transaction %s failed (status %d)", hash, r.Status)
	}
	return r, nil
}

// Mine makes the node produce at least one block and waits for it: a zero
// transfer from the developer account to itself. With --dev.period 0 this is
// the way to make blocks; with a period it just waits for the next block that
// carries it.
func (n *Node) Mine(t testing.TB) *Receipt {
	t.Helper()
	return n.Fund(t, n.devAcct, new(big.Int))
}

// WaitReceipt waits until the transaction is mined and returns its receipt.
func (n *Node) WaitReceipt(t testing.TB, hash common.Hash) *Receipt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReceiptTimeout)
	defer cancel()
	r, err := n.WaitReceiptContext(ctx, hash)
	if err != nil {
		t.Fatalf("testchain: %v", err)
	}
	return r
}

// WaitReceiptContext polls eth_getTransactionReceipt until it answers a
// receipt or ctx ends.
func (n *Node) WaitReceiptContext(ctx context.Context, hash common.Hash) (*Receipt, error) {
	for {
		var r *Receipt
		err := n.call(ctx, &r, "eth_getTransactionReceipt", hash)
		if err == nil && r != nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the receipt of %s: %w (last error: %v)", hash, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// BlockNumber returns the node's latest block number.
func (n *Node) BlockNumber(t testing.TB) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b hexutil.Uint64
	if err := n.call(ctx, &b, "eth_blockNumber"); err != nil {
		t.Fatalf("testchain: eth_blockNumber: %v", err)
	}
	return uint64(b)
}

// WaitBlock waits until the latest block number is at least num. With
// --dev.period 0 it mines the missing blocks itself.
func (n *Node) WaitBlock(t testing.TB, num uint64) {
	t.Helper()
	deadline := time.Now().Add(ReceiptTimeout)
	for {
		cur := n.BlockNumber(t)
		if cur >= num {
			return
		}
		if n.cfg.period == 0 {
			n.Mine(t)
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("testchain: block %d not reached within %v (at %d)", num, ReceiptTimeout, cur)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
