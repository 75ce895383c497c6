package storage

import (
	"context"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Store is what the parent keeps: users, wallets (sealed records),
// transfers, deposits and their alerts, meta values, and the coordination
// of several parents on one database (Telegram updates claimed once, leases
// on background work). Two engines implement it, each in its own package:
// storage/bolt (*bolt.DB: bbolt, one host, the embedded default) and
// storage/postgres (several hosts). One conformance suite
// (storage/storagetest) proves they behave the same; the rules written on
// each method of bolt.DB (ErrNotFound, ErrWalletExists, ErrNonceInUse,
// ErrInvalidTransition, ErrInvalid, ...) are part of the contract.
//
// Every method is safe for concurrent use, and every change is durable when
// the method returns nil.
type Store interface {
	// Users.
	User(id int64) (User, error)
	UpsertUser(u User) (User, error)
	UpdateUser(id int64, fn func(*User) error) (User, error)
	UserByUsername(name string) (User, error)
	UsernameIndexed(u User) bool

	// Wallets: one per owner, one owner per address. CreateWallet returns
	// the stored wallet and true when it stored w, or the owner's existing
	// wallet and false (w is then discarded): concurrent creates for one
	// owner leave exactly one wallet.
	CreateWallet(w Wallet) (Wallet, bool, error)
	WalletByOwner(owner int64) (Wallet, error)
	WalletByAddress(addr common.Address) (Wallet, error)
	ForEachWallet(fn func(Wallet) error) error
	ForEachWalletAddress(fn func(addr common.Address, owner int64) error) error
	// FirstWallet returns the wallet of the lowest owner id, or
	// ErrNotFound when the store holds no wallet: whether wallets exist,
	// and one record to check the vault key against (parent/unlock.go).
	FirstWallet() (Wallet, error)

	// Transfers and their state machine (transfer.go).
	CreateTransfer(t Transfer) (Transfer, error)
	Transfer(id string) (Transfer, error)
	UpdateTransfer(id string, fn func(*Transfer) error) (Transfer, error)
	TransfersByOwner(owner int64, limit, offset int) ([]Transfer, error)
	TransfersInState(states ...State) ([]Transfer, error)
	ActiveNonces(chainID uint64, from common.Address) ([]uint64, error)
	NonceHolders(chainID uint64, from common.Address) ([]Transfer, error)

	// Update runs fn in one write transaction, committed only if fn returns
	// nil. fn may run more than once (an engine may retry a transaction that
	// lost a serialization race), so it must not have effects outside tx.
	Update(fn func(tx Tx) error) error

	// Incoming funds (deposit.go).
	WatchCursor(chainID uint64) (WatchCursor, error)
	StoreWatchedBlocks(cur WatchCursor, deposits []Deposit) (int, error)
	Deposits(owner int64, limit, offset int) ([]Deposit, error)
	PendingAlerts(limit int) ([]Alert, error)
	PendingAlertsAfter(after uint64, limit int) ([]Alert, error)
	AlertDelivered(seq uint64) error

	// Meta values (the vault key's KMS ciphertext, the attestation identity).
	Meta(key string) ([]byte, error)
	PutMeta(key string, value []byte) error

	// Chat flows (flows.go): the bot's conversation state per chat, with
	// an expiry on the engine's clock and compare-and-set by version.
	Flow(chatID int64) (Flow, error)
	PutFlow(chatID int64, expect uint64, data []byte, ttl time.Duration) (Flow, error)
	DeleteFlow(chatID int64, expect uint64) (bool, error)
	PruneFlows() (int, error)

	// Several parents (coordination.go).
	ClaimUpdate(updateID int64, holder string, ttl time.Duration) (UpdateClaim, error)
	FinishUpdate(updateID int64, holder string) error
	PruneUpdates(olderThan time.Duration) (int, error)
	AcquireLease(name, holder string, ttl time.Duration) (Lease, bool, error)
	ReleaseLease(name, holder string) error

	// Chat cards and Telegram's limits across parents (cards.go,
	// sendslots.go). UpdateTransfer (Store's and Tx's) queues a CardEdit in
	// the same transaction when CardEditDue says so.
	PendingCardEdits(after uint64, limit int) ([]CardEdit, error)
	CardEditsDone(seqs ...uint64) error
	SetWalletCard(user int64, c Card) error
	WalletCard(user int64) (Card, error)
	ReserveSend(chatID int64, l SendLimits) (wait time.Duration, reserved bool, err error)
	PruneSendSlots(limit int) (int, error)

	// SchemaVersion is the version of the stored schema.
	SchemaVersion() (uint64, error)
	// Ping reports whether the store answers now, within ctx (readiness:
	// a database that is down must not hold the check for its own
	// statement timeout).
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one write transaction of Store.Update: the reads see the
// transaction's own writes, and all the writes commit together or not at
// all.
type Tx interface {
	User(id int64) (User, error)
	UpsertUser(u User) (User, error)
	UpdateUser(id int64, fn func(*User) error) (User, error)
	CreateWallet(w Wallet) (Wallet, bool, error)
	WalletByOwner(owner int64) (Wallet, error)
	CreateTransfer(t Transfer) (Transfer, error)
	Transfer(id string) (Transfer, error)
	UpdateTransfer(id string, fn func(*Transfer) error) (Transfer, error)
	TransfersInState(states ...State) ([]Transfer, error)
	NonceHolders(chainID uint64, from common.Address) ([]Transfer, error)
	ActiveNonces(chainID uint64, from common.Address) ([]uint64, error)
	Meta(key string) ([]byte, error)
	PutMeta(key string, value []byte) error
	// CreateMeta stores value under key only if the key is absent, and
	// returns what is stored and whether this call stored it. Of several
	// concurrent creates on any engine exactly one stores; the others get
	// its value (the first vault key's blob, parent/unlock.go: a blob once
	// stored is never replaced).
	CreateMeta(key string, value []byte) (stored []byte, created bool, err error)
}
