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

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// ServiceConfig tunes the wallet service.
type ServiceConfig struct {
	// IntentTTL is how long a user has to approve a transfer.
	IntentTTL time.Duration
	// Confirmations, if set, is how many blocks (counting the one that
	// includes it) a transfer needs on every network before the user is
	// told it is confirmed, instead of each network's own Confirmations
	// (dev mode and tests).
	Confirmations uint64
	// PollInterval is how often the tracker looks at open transfers.
	PollInterval time.Duration
	// StuckAfter is how long a sent transfer waits in the network's pool
	// before its card offers Replace (default 3 minutes).
	StuckAfter time.Duration
	// RequireVaultBlob refuses wallet creation and approvals until the
	// KMS ciphertext blob of the vault key is stored and this parent's
	// enclave answered that very blob at its unlock (VaultKeyCheck): a
	// wallet sealed under a vault key whose blob was lost (a crash between
	// the first unlock and storing the blob, or a first-key race lost to
	// another parent) could never be opened again.
	RequireVaultBlob bool
	// Metrics counts approvals by outcome (nil: none).
	Metrics *metrics.Metrics
}

func (c *ServiceConfig) setDefaults() {
	if c.IntentTTL <= 0 {
		c.IntentTTL = 10 * time.Minute
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
	store   storage.Store
	enclave *EnclaveClient
	nets    networks.Set      // the networks served, in display order
	chains  map[uint64]*Chain // chain id -> its node's client
	log     *slog.Logger
	cfg     ServiceConfig
	now     func() time.Time

	// buildMu serialises intent building per wallet and chain, so one
	// build's nonce plan and store (signed.go) never interleave with
	// another's.
	buildMu sync.Map // walletOnChain -> *sync.Mutex
	// proofs caches the enclave's wallet proof per address (statement.go):
	// a proof never changes for a deployment, so one /v1/statement per
	// wallet and process is enough.
	proofs sync.Map // common.Address -> []byte
	// pace spaces out the rebroadcasts of signed transfers (signed.go).
	pace pacer
	// backoff leaves a transfer whose tracker pass panicked alone for a
	// while (trackbackoff.go).
	backoff trackBackoff

	mu        sync.Mutex
	listeners []func(storage.Transfer)
	// walletListeners hear of each new wallet (walletevents.go).
	walletListeners []func(storage.Wallet)
}

// walletOnChain names one wallet's nonce sequence: nonces are per chain.
type walletOnChain struct {
	chainID uint64
	addr    common.Address
}

// NewService wires the parent's parts together. It serves the given
// networks, in that order (the first is the default of a BuildRequest
// without a chain id); their descriptions must validate as a networks.Set
// and each client must be dialed for its network's chain id.
func NewService(store storage.Store, enclave *EnclaveClient, nets []NetworkChain, cfg ServiceConfig, log *slog.Logger) (*Service, error) {
	cfg.setDefaults()
	s := &Service{store: store, enclave: enclave, chains: map[uint64]*Chain{}, cfg: cfg, log: log, now: time.Now}
	for _, nc := range nets {
		if nc.Chain == nil || nc.Chain.ChainID() != nc.Network.ChainID {
			return nil, fmt.Errorf("parent: network %s (chain %d) has no client dialed for its chain id", nc.Network.Name, nc.Network.ChainID)
		}
		n := nc.Network
		if cfg.Confirmations > 0 {
			n.Confirmations = cfg.Confirmations
		}
		n.Confirmations = max(n.Confirmations, 1)
		s.nets = append(s.nets, n)
		s.chains[n.ChainID] = nc.Chain
	}
	// No network at all is allowed (tests of wallets and the API): such a
	// service builds nothing (ErrUnknownNetwork).
	if err := s.nets.Validate(); err != nil && len(s.nets) > 0 {
		return nil, fmt.Errorf("parent: %w", err)
	}
	s.pace.base, s.pace.max = cfg.PollInterval, min(30*cfg.PollInterval, time.Minute)
	s.backoff.base, s.backoff.max = cfg.PollInterval, max(TrackPanicMaxBackoff, cfg.PollInterval)
	return s, nil
}

// Store is the service's store: the bot keeps its cards and its Telegram
// send slots there, shared by every parent (docs/bot.md, "Several parents").
func (s *Service) Store() storage.Store { return s.store }

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

// Wallet returns the user's wallet, or ErrNoWallet.
func (s *Service) Wallet(owner int64) (storage.Wallet, error) {
	w, err := s.walletByOwner(owner)
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
	if w, err := s.walletByOwner(owner); err == nil {
		return w, false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Wallet{}, false, err
	}
	if err := s.VaultKeyCheck(); err != nil {
		return storage.Wallet{}, false, err
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
	} else if err := s.checkWallet(w); err != nil { // another's row, read back: walletrows.go
		return storage.Wallet{}, false, err
	}
	return w, created, nil
}

// RememberUser stores or refreshes a Telegram user's profile.
func (s *Service) RememberUser(u storage.User) error {
	// Most updates come from known users with an unchanged profile: a read
	// avoids a write (and its fsync) per update.
	if old, err := s.store.User(u.ID); err == nil && (u.ChatID == 0 || old.ChatID == u.ChatID) &&
		old.FirstName == u.FirstName && old.Username == u.Username && old.Language == u.Language &&
		s.store.UsernameIndexed(old) { // a profile stored before the @username index is written once more
		return nil
	}
	if u.Created.IsZero() {
		u.Created = s.now()
	}
	_, err := s.store.UpsertUser(u)
	return err
}

// TransferID names the transfer a start_param carries. The intent encoding is
// canonical, so one intent has one id.
func TransferID(startParam string) string {
	sum := sha256.Sum256([]byte(startParam))
	return hex.EncodeToString(sum[:16])
}

// BuildRequest is what a user asks to send.
type BuildRequest struct {
	Owner int64
	// ChainID is the network to send on; 0 is the first of Networks().
	ChainID uint64
	// Token is the ERC-20 contract to send, which must be on the network's
	// token list; the zero address sends the network's native coin.
	Token     common.Address
	To        common.Address
	Amount    *big.Int // in the asset's smallest unit (wei for the native coin)
	ChatID    int64
	MessageID int // the card to edit, if it already exists
	// Replace, if set, builds a replacement of that signed transfer instead
	// (ChainID, Token, To and Amount are ignored): zero of the native coin
	// to the wallet itself at its nonce on its network, with higher fees.
	Replace string
}

// Build makes a transfer intent for the user's wallet: its nonce on that
// network (signed.go: no gaps), current fees, the gas limit (21000 for the
// native coin; for a token, eth_estimateGas of the exact transfer(to,
// amount) call plus TokenGasMargin), an expiry, and checks that the
// balances cover it: the token balance the amount, and the native balance
// the amount (native coin) plus the max network fee plus, on an OP-stack
// network, the L1 data fee read from its GasPriceOracle. A refusal for
// money is an *InsufficientBalanceError or a *NoFeeCoinError with the
// numbers. The transfer is stored in state built, and the wallet's earlier
// unapproved transfer on that network, if any, is superseded.
func (s *Service) Build(ctx context.Context, req BuildRequest) (storage.Transfer, error) {
	if req.Replace == "" && (req.Amount == nil || req.Amount.Sign() <= 0) {
		return storage.Transfer{}, fmt.Errorf("%w: the amount must be more than zero", ErrBadAmount)
	}
	if req.Replace == "" && req.Amount.BitLen() > 256 {
		return storage.Transfer{}, fmt.Errorf("%w: the amount is too large", ErrBadAmount)
	}
	if req.Replace == "" && req.To == (common.Address{}) {
		return storage.Transfer{}, fmt.Errorf("%w: the zero address burns funds", ErrBadAddress)
	}
	w, err := s.Wallet(req.Owner)
	if err != nil {
		return storage.Transfer{}, err
	}
	chainID := req.ChainID
	if chainID == 0 && len(s.nets) > 0 {
		chainID = s.nets[0].ChainID
	}
	if req.Replace != "" {
		orig, err := s.Transfer(req.Replace)
		if err != nil {
			return storage.Transfer{}, err
		}
		chainID, req.Token = orig.ChainID, common.Address{}
	}
	n, err := s.Network(chainID)
	if err != nil {
		return storage.Transfer{}, err
	}
	c := s.chains[chainID]
	var token networks.Token
	native := req.Token == (common.Address{})
	if !native {
		var ok bool
		if token, ok = n.Token(req.Token); !ok {
			// The enclave signs only the tokens of its baked list; the
			// parent refuses first, in words.
			return storage.Transfer{}, fmt.Errorf("%w: %s is not a token this wallet knows on %s", ErrTokenNotListed, req.Token.Hex(), n.Name)
		}
	}
	if req.Replace == "" {
		// Security: a transfer to a token contract itself (the classic
		// "/send 25 USDT to <the USDT contract>") locks the money forever;
		// refuse it for every listed token of the network, whatever is sent.
		lost := "tokens sent to it are lost"
		if native {
			lost = n.NativeSymbol + " sent to it is lost"
		}
		for _, lt := range n.Tokens {
			if req.To == lt.Address {
				return storage.Transfer{}, fmt.Errorf("%w: that address is the %s token contract itself on %s; %s",
					ErrRecipientIsToken, lt.Symbol, n.Name, lost)
			}
		}
		if !native && req.To == token.Address {
			return storage.Transfer{}, fmt.Errorf("%w: that address is the %s token contract itself on %s; tokens sent to it are lost",
				ErrRecipientIsToken, token.Symbol, n.Name)
		}
	}
	mu, _ := s.buildMu.LoadOrStore(walletOnChain{chainID, w.Address}, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	maxFee, tip, err := c.Fees(ctx)
	if err != nil {
		return storage.Transfer{}, err
	}
	balance, err := c.Balance(ctx, w.Address)
	if err != nil {
		return storage.Transfer{}, err
	}
	var tokenBalance *big.Int
	if !native {
		if tokenBalance, err = c.TokenBalance(ctx, token.Address, w.Address); err != nil {
			return storage.Transfer{}, err
		}
		if tokenBalance.Cmp(req.Amount) < 0 {
			return storage.Transfer{}, &InsufficientBalanceError{ChainID: chainID, Network: n.Name, Token: token.Address,
				Symbol: token.Symbol, Decimals: token.Decimals, Have: tokenBalance, Need: new(big.Int).Set(req.Amount)}
		}
	}
	plan, err := s.planBuild(ctx, c, chainID, w, req, maxFee, tip)
	if err != nil {
		return storage.Transfer{}, err
	}
	// The transaction the enclave will sign (without signature): the
	// native coin goes to the recipient; a token goes as transfer(to,
	// amount) to the token contract with value 0.
	gas, txTo, txValue, txData := GasLimitETH, plan.to, plan.amount, []byte(nil)
	if !native {
		txTo, txValue, txData = token.Address, new(big.Int), TransferCalldata(plan.to, plan.amount)
		est, err := c.EstimateGas(ctx, w.Address, txTo, txValue, txData)
		if err != nil {
			return storage.Transfer{}, err
		}
		gas = est + est*TokenGasMargin/100
	}
	fee := s.feeOf(ctx, n, c, unsignedTx(chainID, plan.nonce, gas, plan.maxFee, plan.tip, txTo, txValue, txData))
	if !fee.L1Known() {
		// The L1 data fee is part of what the transfer costs: no card
		// without it (the user would see a total that leaves it out).
		return storage.Transfer{}, fmt.Errorf("%w on %s; try again in a moment: %w", ErrL1FeeUnknown, n.Name, fee.L1DataFeeErr)
	}
	feeTotal, _ := fee.MaxTotal()
	if native {
		if need := new(big.Int).Add(plan.amount, feeTotal); balance.Cmp(need) < 0 {
			return storage.Transfer{}, &InsufficientBalanceError{ChainID: chainID, Network: n.Name, Symbol: n.NativeSymbol,
				Decimals: n.NativeDecimals, Have: balance, Need: need, Fee: feeTotal}
		}
	} else if balance.Cmp(feeTotal) < 0 {
		likely, _ := fee.LikelyTotal()
		return storage.Transfer{}, &NoFeeCoinError{ChainID: chainID, Network: n.Name, TokenSymbol: token.Symbol,
			TokenDecimals: token.Decimals, TokenBalance: tokenBalance, NativeSymbol: n.NativeSymbol,
			NativeBalance: balance, Fee: feeTotal, Likely: likely}
	}
	proof, err := s.walletProof(ctx, w)
	if err != nil {
		return storage.Transfer{}, err
	}
	nonce := plan.nonce
	now := s.now()
	in := &protocol.Intent{
		ChainID:              chainID,
		From:                 w.Address,
		To:                   plan.to,
		Token:                token.Address,
		Amount:               plan.amount,
		Nonce:                nonce,
		GasLimit:             gas,
		MaxFeePerGas:         plan.maxFee,
		MaxPriorityFeePerGas: plan.tip,
		Expiry:               uint64(now.Add(s.cfg.IntentTTL).Unix()),
		WalletProof:          proof,
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
		ChainID:    chainID,
		From:       w.Address,
		To:         plan.to,
		Token:      token.Address,
		Amount:     new(big.Int).Set(plan.amount),
		Nonce:      nonce,
		MaxFee:     new(big.Int).Set(fee.MaxNetworkFee),
		L1Fee:      fee.L1DataFee,
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
	s.log.Info("transfer built", "transfer", t.ID, "owner", t.Owner, "chain_id", chainID, "nonce", nonce, "kind", t.Kind)
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
func (s *Service) Approve(ctx context.Context, initData string) (t storage.Transfer, err error) {
	defer func() {
		outcome := "ok"
		if err != nil {
			outcome = string(apiError(err).Code) // the API's stable code
		}
		s.cfg.Metrics.Approval(outcome)
	}()
	t, err = s.transferFor(initData)
	if err != nil {
		return t, err
	}
	if err := openForApproval(t); err != nil {
		return t, err
	}
	w, err := s.walletByAddress(t.From)
	if err != nil {
		return t, err
	}
	if err := s.VaultKeyCheck(); err != nil {
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
	c, ok := s.chains[t.ChainID]
	err := fmt.Errorf("%w: chain %d is not served", ErrUnknownNetwork, t.ChainID)
	if ok {
		_, err = c.Broadcast(ctx, t.SignedTx)
	}
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

// errNoChange: the transfer is already in the state move was asked for.
var errNoChange = errors.New("transfer already in that state")

// move stores a state change and tells the listeners. An invalid or lost
// race (someone else moved it first) leaves t as stored.
func (s *Service) move(t storage.Transfer, to storage.State, reason string) storage.Transfer {
	nt, err := s.store.UpdateTransfer(t.ID, func(x *storage.Transfer) error {
		if x.State == to && x.Reason == reason {
			// Another path (or parent) stored this very change first:
			// storing it again would tell the listeners twice.
			return errNoChange
		}
		x.State, x.Reason, x.Updated = to, reason, s.now()
		if to == storage.StateConfirmed || to == storage.StateFailed {
			x.Block, x.FeePaid = t.Block, t.FeePaid
		}
		return nil
	})
	if to.Final() {
		s.pace.forget(t.ID)
	}
	if errors.Is(err, errNoChange) {
		if cur, err := s.store.Transfer(t.ID); err == nil {
			return cur
		}
		return t
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
