// Package watch finds money that arrives at our wallets (issue 10): a
// Watcher per network follows the chain's confirmed blocks and finds native
// transfers (top-level transactions) and ERC-20 Transfer events of the
// network's listed tokens to any of our wallets; a Deliverer sends one alert
// per deposit through a hook the bot sets. docs/watcher.md explains the
// exactly-once argument, reorgs and catch-up.
package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage"
)

// TransferTopic is topic0 of ERC-20 Transfer(address,address,uint256).
var TransferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// MaxStepBlocks is the most blocks one step scans, so one eth_getLogs call
// spans at most this many blocks (many providers refuse wider ranges).
const MaxStepBlocks = 1000

var (
	// ErrWrongChain: the node serves another chain than the network's.
	ErrWrongChain = errors.New("node is on another chain")
	// ErrDeepReorg: the chain forked off below every block hash the cursor
	// keeps; the watcher stops on that network until the node serves a
	// chain that joins the stored one again (docs/watcher.md).
	ErrDeepReorg = errors.New("reorg deeper than the stored block hashes")
	// ErrInconsistent: the node's answers do not fit together (a block's
	// parent is not the previous block, a log names a block hash that is not
	// the block's): usually a reorg while the step read; the step is retried.
	ErrInconsistent = errors.New("node's answers are inconsistent")
)

// Options configure a Watcher.
type Options struct {
	Network   networks.Network // chain id, confirmations, listed tokens
	Source    Source
	Store     storage.Store
	Addresses *Addresses
	Logger    *slog.Logger
	// Poll is the wait between steps once caught up (default 2 s).
	Poll time.Duration
	// StepBlocks is the most blocks one step scans and stores in one
	// transaction (default 100, at most MaxStepBlocks).
	StepBlocks uint64
	// StartBlock, on a fresh deployment (no cursor stored), is the first
	// block to scan; 0 means the first block after the current confirmed
	// head (history before the deployment is not announced).
	StartBlock uint64
	// Stored is called after a step stored new deposits (the deliverer's
	// Wake).
	Stored func()
	// Metrics, if set, gets the watcher's lag after each step: the
	// confirmed head (head - confirmations, the newest block it may scan)
	// minus its cursor, so a watcher caught up reports 0 on every network
	// whatever its confirmations.
	Metrics *metrics.Metrics
}

// Watcher follows one network.
type Watcher struct {
	o      Options
	log    *slog.Logger
	tokens []common.Address
	cur    *storage.WatchCursor // nil until loaded
}

