package parent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// ServiceConfig tunes the wallet service.
type ServiceConfig struct {
	// ChainID is the chain every intent is built for.
	ChainID uint64
	// IntentTTL is how long a user has to approve a transfer.
	IntentTTL time.Duration
	// Confirmations is how many blocks (counting the one that includes it)
	// a transfer needs before the user is told it is confirmed.
	Confirmations uint64
	// PollInterval is how often the tracker looks at open transfers.
	PollInterval time.Duration
	// StuckAfter is how long a sent transfer waits in the network's pool
	// before its card offers Replace (default 3 minutes).
	StuckAfter time.Duration
	// RequireVaultBlob refuses wallet creation until the KMS ciphertext
	// blob of the vault key is stored: a wallet sealed under a vault key
	// whose blob was lost (a crash between the first unlock and storing
	// the blob) could never be opened again.
	RequireVaultBlob bool
}

func (c *ServiceConfig) setDefaults() {
	if c.IntentTTL <= 0 {
		c.IntentTTL = 10 * time.Minute
	}
	if c.Confirmations == 0 {
		c.Confirmations = 1
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.StuckAfter <= 0 {
		c.StuckAfter = 3 * time.Minute
	}
}

// Service is the wallet service of the parent: it creates wallets through the
// enclave, builds transfer intents, forwards approvals, broadcasts and tracks
// transactions. Every state change is stored before it is acted on, so a
// crash at any point resumes where it stopped (see Track).
type Service struct {
	store   *storage.DB
	enclave *EnclaveClient
	chain   *Chain
	log     *slog.Logger
	cfg     ServiceConfig
	now     func() time.Time

	// buildMu serialises intent building per wallet, so one build's nonce
	// plan and store (signed.go) never interleave with another's.
	buildMu sync.Map // common.Address -> *sync.Mutex
	// proofs caches the enclave's wallet proof per address (statement.go):
	// a proof never changes for a deployment, so one /v1/statement per
	// wallet and process is enough.
	proofs sync.Map // common.Address -> []byte
	// pace spaces out the rebroadcasts of signed transfers (signed.go).
	pace pacer

	mu        sync.Mutex
	listeners []func(storage.Transfer)
	// walletListeners hear of each new wallet (walletevents.go).
	walletListeners []func(storage.Wallet)
}

// NewService wires the parent's parts together.
func NewService(store *storage.DB, enclave *EnclaveClient, chain *Chain, cfg ServiceConfig, log *slog.Logger) *Service {
	cfg.setDefaults()
	s := &Service{store: store, enclave: enclave, chain: chain, cfg: cfg, log: log, now: time.Now}
	s.pace.base, s.pace.max = cfg.PollInterval, min(30*cfg.PollInterval, time.Minute)
	return s
}

// OnTransferChange registers f to be called after every stored state change
// of a transfer (the bot edits the transfer's card).
func (s *Service) OnTransferChange(f func(storage.Transfer)) {
	s.mu.Lock()
	s.listeners = append(s.listeners, f)
	s.mu.Unlock()
}

func (s *Service) changed(t storage.Transfer) {
	s.mu.Lock()
	ls := slices.Clone(s.listeners)
	s.mu.Unlock()
	for _, f := range ls {
		f(t)
	}
}

// Chain is the chain client the service uses.
func (s *Service) Chain() *Chain { return s.chain }

// ChainID is the chain the service builds intents for.
func (s *Service) ChainID() uint64 { return s.cfg.ChainID }

// Wallet returns the user's wallet, or ErrNoWallet.
func (s *Service) Wallet(owner int64) (storage.Wallet, error) {
	w, err := s.store.WalletByOwner(owner)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Wallet{}, ErrNoWallet
	}
	return w, err
}

// EnsureWallet returns the user's wallet, creating it in the enclave first if
// there is none. Concurrent calls for one user return the same wallet: the
// store keeps the first record and the others' fresh keys, never shown to
// anyone, are dropped.
func (s *Service) EnsureWallet(ctx context.Context, owner int64) (storage.Wallet, bool, error) {
	if w, err := s.store.WalletByOwner(owner); err == nil {
		return w, false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Wallet{}, false, err
	}
	if s.cfg.RequireVaultBlob {
		if _, err := s.store.Meta(MetaKMSCiphertextBlob); err != nil {
			return storage.Wallet{}, false, fmt.Errorf("%w: the vault key is not stored yet (first unlock in progress)", ErrEnclaveUnavailable)
		}
	}
	addr, rec, err := s.enclave.CreateWallet(ctx, owner)
	if err != nil {
		return storage.Wallet{}, false, err
	}
	w, created, err := s.store.CreateWallet(storage.Wallet{Owner: owner, Address: addr, Record: rec, Created: s.now()})
	if err != nil {
		return storage.Wallet{}, false, err
	}
	if created {
		s.log.Info("wallet created", "owner", owner, "address", w.Address.Hex())
		s.walletCreated(w)
	}
	return w, created, nil
}

