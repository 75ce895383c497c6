package parent

// Signed means not failed: the rules for nonces, broadcasts and the end of a
// signed transfer (docs/storage.md, "Nonce rules"; docs/api.md).
//
//   - A signed transfer (approved, sent) keeps its nonce until a transaction
//     at that nonce from its wallet is mined. Whatever a node says about a
//     broadcast (refused, dropped, down) leaves it open with a reason, and
//     the tracker broadcasts it again at a bounded pace.
//   - It ends only from the chain: its own receipt (confirmed, or failed when
//     it reverted) or another transaction at its nonce mined `Confirmations`
//     blocks deep (replaced).
//   - A build takes nonce max(chain's latest nonce, highest signed open
//     nonce + 1), and at most one unapproved ordinary transfer per wallet
//     exists: a new build supersedes it. So every nonce between the chain's
//     and a signed transfer's is held by a signed transfer: no gaps.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// ErrNotReplaceable: Replace was asked for a transfer that is not signed and
// open (not yet approved, or already final), or is another user's.
var ErrNotReplaceable = errors.New("this transfer cannot be replaced")

// Reasons stored on a transfer, shown by the bot. The sentences are the
// parent's own: a node's message is never shown as is.
const (
	reasonSuperseded = "replaced by your newer request; this link no longer works"
	reasonReverted   = "the transaction was included but reverted; the network fee was paid"
	// reasonTokenNotMoved: mined with status 1, but the token contract
	// logged no Transfer of exactly this amount from the wallet to the
	// recipient.
	reasonTokenNotMoved = "the token contract accepted the transaction but reported no transfer of these tokens; the network fee was paid"
)

// notAccepted says in plain words why a node did not take a signed
// transaction. None of these ends the transfer: it may still be mined.
func notAccepted(err error) string {
	switch {
	case errors.Is(err, ErrNodeUnavailable):
		return "the network node is not reachable"
	case errors.Is(err, ErrInsufficientFunds):
		return "the wallet does not have enough ETH for the amount and the network fee"
	case errors.Is(err, ErrReplacementUnderpriced):
		return "another transaction of your wallet with a higher fee is waiting in its place"
	case errors.Is(err, ErrFeeTooLow):
		return "its network fee is below what the network asks right now"
	case errors.Is(err, ErrNonceTooHigh):
		return "an earlier transfer of your wallet has to go through first"
	case errors.Is(err, ErrNonceTooLow):
		return "the network says its place in line is taken; checking the chain"
	default:
		return "the network node refused it"
	}
}

// pacer spaces out the rebroadcasts of each signed transfer: after a
// refusal the wait doubles from base up to max; a success resets it. It is
// in memory: after a restart every transfer is tried once at once.
type pacer struct {
	mu        sync.Mutex
	base, max time.Duration
	m         map[string]*paceEntry
}

type paceEntry struct {
	next      time.Time
	wait      time.Duration
	announced bool // the "long pending" card edit was made
}

func (p *pacer) entry(id string) *paceEntry {
	if p.m == nil {
		p.m = map[string]*paceEntry{}
	}
	e := p.m[id]
	if e == nil {
		e = &paceEntry{}
		p.m[id] = e
	}
	return e
}

func (p *pacer) due(id string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !now.Before(p.entry(id).next)
}

func (p *pacer) refused(id string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entry(id)
	e.wait = min(max(2*e.wait, p.base), p.max)
	e.next = now.Add(e.wait)
}

func (p *pacer) accepted(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.m[id]; e != nil {
		e.wait, e.next = 0, time.Time{}
	}
}

// announce reports true once per transfer.
func (p *pacer) announce(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entry(id)
	first := !e.announced
	e.announced = true
	return first
}

func (p *pacer) forget(id string) {
	p.mu.Lock()
	delete(p.m, id)
	p.mu.Unlock()
}

// buildPlan is what a build takes from the wallet's state: the nonce, the
// fees, and for a replacement the transfer it replaces.
type buildPlan struct {
	to           common.Address
	amount       *big.Int
	nonce        uint64
	maxFee, tip  *big.Int
	kind         storage.Kind
	replaces     string
	maxSignedNow int64 // highest signed open nonce seen (-1: none), checked again when storing
}

