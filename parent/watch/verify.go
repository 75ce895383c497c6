package watch

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// verifyOwners keeps the deposits whose recipient is, by its sealed
// record, the wallet of the owner the in-memory set names. The set is
// filled from the wallet rows' columns (ForEachWalletAddress, the
// created-wallet hook, learn), which a database writer can change: a row
// whose address was set to the writer's own would make a deposit to that
// address an alert "received" to the user (review 12, finding 2). Each
// recipient of the step is read once (WalletByAddress) and checked against
// its record's header (storage.CheckWalletRecord); a mismatch drops its
// deposits, logs an error and counts autowallet_wallet_rows_tampered_total.
// Deposits are rare beside blocks, so the read costs one query per
// recipient of a step that found any.
func (w *Watcher) verifyOwners(deposits []storage.Deposit) ([]storage.Deposit, error) {
	if len(deposits) == 0 {
		return deposits, nil
	}
	ok := map[common.Address]bool{}
	for _, d := range deposits {
		if _, seen := ok[d.To]; seen {
			continue
		}
		good, err := w.recordSays(d.To, d.Owner)
		if err != nil {
			return nil, err
		}
		ok[d.To] = good
	}
	out := deposits[:0]
	for _, d := range deposits {
		if ok[d.To] {
			out = append(out, d)
		}
	}
	return out, nil
}

// recordSays reports whether the stored wallet of addr is owner's by its
// record's header. Only a failed read is an error (the step is retried).
func (w *Watcher) recordSays(addr common.Address, owner int64) (bool, error) {
	wal, err := w.o.Store.WalletByAddress(addr)
	if err != nil {
		// A row that reads as corrupt, or that is gone (wallets are never
		// deleted by the program), is not the user's wallet.
		if errors.Is(err, storage.ErrCorrupt) || errors.Is(err, storage.ErrNotFound) {
			w.refused(err)
			return false, nil
		}
		return false, fmt.Errorf("watch: checking the wallet of %s: %w", addr, err)
	}
	if err := storage.CheckWalletRecord(wal); err != nil {
		w.refused(err)
		return false, nil
	}
	if wal.Address != addr || wal.Owner != owner {
		w.refused(fmt.Errorf("watch: wallet %s: %w: the store answered user %d's wallet %s, the watched set says user %d",
			addr.Hex(), storage.ErrWalletTampered, wal.Owner, wal.Address.Hex(), owner))
		return false, nil
	}
	return true, nil
}

func (w *Watcher) refused(err error) {
	w.log.Error("watch: a deposit's wallet row disagrees with its sealed record; the deposit is not announced", "err", err)
	w.o.Metrics.WalletRowTampered()
}