// RememberUser stores or refreshes a Telegram user's profile.
func (s *Service) RememberUser(u storage.User) error {
	// Most updates come from known users with an unchanged profile: a read
	// avoids a write (and its fsync) per update.
	if old, err := s.store.User(u.ID); err == nil && (u.ChatID == 0 || old.ChatID == u.ChatID) &&
		old.FirstName == u.FirstName && old.Username == u.Username && old.Language == u.Language {
		return nil
	}
	if u.Created.IsZero() {
		u.Created = s.now()
	}
	_, err := s.store.UpsertUser(u)
	return err
}

// Balance is the wallet's balance on the chain.
func (s *Service) Balance(ctx context.Context, addr common.Address) (*big.Int, error) {
	return s.chain.Balance(ctx, addr)
}

// TransferID names the transfer a start_param carries. The intent encoding is
// canonical, so one intent has one id.
func TransferID(startParam string) string {
	sum := sha256.Sum256([]byte(startParam))
	return hex.EncodeToString(sum[:16])
}

// BuildRequest is what a user asks to send.
type BuildRequest struct {
	Owner     int64
	To        common.Address
	Amount    *big.Int // wei
	ChatID    int64
	MessageID int // the card to edit, if it already exists
	// Replace, if set, builds a replacement of that signed transfer instead
	// (To and Amount are ignored): zero to the wallet itself at its nonce,
	// with higher fees.
	Replace string
}