// planBuild decides the nonce (and for a replacement the fees) of a build.
func (s *Service) planBuild(ctx context.Context, c *Chain, chainID uint64, w storage.Wallet, req BuildRequest, maxFee, tip *big.Int) (buildPlan, error) {
	if req.Replace != "" {
		return s.planReplacement(w, req, maxFee, tip)
	}
	latest, err := c.LatestNonce(ctx, w.Address)
	if err != nil {
		return buildPlan{}, err
	}
	holders, err := s.store.NonceHolders(chainID, w.Address)
	if err != nil {
		return buildPlan{}, err
	}
	p := buildPlan{to: req.To, amount: new(big.Int).Set(req.Amount), maxFee: maxFee, tip: tip, maxSignedNow: maxSigned(holders)}
	// Nonces below the chain's latest are used; a signed transfer's nonce
	// stays taken until it is mined. A built (unsigned) transfer's nonce is
	// not counted: this build supersedes it and takes that place.
	p.nonce = max(latest, uint64(p.maxSignedNow+1))
	return p, nil
}

func maxSigned(holders []storage.Transfer) int64 {
	m := int64(-1)
	for _, h := range holders {
		if h.State.Signed() {
			m = max(m, int64(h.Nonce))
		}
	}
	return m
}

// planReplacement: zero to the wallet itself at the original's nonce, with
// both fee caps at least 10% (rounded up) over every signed open transaction
// at that nonce, the node's replacement rule, and at least the current fees.
func (s *Service) planReplacement(w storage.Wallet, req BuildRequest, maxFee, tip *big.Int) (buildPlan, error) {
	orig, err := s.store.Transfer(req.Replace)
	if errors.Is(err, storage.ErrNotFound) {
		return buildPlan{}, ErrUnknownTransfer
	}
	if err != nil {
		return buildPlan{}, err
	}
	if orig.Kind == storage.KindReplacement { // replace the replacement: the same place in line
		if orig, err = s.store.Transfer(orig.Replaces); err != nil {
			return buildPlan{}, err
		}
	}
	if orig.Owner != req.Owner || orig.From != w.Address || !orig.State.Signed() {
		return buildPlan{}, fmt.Errorf("%w: it is %s", ErrNotReplaceable, orig.State)
	}
	siblings, err := s.signedAt(orig.ChainID, orig.From, orig.Nonce)
	if err != nil {
		return buildPlan{}, err
	}
	p := buildPlan{to: w.Address, amount: new(big.Int), nonce: orig.Nonce, kind: storage.KindReplacement, replaces: orig.ID,
		maxFee: new(big.Int).Set(maxFee), tip: new(big.Int).Set(tip), maxSignedNow: -1}
	for _, sib := range siblings {
		var in protocol.Intent
		if err := in.UnmarshalBinary(sib.Intent); err != nil {
			return buildPlan{}, fmt.Errorf("stored intent of transfer %s: %w", sib.ID, err)
		}
		p.maxFee = maxBig(p.maxFee, bump10(in.MaxFeePerGas))
		p.tip = maxBig(p.tip, bump10(in.MaxPriorityFeePerGas))
	}
	return p, nil
}

// bump10 is ceil(v * 110 / 100).
func bump10(v *big.Int) *big.Int {
	n := new(big.Int).Mul(v, big.NewInt(110))
	n.Add(n, big.NewInt(99))
	return n.Div(n, big.NewInt(100))
}

func maxBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return a
	}
	return new(big.Int).Set(b)
}

// signedAt lists the signed open transfers at one nonce of a wallet on one
// chain: the original and its signed replacements.
func (s *Service) signedAt(chainID uint64, from common.Address, nonce uint64) ([]storage.Transfer, error) {
	open, err := s.store.TransfersInState(storage.StateApproved, storage.StateSent)
	if err != nil {
		return nil, err
	}
	var out []storage.Transfer
	for _, t := range open {
		if t.ChainID == chainID && t.From == from && t.Nonce == nonce {
			out = append(out, t)
		}
	}
	return out, nil
}

