package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/storage"
)

// Store wraps a storage.Store so that every method is timed
// (autowallet_store_operation_duration_seconds{op}) and its failures counted
// (autowallet_store_errors_total{op}; storage.ErrNotFound and
// storage.ErrFlowChanged are answers, not failures), and so that every
// stored transfer creation and state change is counted
// (autowallet_transfer_transitions_total{to}). With a nil m it returns s
// itself.
func Store(s storage.Store, m *Metrics) storage.Store {
	if m == nil {
		return s
	}
	return &timedStore{s: s, m: m}
}

type timedStore struct {
	s storage.Store
	m *Metrics
}

var _ storage.Store = (*timedStore)(nil)

// done records one call of op that started at t0.
func (d *timedStore) done(op string, t0 time.Time, err error) {
	d.m.StoreOp(op, time.Since(t0), err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrFlowChanged))
}

// transition wraps an UpdateTransfer callback, noting the state it moved
// the transfer to (the last run of fn counts: an engine may retry it).
func transition(fn func(*storage.Transfer) error, moved *storage.State) func(*storage.Transfer) error {
	return func(t *storage.Transfer) error {
		before := t.State
		*moved = 0
		if err := fn(t); err != nil {
			return err
		}
		if t.State != before {
			*moved = t.State
		}
		return nil
	}
}

func (d *timedStore) User(id int64) (_ storage.User, err error) {
	defer func(t0 time.Time) { d.done("User", t0, err) }(time.Now())
	return d.s.User(id)
}

func (d *timedStore) UpsertUser(u storage.User) (_ storage.User, err error) {
	defer func(t0 time.Time) { d.done("UpsertUser", t0, err) }(time.Now())
	return d.s.UpsertUser(u)
}

func (d *timedStore) UpdateUser(id int64, fn func(*storage.User) error) (_ storage.User, err error) {
	defer func(t0 time.Time) { d.done("UpdateUser", t0, err) }(time.Now())
	return d.s.UpdateUser(id, fn)
}

func (d *timedStore) UserByUsername(name string) (_ storage.User, err error) {
	defer func(t0 time.Time) { d.done("UserByUsername", t0, err) }(time.Now())
	return d.s.UserByUsername(name)
}

func (d *timedStore) UsernameIndexed(u storage.User) bool {
	defer func(t0 time.Time) { d.done("UsernameIndexed", t0, nil) }(time.Now())
	return d.s.UsernameIndexed(u)
}

func (d *timedStore) CreateWallet(w storage.Wallet) (_ storage.Wallet, _ bool, err error) {
	defer func(t0 time.Time) { d.done("CreateWallet", t0, err) }(time.Now())
	return d.s.CreateWallet(w)
}

func (d *timedStore) WalletByOwner(owner int64) (_ storage.Wallet, err error) {
	defer func(t0 time.Time) { d.done("WalletByOwner", t0, err) }(time.Now())
	return d.s.WalletByOwner(owner)
}

func (d *timedStore) WalletByAddress(addr common.Address) (_ storage.Wallet, err error) {
	defer func(t0 time.Time) { d.done("WalletByAddress", t0, err) }(time.Now())
	return d.s.WalletByAddress(addr)
}

func (d *timedStore) ForEachWallet(fn func(storage.Wallet) error) (err error) {
	defer func(t0 time.Time) { d.done("ForEachWallet", t0, err) }(time.Now())
	return d.s.ForEachWallet(fn)
}

func (d *timedStore) FirstWallet() (_ storage.Wallet, err error) {
	defer func(t0 time.Time) { d.done("FirstWallet", t0, err) }(time.Now())
	return d.s.FirstWallet()
}

func (d *timedStore) ForEachWalletAddress(fn func(common.Address, int64) error) (err error) {
	defer func(t0 time.Time) { d.done("ForEachWalletAddress", t0, err) }(time.Now())
	return d.s.ForEachWalletAddress(fn)
}

func (d *timedStore) CreateTransfer(t storage.Transfer) (out storage.Transfer, err error) {
	defer func(t0 time.Time) {
		d.done("CreateTransfer", t0, err)
		if err == nil {
			d.m.Transition(out.State)
		}
	}(time.Now())
	return d.s.CreateTransfer(t)
}

func (d *timedStore) Transfer(id string) (_ storage.Transfer, err error) {
	defer func(t0 time.Time) { d.done("Transfer", t0, err) }(time.Now())
	return d.s.Transfer(id)
}

