package watch

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/storage"
)

// Several parents (issue 11): a wallet created on another parent reaches
// this parent's in-memory set only through the store. So before a step
// filters its blocks, every candidate recipient (a value transfer's to, a
// listed token's Transfer log's to) that is not in the set is looked up in
// the store, and added when it is a wallet. A recipient that is no wallet
// at scan time never becomes one for these blocks: a wallet's address is a
// fresh random key, which nobody can pay before it was created, and it is
// stored before it is shown to anyone. So nothing is missed, and with one
// parent (every wallet in the set already) the lookups are only those of
// addresses that are not ours.

// maxLearn bounds the lookups of one step; more unknown recipients than
// this (a busy public chain and a wide step) are looked up all the same,
// but the step is logged as heavy.
const maxLearn = 20000

// learnNative adds the wallets among the blocks' value recipients.
func (w *Watcher) learnNative(blocks []Block) error {
	var cand []common.Address
	for i := range blocks {
		for _, tx := range blocks[i].Txs {
			if tx.To != nil && tx.Value != nil && tx.Value.Sign() > 0 && tx.From != *tx.To {
				cand = append(cand, *tx.To)
			}
		}
	}
	return w.learn(cand)
}

// learnLogs adds the wallets among the recipients of Transfer logs.
func (w *Watcher) learnLogs(logs []types.Log) error {
	var cand []common.Address
	for i := range logs {
		if len(logs[i].Topics) == 3 {
			cand = append(cand, common.BytesToAddress(logs[i].Topics[2][12:]))
		}
	}
	return w.learn(cand)
}

func (w *Watcher) learn(cand []common.Address) error {
	asked := map[common.Address]bool{}
	for _, a := range cand {
		if asked[a] {
			continue
		}
		if _, ok := w.o.Addresses.Owner(a); ok {
			continue
		}
		asked[a] = true
		wal, err := w.o.Store.WalletByAddress(a)
		switch {
		case err == nil:
			w.o.Addresses.Watch(wal.Address, wal.Owner)
		case !errors.Is(err, storage.ErrNotFound):
			return fmt.Errorf("watch: looking up recipient %s: %w", a, err)
		}
	}
	if len(asked) > maxLearn {
		w.log.Warn("watch: many unknown recipients looked up in one step", "lookups", len(asked))
	}
	return nil
}