// New checks the options; Run (or Step) does the work.
func New(o Options) (*Watcher, error) {
	if err := o.Network.Validate(); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if o.Source == nil || o.Store == nil || o.Addresses == nil {
		return nil, fmt.Errorf("watch: %s: source, store and addresses are required", o.Network.Name)
	}
	if o.StepBlocks == 0 {
		o.StepBlocks = 100
	}
	if o.StepBlocks > MaxStepBlocks {
		return nil, fmt.Errorf("watch: %s: step of %d blocks, at most %d", o.Network.Name, o.StepBlocks, MaxStepBlocks)
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{o: o, log: o.Logger.With("network", o.Network.Name, "chain_id", o.Network.ChainID)}
	for _, t := range o.Network.Tokens {
		w.tokens = append(w.tokens, t.Address)
	}
	return w, nil
}

// Run steps until ctx ends: at once while behind (each step bounded by
// StepBlocks), every Poll once caught up. Errors are logged and retried
// after Poll; it returns ctx's error.
func (w *Watcher) Run(ctx context.Context) error {
	// The cursor is read from the store at each start: under a lease
	// (Alerts.RunLeased) another parent may have moved it meanwhile.
	w.cur = nil
	checked := false
	for {
		wait := w.o.Poll
		if !checked {
			if err := w.CheckChain(ctx); err != nil {
				w.log.Error("watch: chain check failed", "err", err)
			} else {
				checked = true
			}
		}
		if checked {
			n, err := w.Step(ctx)
			switch {
			case err != nil && errors.Is(err, ErrInconsistent):
				w.log.Warn("watch: the node's answers did not fit together; retrying", "err", err)
			case err != nil && ctx.Err() == nil:
				w.log.Error("watch: step failed; retrying", "err", err)
			case uint64(n) == w.o.StepBlocks:
				wait = 0 // behind: next chunk now
			}
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// CheckChain checks that the node serves the network's chain.
func (w *Watcher) CheckChain(ctx context.Context) error {
	id, err := w.o.Source.ChainID(ctx)
	if err != nil {
		return err
	}
	if id != w.o.Network.ChainID {
		return fmt.Errorf("watch: %s: %w: node serves chain %d, want %d", w.o.Network.Name, ErrWrongChain, id, w.o.Network.ChainID)
	}
	return nil
}

// Step scans the next confirmed blocks (at most StepBlocks) and stores their
// deposits, alerts and the cursor in one transaction. It returns how many
// blocks it processed (0 when there is no new confirmed block).
func (w *Watcher) Step(ctx context.Context) (int, error) {
	head, err := w.o.Source.Head(ctx)
	if err != nil {
		return 0, err
	}
	// Block N counts once head >= N + confirmations.
	if head < w.o.Network.Confirmations {
		return 0, nil
	}
	confirmed := head - w.o.Network.Confirmations
	if w.cur == nil {
		if err := w.loadCursor(ctx, confirmed); err != nil {
			return 0, err
		}
	}
	cur := w.cur
	w.o.Metrics.WatcherLag(w.o.Network.Name, confirmed, cur.Block)
	if cur.Block >= confirmed {
		return 0, nil
	}
	from := cur.Block + 1
	to := min(confirmed, cur.Block+w.o.StepBlocks)
	blocks, err := w.o.Source.Blocks(ctx, from, to)
	if err != nil {
		return 0, err
	}
	if len(blocks) != int(to-from+1) {
		return 0, fmt.Errorf("watch: %w: asked for %d blocks, got %d", ErrInconsistent, to-from+1, len(blocks))
	}
	last, _ := cur.Hash(cur.Block)
	if blocks[0].ParentHash != last {
		return 0, w.rewind(ctx)
	}
	for i := range blocks {
		if blocks[i].Number != from+uint64(i) || (i > 0 && blocks[i].ParentHash != blocks[i-1].Hash) {
			return 0, fmt.Errorf("watch: %w: block %d does not follow block %d", ErrInconsistent, from+uint64(i), from+uint64(i)-1)
		}
	}
	deposits, err := w.native(ctx, blocks)
	if err != nil {
		return 0, err
	}
	tokenDeposits, err := w.tokenTransfers(ctx, blocks)
	if err != nil {
		return 0, err
	}
	deposits = append(deposits, tokenDeposits...)
	if deposits, err = w.verifyOwners(deposits); err != nil {
		return 0, err
	}
	// In chain order (block, then log index; a native transfer after its
	// block's logs), so one owner's alerts are delivered in that order.
	slices.SortStableFunc(deposits, func(a, b storage.Deposit) int {
		return cmp.Or(cmp.Compare(a.Block, b.Block), cmp.Compare(a.LogIndex, b.LogIndex))
	})

	next := storage.WatchCursor{ChainID: cur.ChainID, Block: to, Hashes: append([]common.Hash(nil), cur.Hashes...)}
	for i := range blocks {
		next.Hashes = append(next.Hashes, blocks[i].Hash)
	}
	if n := len(next.Hashes); n > storage.MaxCursorHashes {
		next.Hashes = next.Hashes[n-storage.MaxCursorHashes:]
	}
	// The blocks' deposits, their alerts and the cursor: one transaction,
	// fenced by the network's watch lease. A stale watcher that slipped
	// past the fence stores deposits already stored (kept once, by key) and
	// moves the cursor back at worst (blocks scanned again): no alert twice.
	if err := lease.Check(ctx); err != nil {
		return 0, err
	}
	added, err := w.o.Store.StoreWatchedBlocks(next, deposits)
	if err != nil {
		return 0, err
	}
	w.cur = &next
	w.o.Metrics.WatcherLag(w.o.Network.Name, confirmed, to)
	if added > 0 {
		w.log.Info("watch: deposits found", "blocks", fmt.Sprintf("%d..%d", from, to), "new", added)
		if w.o.Stored != nil {
			w.o.Stored()
		}
	}
	return len(blocks), nil
}

// loadCursor reads the stored cursor, or starts a fresh one just below the
// first block to scan.
func (w *Watcher) loadCursor(ctx context.Context, confirmed uint64) error {
	c, err := w.o.Store.WatchCursor(w.o.Network.ChainID)
	if err == nil {
		w.cur = &c
		return nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	start := confirmed // fresh: the confirmed head is the last block "seen"
	if w.o.StartBlock > 0 {
		start = min(w.o.StartBlock-1, confirmed)
	}
	bs, err := w.o.Source.Blocks(ctx, start, start)
	if err != nil {
		return err
	}
	c = storage.WatchCursor{ChainID: w.o.Network.ChainID, Block: start, Hashes: []common.Hash{bs[0].Hash}}
	if _, err := w.o.Store.StoreWatchedBlocks(c, nil); err != nil {
		return err
	}
	w.log.Info("watch: fresh start", "after_block", start)
	w.cur = &c
	return nil
}

// rewind handles a reorg deeper than the confirmation depth: the next
// block's parent is not the last processed block. It finds the newest
// stored block the node's chain still has and moves the cursor back to it,
// so the blocks after it are scanned again (a deposit already stored keeps
// its one alert; alerts already sent for blocks that left the chain cannot
// be taken back, and are logged here).
func (w *Watcher) rewind(ctx context.Context) error {
	cur := w.cur
	oldest := cur.Block + 1 - uint64(len(cur.Hashes))
	// onChain reports whether the node's block n is the one we processed.
	onChain := func(n uint64) (bool, error) {
		bs, err := w.o.Source.Blocks(ctx, n, n)
		if err != nil {
			return false, err
		}
		h, _ := cur.Hash(n)
		return bs[0].Hash == h, nil
	}
	if ok, err := onChain(cur.Block); err != nil {
		return err
	} else if ok {
		// The node still has our last block: it moved between two reads.
		return fmt.Errorf("watch: %w: block %d's parent is not block %d", ErrInconsistent, cur.Block+1, cur.Block)
	}
	if ok, err := onChain(oldest); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("watch: %s: %w: none of blocks %d..%d is on the node's chain", w.o.Network.Name, ErrDeepReorg, oldest, cur.Block)
	}
	// Blocks are a chain: once one of ours is on the node's chain, so are
	// all below it. Binary search for the newest (at most 9 reads for 256).
	lo, hi := oldest, cur.Block // lo is on the chain, hi is not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := onChain(mid)
		if err != nil {
			return err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	back := storage.WatchCursor{ChainID: cur.ChainID, Block: lo, Hashes: cur.Hashes[:len(cur.Hashes)-int(cur.Block-lo)]}
	if _, err := w.o.Store.StoreWatchedBlocks(back, nil); err != nil {
		return err
	}
	w.cur = &back
	w.log.Error("watch: reorg deeper than the confirmation depth; blocks scanned again",
		"confirmations", w.o.Network.Confirmations, "common_ancestor", lo, "rewound_from", cur.Block,
		"note", "alerts already sent for the replaced blocks may name deposits that are no longer on the chain")
	return nil
}

// native finds top-level transactions to our wallets with a value, sent
// from another address, whose receipt says they succeeded in that block.
// Value moved by contracts (internal transfers) is not seen: a limit.
func (w *Watcher) native(ctx context.Context, blocks []Block) ([]storage.Deposit, error) {
	if err := w.learnNative(blocks); err != nil {
		return nil, err
	}
	var out []storage.Deposit
	for i := range blocks {
		b := &blocks[i]
		for _, tx := range b.Txs {
			if tx.To == nil || tx.Value == nil || tx.Value.Sign() <= 0 || tx.From == *tx.To {
				continue // a creation, no value, or the user's own self-transfer
			}
			owner, ok := w.o.Addresses.Owner(*tx.To)
			if !ok {
				continue
			}
			// A reverted transaction moved nothing.
			status, inBlock, err := w.o.Source.Receipt(ctx, tx.Hash)
			if err != nil {
				return nil, err
			}
			if inBlock != b.Hash {
				return nil, fmt.Errorf("watch: %w: receipt of %s names block %s, not %s", ErrInconsistent, tx.Hash, inBlock, b.Hash)
			}
			if status != types.ReceiptStatusSuccessful {
				continue
			}
			out = append(out, storage.Deposit{
				ChainID: w.o.Network.ChainID, From: tx.From, To: *tx.To, Owner: owner,
				Amount: new(big.Int).Set(tx.Value), TxHash: tx.Hash, LogIndex: storage.NativeLogIndex,
				Block: b.Number, Time: time.Unix(int64(b.Time), 0).UTC(),
			})
		}
	}
	return out, nil
}

// tokenTransfers reads the Transfer logs of the listed tokens in the
// blocks with one eth_getLogs call and keeps those to our wallets. The
// filter by recipient is done here, against the in-memory set, so the call
// does not grow with the number of wallets.
func (w *Watcher) tokenTransfers(ctx context.Context, blocks []Block) ([]storage.Deposit, error) {
	if len(w.tokens) == 0 {
		return nil, nil
	}
	from, to := blocks[0].Number, blocks[len(blocks)-1].Number
	logs, err := w.o.Source.Logs(ctx, from, to, w.tokens, TransferTopic)
	if err != nil {
		return nil, err
	}
	if err := w.learnLogs(logs); err != nil {
		return nil, err
	}
	var out []storage.Deposit
	for i := range logs {
		l := &logs[i]
		if l.BlockNumber < from || l.BlockNumber > to {
			return nil, fmt.Errorf("watch: %w: log of block %d outside %d..%d", ErrInconsistent, l.BlockNumber, from, to)
		}
		b := &blocks[l.BlockNumber-from]
		if l.BlockHash != b.Hash {
			return nil, fmt.Errorf("watch: %w: log names block %s, block %d is %s", ErrInconsistent, l.BlockHash, b.Number, b.Hash)
		}
		d, ok := w.parseTransfer(l)
		if !ok {
			continue
		}
		d.Time = time.Unix(int64(b.Time), 0).UTC()
		out = append(out, d)
	}
	return out, nil
}

// parseTransfer returns the deposit a log makes, if it is a Transfer of a
// listed token to one of our wallets from another address.
func (w *Watcher) parseTransfer(l *types.Log) (storage.Deposit, bool) {
	// Only listed tokens: the node's filter is checked again here, so a
	// spam token (whatever it calls itself) never makes an alert.
	if l.Removed || len(l.Topics) != 3 || l.Topics[0] != TransferTopic || len(l.Data) != 32 {
		return storage.Deposit{}, false
	}
	if _, listed := w.o.Network.Token(l.Address); !listed {
		return storage.Deposit{}, false
	}
	to := common.BytesToAddress(l.Topics[2][12:])
	from := common.BytesToAddress(l.Topics[1][12:])
	owner, ok := w.o.Addresses.Owner(to)
	amount := new(big.Int).SetBytes(l.Data)
	if !ok || from == to || amount.Sign() == 0 || l.Index >= uint(storage.NativeLogIndex) {
		return storage.Deposit{}, false
	}
	return storage.Deposit{
		ChainID: w.o.Network.ChainID, Token: l.Address, From: from, To: to, Owner: owner,
		Amount: amount, TxHash: l.TxHash, LogIndex: uint32(l.Index), Block: l.BlockNumber,
	}, true
}