func (d *timedStore) UpdateTransfer(id string, fn func(*storage.Transfer) error) (_ storage.Transfer, err error) {
	var moved storage.State
	defer func(t0 time.Time) {
		d.done("UpdateTransfer", t0, err)
		if err == nil && moved != 0 {
			d.m.Transition(moved)
		}
	}(time.Now())
	return d.s.UpdateTransfer(id, transition(fn, &moved))
}

func (d *timedStore) TransfersByOwner(owner int64, limit, offset int) (_ []storage.Transfer, err error) {
	defer func(t0 time.Time) { d.done("TransfersByOwner", t0, err) }(time.Now())
	return d.s.TransfersByOwner(owner, limit, offset)
}

func (d *timedStore) TransfersInState(states ...storage.State) (_ []storage.Transfer, err error) {
	defer func(t0 time.Time) { d.done("TransfersInState", t0, err) }(time.Now())
	return d.s.TransfersInState(states...)
}

func (d *timedStore) ActiveNonces(chainID uint64, from common.Address) (_ []uint64, err error) {
	defer func(t0 time.Time) { d.done("ActiveNonces", t0, err) }(time.Now())
	return d.s.ActiveNonces(chainID, from)
}

func (d *timedStore) NonceHolders(chainID uint64, from common.Address) (_ []storage.Transfer, err error) {
	defer func(t0 time.Time) { d.done("NonceHolders", t0, err) }(time.Now())
	return d.s.NonceHolders(chainID, from)
}

// Update counts the transitions of the run of fn that committed.
func (d *timedStore) Update(fn func(tx storage.Tx) error) (err error) {
	var tx *countingTx
	defer func(t0 time.Time) {
		d.done("Update", t0, err)
		if err == nil && tx != nil {
			for _, s := range tx.moved {
				d.m.Transition(s)
			}
		}
	}(time.Now())
	return d.s.Update(func(inner storage.Tx) error {
		tx = &countingTx{Tx: inner} // a retried run starts afresh
		return fn(tx)
	})
}

func (d *timedStore) WatchCursor(chainID uint64) (_ storage.WatchCursor, err error) {
	defer func(t0 time.Time) { d.done("WatchCursor", t0, err) }(time.Now())
	return d.s.WatchCursor(chainID)
}

func (d *timedStore) StoreWatchedBlocks(cur storage.WatchCursor, deposits []storage.Deposit) (_ int, err error) {
	defer func(t0 time.Time) { d.done("StoreWatchedBlocks", t0, err) }(time.Now())
	return d.s.StoreWatchedBlocks(cur, deposits)
}

func (d *timedStore) Deposits(owner int64, limit, offset int) (_ []storage.Deposit, err error) {
	defer func(t0 time.Time) { d.done("Deposits", t0, err) }(time.Now())
	return d.s.Deposits(owner, limit, offset)
}

func (d *timedStore) PendingAlerts(limit int) (_ []storage.Alert, err error) {
	defer func(t0 time.Time) { d.done("PendingAlerts", t0, err) }(time.Now())
	return d.s.PendingAlerts(limit)
}

func (d *timedStore) PendingAlertsAfter(after uint64, limit int) (_ []storage.Alert, err error) {
	defer func(t0 time.Time) { d.done("PendingAlertsAfter", t0, err) }(time.Now())
	return d.s.PendingAlertsAfter(after, limit)
}

func (d *timedStore) AlertDelivered(seq uint64) (err error) {
	defer func(t0 time.Time) { d.done("AlertDelivered", t0, err) }(time.Now())
	return d.s.AlertDelivered(seq)
}

func (d *timedStore) Meta(key string) (_ []byte, err error) {
	defer func(t0 time.Time) { d.done("Meta", t0, err) }(time.Now())
	return d.s.Meta(key)
}

func (d *timedStore) PutMeta(key string, value []byte) (err error) {
	defer func(t0 time.Time) { d.done("PutMeta", t0, err) }(time.Now())
	return d.s.PutMeta(key, value)
}

func (d *timedStore) ClaimUpdate(updateID int64, holder string, ttl time.Duration) (_ storage.UpdateClaim, err error) {
	defer func(t0 time.Time) { d.done("ClaimUpdate", t0, err) }(time.Now())
	return d.s.ClaimUpdate(updateID, holder, ttl)
}

func (d *timedStore) FinishUpdate(updateID int64, holder string) (err error) {
	defer func(t0 time.Time) { d.done("FinishUpdate", t0, err) }(time.Now())
	return d.s.FinishUpdate(updateID, holder)
}