// createBuilt stores a new built transfer and, in the same write
// transaction, supersedes the unapproved one it takes the place of: for an
// ordinary transfer, the wallet's built ordinary transfer; for a
// replacement, a built replacement of the same transfer. An approval that
// raced in between (a signed transfer now holding the nonce) makes the build
// fail with storage.ErrNonceInUse and nothing is stored.
func (s *Service) createBuilt(t storage.Transfer, p buildPlan) (storage.Transfer, []storage.Transfer, error) {
	var created storage.Transfer
	var superseded []storage.Transfer
	supersede := func(tx storage.Tx, id string) error {
		old, err := tx.UpdateTransfer(id, func(o *storage.Transfer) error {
			o.State, o.Reason, o.Updated = storage.StateSuperseded, reasonSuperseded, s.now()
			return nil
		})
		superseded = append(superseded, old)
		return err
	}
	err := s.store.Update(func(tx storage.Tx) error {
		superseded = nil
		// The same request twice within a second gives the same intent, so
		// the same id: it is the same transfer, still awaiting approval.
		if same, err := tx.Transfer(t.ID); err == nil && same.State == storage.StateBuilt && same.Owner == t.Owner {
			created = same
			return nil
		}
		if t.Kind == storage.KindReplacement {
			built, err := tx.TransfersInState(storage.StateBuilt)
			if err != nil {
				return err
			}
			for _, b := range built {
				if b.Kind == storage.KindReplacement && b.Replaces == t.Replaces {
					if err := supersede(tx, b.ID); err != nil {
						return err
					}
				}
			}
		} else {
			holders, err := tx.NonceHolders(t.ChainID, t.From)
			if err != nil {
				return err
			}
			if maxSigned(holders) != p.maxSignedNow {
				return fmt.Errorf("%w: an approval changed the wallet's nonces while building; try again", storage.ErrNonceInUse)
			}
			for _, h := range holders {
				if h.State == storage.StateBuilt {
					if err := supersede(tx, h.ID); err != nil {
						return err
					}
				}
			}
		}
		var err error
		created, err = tx.CreateTransfer(t)
		return err
	})
	if err != nil {
		return storage.Transfer{}, nil, err
	}
	return created, superseded, nil
}

// settleSigned looks at a signed open transfer on the chain once and moves
// it: mined (confirmed or failed), replaced, accepted by the node (sent), or
// not known to the node (broadcast again when its pace allows).
func (s *Service) settleSigned(ctx context.Context, t storage.Transfer) {
	c, ok := s.chains[t.ChainID]
	if !ok {
		// A network dropped from the configuration: its transfers wait,
		// untouched, until it is served again.
		if s.pace.announce(t.ID) {
			s.log.Warn("tracker: transfer on a network that is not served", "transfer", t.ID, "chain_id", t.ChainID)
		}
		return
	}
	n, _ := s.nets.ByChainID(t.ChainID)
	status, r, err := c.TxState(ctx, t.TxHash, t.From, t.Nonce)
	if err != nil {
		if !errors.Is(err, ErrNodeUnavailable) {
			s.log.Warn("tracker: transaction state", "transfer", t.ID, "err", err)
		}
		if t.State == storage.StateApproved && s.pace.due(t.ID, s.now()) {
			s.rebroadcast(ctx, t)
		}
		return
	}
	switch status {
	case TxMined:
		// Final only at the confirmation depth, in a block still on the
		// canonical chain, whether it succeeded or reverted: a reverted
		// transaction whose block is reorganised away can be mined again
		// (and succeed), so "failed" waits as long as "confirmed" does.
		confs, err := c.Confirmations(ctx, r)
		if err != nil || confs < n.Confirmations {
			return
		}
		t.Block, t.FeePaid = r.BlockNumber, r.Fee()
		if n.L1DataFee && t.FeePaid != nil {
			// The receipt's l1Fee (OP Stack): part of what was paid.
			if l1, err := c.ReceiptL1Fee(ctx, t.TxHash); err == nil && l1 != nil {
				t.FeePaid.Add(t.FeePaid, l1)
			}
		}
		if !r.Succeeded() {
			s.move(t, storage.StateFailed, reasonReverted)
			return
		}
		if !tokenMoved(t, r.Logs) {
			// A token contract may answer success without moving anything
			// (one that returns false instead of reverting): the receipt's
			// status alone would call that "confirmed".
			s.move(t, storage.StateFailed, reasonTokenNotMoved)
			return
		}
		s.move(t, storage.StateConfirmed, "")
	case TxReplaced:
		s.settleReplaced(ctx, c, n, t)
	case TxPending:
		if t.State == storage.StateApproved {
			s.pace.accepted(t.ID)
			s.move(t, storage.StateSent, "")
			return
		}
		if s.Stuck(t) && s.pace.announce(t.ID) {
			s.changed(t) // the card now offers Replace
		}
	case TxUnknown:
		// Not in the node's pool and its nonce not used: send the same
		// signed bytes again (they cannot pay twice), at the pace.
		if s.pace.due(t.ID, s.now()) {
			s.rebroadcast(ctx, t)
		}
	}
}