// Build makes a transfer intent for the user's wallet: its nonce (signed.go:
// no gaps), current fees, an expiry, and checks that the balance covers
// amount plus the maximum fee. The transfer is stored in state built, and
// the wallet's earlier unapproved transfer, if any, is superseded.
func (s *Service) Build(ctx context.Context, req BuildRequest) (storage.Transfer, error) {
	if req.Replace == "" && (req.Amount == nil || req.Amount.Sign() <= 0) {
		return storage.Transfer{}, fmt.Errorf("%w: the amount must be more than zero", ErrBadAmount)
	}
	if req.Replace == "" && req.To == (common.Address{}) {
		return storage.Transfer{}, fmt.Errorf("%w: the zero address burns funds", ErrBadAddress)
	}
	w, err := s.Wallet(req.Owner)
	if err != nil {
		return storage.Transfer{}, err
	}
	mu, _ := s.buildMu.LoadOrStore(w.Address, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	maxFee, tip, err := s.chain.Fees(ctx)
	if err != nil {
		return storage.Transfer{}, err
	}
	balance, err := s.chain.Balance(ctx, w.Address)
	if err != nil {
		return storage.Transfer{}, err
	}
	plan, err := s.planBuild(ctx, w, req, maxFee, tip)
	if err != nil {
		return storage.Transfer{}, err
	}
	proof, err := s.walletProof(ctx, w)
	if err != nil {
		return storage.Transfer{}, err
	}
	nonce := plan.nonce
	now := s.now()
	in := &protocol.Intent{
		ChainID:              s.cfg.ChainID,
		From:                 w.Address,
		To:                   plan.to,
		Amount:               plan.amount,
		Nonce:                nonce,
		GasLimit:             GasLimitETH,
		MaxFeePerGas:         plan.maxFee,
		MaxPriorityFeePerGas: plan.tip,
		Expiry:               uint64(now.Add(s.cfg.IntentTTL).Unix()),
		WalletProof:          proof,
	}
	if cost := in.MaxCost(); balance.Cmp(cost) < 0 {
		return storage.Transfer{}, fmt.Errorf("%w: it needs up to %s ETH (amount plus max fee), the wallet has %s ETH",
			ErrBalanceTooLow, FormatETH(cost, 18), FormatETH(balance, 18))
	}
	bin, err := in.MarshalBinary()
	if err != nil {
		return storage.Transfer{}, err
	}
	sp, err := in.EncodeStartParam()
	if err != nil {
		return storage.Transfer{}, err
	}
	t := storage.Transfer{
		ID:         TransferID(sp),
		Owner:      req.Owner,
		ChatID:     req.ChatID,
		MessageID:  req.MessageID,
		ChainID:    s.cfg.ChainID,
		From:       w.Address,
		To:         plan.to,
		Amount:     new(big.Int).Set(plan.amount),
		Nonce:      nonce,
		MaxFee:     new(big.Int).Mul(new(big.Int).SetUint64(in.GasLimit), in.MaxFeePerGas),
		Intent:     bin,
		StartParam: sp,
		State:      storage.StateBuilt,
		Created:    now,
		Updated:    now,
		Expiry:     time.Unix(int64(in.Expiry), 0),
		Kind:       plan.kind,
		Replaces:   plan.replaces,
	}
	t, superseded, err := s.createBuilt(t, plan)
	if err != nil {
		return storage.Transfer{}, err
	}
	s.log.Info("transfer built", "transfer", t.ID, "owner", t.Owner, "nonce", nonce, "kind", t.Kind)
	for _, old := range superseded {
		s.changed(old)
	}
	return t, nil
}

// SetMessage records which chat message shows the transfer's card.
// It returns the transfer as stored: a change that happened before the card
// was known (a quick Cancel) could not edit the card, so the caller shows
// the returned state.
func (s *Service) SetMessage(id string, chatID int64, messageID int) (storage.Transfer, error) {
	return s.store.UpdateTransfer(id, func(t *storage.Transfer) error {
		t.ChatID, t.MessageID = chatID, messageID
		return nil
	})
}

// Transfer looks a transfer up by id.
func (s *Service) Transfer(id string) (storage.Transfer, error) {
	t, err := s.store.Transfer(id)
	if errors.Is(err, storage.ErrNotFound) {
		return t, ErrUnknownTransfer
	}
	return t, err
}

// History is the user's transfers, newest first.
func (s *Service) History(owner int64, limit, offset int) ([]storage.Transfer, error) {
	return s.store.TransfersByOwner(owner, limit, offset)
}

// transferFor finds the transfer an initData's start_param names. The
// initData is not verified here: the lookup decides nothing (the enclave
// verifies before it signs).
func (s *Service) transferFor(initData string) (storage.Transfer, error) {
	d, err := protocol.ParseInitData(initData)
	if err != nil {
		return storage.Transfer{}, err
	}
	if d.StartParam == "" {
		return storage.Transfer{}, fmt.Errorf("%w: initData has no start_param", protocol.ErrMalformedIntent)
	}
	if _, err := protocol.DecodeStartParam(d.StartParam); err != nil {
		return storage.Transfer{}, err
	}
	return s.Transfer(TransferID(d.StartParam))
}

// Approve forwards a Mini App approval to the enclave, stores the signed
// transaction (state approved) before broadcasting it, then broadcasts
// (state sent). If the node is unreachable, the transfer stays approved and
// Track broadcasts it later; the caller learns which with the state.
func (s *Service) Approve(ctx context.Context, initData string) (storage.Transfer, error) {
	t, err := s.transferFor(initData)
	if err != nil {
		return t, err
	}
	if err := openForApproval(t); err != nil {
		return t, err
	}
	w, err := s.store.WalletByAddress(t.From)
	if err != nil {
		return t, err
	}
	raw, hash, err := s.enclave.Approve(ctx, initData, w.Record)
	if err != nil {
		return t, err
	}
	if err := checkSigned(raw, hash, t); err != nil {
		return t, err
	}
	t, err = s.store.UpdateTransfer(t.ID, func(t *storage.Transfer) error {
		if err := openForApproval(*t); err != nil {
			return err
		}
		t.State, t.SignedTx, t.TxHash, t.Updated = storage.StateApproved, raw, hash, s.now()
		return nil
	})
	if err != nil {
		return t, err
	}
	s.log.Info("transfer approved", "transfer", t.ID, "tx", hash.Hex())
	s.changed(t)
	// The user waits for this answer: give the node a few seconds, then
	// leave the transfer approved for the tracker.
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.broadcast(bctx, t), nil
}

func openForApproval(t storage.Transfer) error {
	switch t.State {
	case storage.StateBuilt:
		return nil
	case storage.StateApproved, storage.StateSent, storage.StateConfirmed:
		return fmt.Errorf("%w: transaction %s", ErrAlreadyApproved, t.TxHash.Hex())
	default:
		return fmt.Errorf("%w: it is %s", ErrTransferClosed, t.State)
	}
}

// checkSigned makes sure the enclave signed exactly the intent the parent
// stored, from the transfer's wallet, before anything is broadcast: a cheap
// check (one decode, one sender recovery) that catches a mix-up.
func checkSigned(raw []byte, hash common.Hash, t storage.Transfer) error {
	var in protocol.Intent
	if err := in.UnmarshalBinary(t.Intent); err != nil {
		return fmt.Errorf("stored intent of transfer %s: %w", t.ID, err)
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(raw); err != nil {
		return fmt.Errorf("%w: enclave returned an undecodable transaction", ErrEnclaveUnavailable)
	}
	// To, value and data by the intent's one definition (protocol/token.go):
	// for a token, value 0 to the token contract with exactly
	// transfer(to, amount) as data.
	same := tx.Hash() == hash && tx.Type() == types.DynamicFeeTxType &&
		tx.ChainId().IsUint64() && tx.ChainId().Uint64() == in.ChainID &&
		tx.Nonce() == in.Nonce && tx.To() != nil && *tx.To() == in.TxTo() && string(tx.Data()) == string(in.TxData()) &&
		tx.Value().Cmp(in.TxValue()) == 0 && tx.Gas() == in.GasLimit &&
		tx.GasFeeCap().Cmp(in.MaxFeePerGas) == 0 && tx.GasTipCap().Cmp(in.MaxPriorityFeePerGas) == 0
	if same {
		from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx)
		same = err == nil && from == in.From
	}
	if !same {
		return fmt.Errorf("%w: enclave returned a transaction that is not this transfer", ErrEnclaveUnavailable)
	}
	return nil
}

// broadcast sends a signed transfer's transaction and moves it to sent. A
// refusal of any kind, or a node that is down, never fails it: the signed
// transaction stays valid and may still be mined (signed.go). It stays (or
// goes back to) approved with the reason in plain words, and Track sends it
// again at its pace.
func (s *Service) broadcast(ctx context.Context, t storage.Transfer) storage.Transfer {
	_, err := s.chain.Broadcast(ctx, t.SignedTx)
	if err == nil {
		s.pace.accepted(t.ID)
		if t.State == storage.StateSent && t.Reason == "" {
			return t
		}
		return s.move(t, storage.StateSent, "")
	}
	s.pace.refused(t.ID, s.now())
	reason := notAccepted(err)
	s.log.Warn("broadcast not accepted; the transfer stays open", "transfer", t.ID, "reason", reason, "err", err)
	if t.State == storage.StateApproved && t.Reason == reason {
		return t
	}
	return s.move(t, storage.StateApproved, reason)
}

// move stores a state change and tells the listeners. An invalid or lost
// race (someone else moved it first) leaves t as stored.
func (s *Service) move(t storage.Transfer, to storage.State, reason string) storage.Transfer {
	nt, err := s.store.UpdateTransfer(t.ID, func(x *storage.Transfer) error {
		x.State, x.Reason, x.Updated = to, reason, s.now()
		if to == storage.StateConfirmed || to == storage.StateFailed {
			x.Block = t.Block
		}
		return nil
	})
	if to.Final() {
		s.pace.forget(t.ID)
	}
	if err != nil {
		s.log.Warn("transfer state not changed", "transfer", t.ID, "to", to, "err", err)
		if cur, err := s.store.Transfer(t.ID); err == nil {
			return cur
		}
		return t
	}
	s.log.Info("transfer "+to.String(), "transfer", nt.ID, "reason", reason)
	s.changed(nt)
	return nt
}

// CancelByOwner cancels a built transfer for its owner (the bot's Cancel
// button, whose sender Telegram identifies). It is the only way to cancel:
// there is no cancel with initData, because Telegram signs initData when the
// Mini App opens, so initData that reaches the host is an approval, and a
// page that sent it to refuse a transfer would hand the host that approval
// (docs/threat-model.md, "Part 1 and 7").
func (s *Service) CancelByOwner(id string, owner int64) (storage.Transfer, error) {
	t, err := s.store.UpdateTransfer(id, func(t *storage.Transfer) error {
		if t.Owner != owner {
			return fmt.Errorf("%w: the transfer is another user's", protocol.ErrWrongOwner)
		}
		if t.State != storage.StateBuilt {
			if err := openForApproval(*t); err != nil {
				return err
			}
		}
		t.State, t.Reason, t.Updated = storage.StateCancelled, "cancelled by you", s.now()
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return t, ErrUnknownTransfer
	}
	if err != nil {
		return t, err
	}
	s.changed(t)
	return t, nil
}