func (d *timedStore) PruneUpdates(olderThan time.Duration) (_ int, err error) {
	defer func(t0 time.Time) { d.done("PruneUpdates", t0, err) }(time.Now())
	return d.s.PruneUpdates(olderThan)
}

func (d *timedStore) AcquireLease(name, holder string, ttl time.Duration) (_ storage.Lease, _ bool, err error) {
	defer func(t0 time.Time) { d.done("AcquireLease", t0, err) }(time.Now())
	return d.s.AcquireLease(name, holder, ttl)
}

func (d *timedStore) ReleaseLease(name, holder string) (err error) {
	defer func(t0 time.Time) { d.done("ReleaseLease", t0, err) }(time.Now())
	return d.s.ReleaseLease(name, holder)
}

func (d *timedStore) Ping(ctx context.Context) (err error) {
	defer func(t0 time.Time) { d.done("Ping", t0, err) }(time.Now())
	return d.s.Ping(ctx)
}

func (d *timedStore) SchemaVersion() (_ uint64, err error) {
	defer func(t0 time.Time) { d.done("SchemaVersion", t0, err) }(time.Now())
	return d.s.SchemaVersion()
}

func (d *timedStore) PendingCardEdits(after uint64, limit int) (_ []storage.CardEdit, err error) {
	defer func(t0 time.Time) { d.done("PendingCardEdits", t0, err) }(time.Now())
	return d.s.PendingCardEdits(after, limit)
}

func (d *timedStore) CardEditsDone(seqs ...uint64) (err error) {
	defer func(t0 time.Time) { d.done("CardEditsDone", t0, err) }(time.Now())
	return d.s.CardEditsDone(seqs...)
}

func (d *timedStore) SetWalletCard(user int64, c storage.Card) (err error) {
	defer func(t0 time.Time) { d.done("SetWalletCard", t0, err) }(time.Now())
	return d.s.SetWalletCard(user, c)
}

func (d *timedStore) WalletCard(user int64) (_ storage.Card, err error) {
	defer func(t0 time.Time) { d.done("WalletCard", t0, err) }(time.Now())
	return d.s.WalletCard(user)
}

func (d *timedStore) ReserveSend(chatID int64, l storage.SendLimits) (_ time.Duration, _ bool, err error) {
	defer func(t0 time.Time) { d.done("ReserveSend", t0, err) }(time.Now())
	return d.s.ReserveSend(chatID, l)
}

func (d *timedStore) PruneSendSlots(limit int) (_ int, err error) {
	defer func(t0 time.Time) { d.done("PruneSendSlots", t0, err) }(time.Now())
	return d.s.PruneSendSlots(limit)
}

// Close closes the wrapped store.
func (d *timedStore) Close() error { return d.s.Close() }

// countingTx notes the transfer states reached in one run of an Update.
type countingTx struct {
	storage.Tx
	moved []storage.State
}

func (t *countingTx) CreateTransfer(tr storage.Transfer) (storage.Transfer, error) {
	out, err := t.Tx.CreateTransfer(tr)
	if err == nil {
		t.moved = append(t.moved, out.State)
	}
	return out, err
}

func (t *countingTx) UpdateTransfer(id string, fn func(*storage.Transfer) error) (storage.Transfer, error) {
	var moved storage.State
	out, err := t.Tx.UpdateTransfer(id, transition(fn, &moved))
	if err == nil && moved != 0 {
		t.moved = append(t.moved, moved)
	}
	return out, err
}

func (d *timedStore) Flow(chatID int64) (_ storage.Flow, err error) {
	defer func(t0 time.Time) { d.done("Flow", t0, err) }(time.Now())
	return d.s.Flow(chatID)
}

func (d *timedStore) PutFlow(chatID int64, expect uint64, data []byte, ttl time.Duration) (_ storage.Flow, err error) {
	defer func(t0 time.Time) { d.done("PutFlow", t0, err) }(time.Now())
	return d.s.PutFlow(chatID, expect, data, ttl)
}

func (d *timedStore) DeleteFlow(chatID int64, expect uint64) (_ bool, err error) {
	defer func(t0 time.Time) { d.done("DeleteFlow", t0, err) }(time.Now())
	return d.s.DeleteFlow(chatID, expect)
}

func (d *timedStore) PruneFlows() (_ int, err error) {
	defer func(t0 time.Time) { d.done("PruneFlows", t0, err) }(time.Now())
	return d.s.PruneFlows()
}