func (s *Service) rebroadcast(ctx context.Context, t storage.Transfer) {
	// Fenced: only the holder of the network's tracker lease rebroadcasts
	// (a second broadcast of the same signed transaction would be harmless
	// on the chain, but it is work done twice).
	if err := lease.Check(ctx); err != nil {
		return
	}
	bctx, cancel := context.WithTimeout(ctx, s.cfg.PollInterval+5*time.Second)
	defer cancel()
	s.broadcast(bctx, t)
}

// settleReplaced ends a transfer whose nonce another transaction used, once
// that is Confirmations blocks deep (a shallow claim could be reorganised
// away, and the transfer mined after all).
func (s *Service) settleReplaced(ctx context.Context, c *Chain, n *networks.Network, t storage.Transfer) {
	used, err := c.NonceAtDepth(ctx, t.From, n.Confirmations)
	if err != nil || used <= t.Nonce {
		return
	}
	reason := fmt.Sprintf("another transaction of your wallet was included in its place (nonce %d); this one was not paid", t.Nonce)
	if list, err := s.store.TransfersByOwner(t.Owner, 50, 0); err == nil {
	siblings:
		for _, o := range list {
			if o.ID == t.ID || o.ChainID != t.ChainID || o.From != t.From || o.Nonce != t.Nonce || len(o.SignedTx) == 0 {
				continue
			}
			if _, err := c.Receipt(ctx, o.TxHash); err != nil {
				continue
			}
			switch {
			case t.Kind == storage.KindTransfer:
				reason = "your replacement was included first; this transfer was not paid"
			case o.Kind == storage.KindTransfer:
				reason = "your transfer was included first, so this replacement was not needed"
			default:
				reason = "another replacement was included first"
			}
			break siblings
		}
	}
	s.move(t, storage.StateReplaced, reason)
}

// Stuck reports whether a sent transfer has waited so long in the network's
// pool that its card offers Replace.
func (s *Service) Stuck(t storage.Transfer) bool {
	return t.State == storage.StateSent && s.now().Sub(t.Updated) >= s.cfg.StuckAfter
}

// Queue returns the wallet's signed open transfers holding a nonce on one
// network, by ascending nonce: what the network must include, in this
// order.
func (s *Service) Queue(chainID uint64, from common.Address) ([]storage.Transfer, error) {
	holders, err := s.store.NonceHolders(chainID, from)
	if err != nil {
		return nil, err
	}
	out := holders[:0]
	for _, h := range holders {
		if h.State.Signed() {
			out = append(out, h)
		}
	}
	return out, nil
}

// WaitingFor returns the earliest signed open transfer of t's wallet on t's
// network with a lower nonce: t cannot be included before it.
func (s *Service) WaitingFor(t storage.Transfer) (storage.Transfer, bool) {
	if !t.State.Signed() {
		return storage.Transfer{}, false
	}
	q, err := s.Queue(t.ChainID, t.From)
	if err != nil || len(q) == 0 || q[0].Nonce >= t.Nonce {
		return storage.Transfer{}, false
	}
	return q[0], true
}
