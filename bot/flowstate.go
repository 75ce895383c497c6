package bot

// The guided send's state in the store (issue 11). With several parents a
// chat's next answer may reach any of them, so the half-finished /send
// (recipient chosen, waiting for the amount, ...) is kept in the store,
// one per chat, with the store's expiry (flowTTL on the engine's clock)
// and a version: every write names the version its handler read, so two
// parents handling two answers of one chat at once cannot both take the
// same step (storage.ErrFlowChanged for the second; docs/bot.md).
//
// The bytes are read back from a database another party may write
// (anyone with the database's password): the encoding is versioned and
// decoded strictly (every field checked, no trailing bytes, the asset
// looked up among those served now). A flow that does not decode is
// dropped with a clear log line, never half read: the user starts again.
// Money never rests on it: a send ends in a transfer card whose Mini App
// shows the intent the enclave signs.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/safego"
	"github.com/autowallet/autowallet/storage"
)

// flowV1 is the first byte of a stored flow.
const flowV1 byte = 1

// maxFlowText bounds each text field of a stored flow (what the user typed
// for an amount, a coin or a network; /send's message is at most 4096).
const maxFlowText = 256

const (
	flowHasTo    byte = 1 << 0
	flowHasAsset byte = 1 << 1
	flowAllFlags      = flowHasTo | flowHasAsset
)

// errBadFlow: stored flow bytes that this program does not read.
var errBadFlow = errors.New("stored flow is not readable")

// encodeFlow writes fl: version, user (uvarint), flags, [to (20)],
// [chain id (uvarint), token (20)], then toText, symbol, netName and
// amount (uvarint length + UTF-8 bytes each).
func encodeFlow(fl *flow) []byte {
	b := []byte{flowV1}
	b = binary.AppendUvarint(b, uint64(fl.user))
	var flags byte
	if fl.to != nil {
		flags |= flowHasTo
	}
	if fl.asset != nil {
		flags |= flowHasAsset
	}
	b = append(b, flags)
	if fl.to != nil {
		b = append(b, fl.to[:]...)
	}
	if fl.asset != nil {
		b = binary.AppendUvarint(b, fl.asset.net.ChainID)
		b = append(b, fl.asset.token.Address[:]...)
	}
	for _, s := range []string{fl.toText, fl.symbol, fl.netName, fl.amount} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// flowReader reads a stored flow strictly; the first error sticks.
type flowReader struct {
	b   []byte
	err error
}

func (r *flowReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errBadFlow, fmt.Sprintf(format, args...))
	}
}

func (r *flowReader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("truncated at %s", field)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *flowReader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	// Canonical only: one spelling per value.
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		r.fail("bad number at %s", field)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *flowReader) text(field string) string {
	n := r.uvarint(field)
	if r.err == nil && n > maxFlowText {
		r.fail("%s is %d bytes, at most %d", field, n, maxFlowText)
		return ""
	}
	s := string(r.take(int(n), field))
	if r.err == nil && !utf8.ValidString(s) {
		r.fail("%s is not UTF-8", field)
	}
	return s
}

// decodeFlow reads a stored flow against the assets served now.
func decodeFlow(data []byte, assets []asset) (*flow, error) {
	r := &flowReader{b: data}
	if v := r.take(1, "version"); r.err == nil && v[0] != flowV1 {
		return nil, fmt.Errorf("%w: format version %d (this program reads %d)", errBadFlow, v[0], flowV1)
	}
	fl := &flow{}
	user := r.uvarint("user")
	if r.err == nil && (user == 0 || user > 1<<62) {
		r.fail("user %d", user)
	}
	fl.user = int64(user)
	flags := r.take(1, "flags")
	if r.err == nil && flags[0]&^flowAllFlags != 0 {
		r.fail("unknown flags %#x", flags[0])
	}
	if r.err == nil && flags[0]&flowHasTo != 0 {
		to := common.BytesToAddress(r.take(20, "to"))
		fl.to = &to
	}
	if r.err == nil && flags[0]&flowHasAsset != 0 {
		chain := r.uvarint("chain id")
		token := common.BytesToAddress(r.take(20, "token"))
		if r.err == nil {
			for i := range assets {
				if assets[i].net.ChainID == chain && assets[i].token.Address == token {
					a := assets[i]
					fl.asset = &a
					break
				}
			}
			if fl.asset == nil {
				r.fail("coin %s on chain %d is not served now", token.Hex(), chain)
			}
		}
	}
	fl.toText, fl.symbol, fl.netName, fl.amount = r.text("recipient text"), r.text("symbol"), r.text("network"), r.text("amount")
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return fl, nil
}

// errFlowLost: this handler's step of the flow was taken by another (two
// answers of one chat at once, on two parents or one) or the flow ended.
var errFlowLost = errors.New("the send moved on without this answer")

// errFlowTooLong: what the user typed does not fit a stored flow (no
// amount, coin or network is that long; it is refused, never cut short).
var errFlowTooLong = errors.New("too long to keep")

// flowStore is the part of the store the flows use.
type flowStore interface {
	Flow(chatID int64) (storage.Flow, error)
	PutFlow(chatID int64, expect uint64, data []byte, ttl time.Duration) (storage.Flow, error)
	DeleteFlow(chatID int64, expect uint64) (bool, error)
	PruneFlows() (int, error)
}

// flowPruneEvery: how often a parent deletes the expired flows of chats
// that never came back (each parent, at most once an hour, on a save).
const flowPruneEvery = time.Hour

// flows is the bot's access to the stored flows.
type flows struct {
	lastPrune atomic.Int64 // unix seconds of the last prune started here
	// afterRead, in tests, runs after a handler read a chat's flow and
	// before it writes: two handlers can be held there together.
	afterRead func()
}

func (b *Bot) flowStore() flowStore { return b.svc.Store() }

func (b *Bot) flowTTL() time.Duration {
	if b.cfg.FlowTTL > 0 {
		return b.cfg.FlowTTL
	}
	return flowTTL
}

// loadFlow is the chat's send in progress for user, or nil: none, expired,
// another user's (a group), or unreadable (dropped). An error: the store
// could not be read.
func (b *Bot) loadFlow(chatID, user int64) (*flow, error) {
	defer func() {
		if f := b.flows.afterRead; f != nil {
			f()
		}
	}()
	sf, err := b.flowStore().Flow(chatID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil && !errors.Is(err, storage.ErrCorrupt) {
		b.log.Warn("reading a chat's send in progress", "chat", chatID, "err", err)
		return nil, err
	}
	var fl *flow
	if err == nil {
		fl, err = decodeFlow(sf.Data, b.assets())
	}
	if err != nil {
		// Never misread: drop it; the user starts the send again.
		b.log.Warn("dropping a chat's unreadable send in progress", "chat", chatID, "err", err)
		if _, err := b.flowStore().DeleteFlow(chatID, sf.Version); err != nil && !errors.Is(err, storage.ErrFlowChanged) {
			b.log.Warn("dropping a chat's send in progress", "chat", chatID, "err", err)
		}
		return nil, nil
	}
	if fl.user != user {
		return nil, nil
	}
	fl.version = sf.Version
	return fl, nil
}

// flowUnreadable is said when the store could not be read.
const flowUnreadable = "⚠️ I could not read the send you were setting up right now. Nothing was sent. Try again in a moment."

// currentFlowVersion is the version a new send of the chat replaces (0:
// none): a new /send takes the place of the one in progress.
// An error is the store's (the caller may leave the update to the
// redelivery); the version is then 0.
func (b *Bot) currentFlowVersion(chatID int64) (uint64, error) {
	sf, err := b.flowStore().Flow(chatID)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return 0, nil
		}
		if errors.Is(err, storage.ErrCorrupt) {
			_, _ = b.flowStore().DeleteFlow(chatID, 0)
			return 0, nil
		}
		b.log.Warn("reading a chat's send in progress", "chat", chatID, "err", err)
		return 0, err
	}
	return sf.Version, nil
}

// saveFlow stores fl as the chat's flow over the version it was read at
// and takes the new version. errFlowLost when that version is gone.
func (b *Bot) saveFlow(chatID int64, fl *flow) error {
	for _, s := range []string{fl.toText, fl.symbol, fl.netName, fl.amount} {
		if len(s) > maxFlowText || !utf8.ValidString(s) {
			return errFlowTooLong
		}
	}
	sf, err := b.flowStore().PutFlow(chatID, fl.version, encodeFlow(fl), b.flowTTL())
	if errors.Is(err, storage.ErrFlowChanged) {
		return errFlowLost
	}
	if err != nil {
		return err
	}
	fl.version = sf.Version
	if now := time.Now().Unix(); now-b.flows.lastPrune.Load() >= int64(flowPruneEvery/time.Second) {
		if b.flows.lastPrune.Swap(now) != now {
			go b.pruneFlows()
		}
	}
	return nil
}

// endFlow removes fl from the store (the send is done or over), if it is
// still at the version read; a flow never stored has nothing to remove.
func (b *Bot) endFlow(chatID int64, fl *flow) error {
	if fl.version == 0 {
		return nil
	}
	_, err := b.flowStore().DeleteFlow(chatID, fl.version)
	if errors.Is(err, storage.ErrFlowChanged) {
		return errFlowLost
	}
	if err != nil {
		return err
	}
	fl.version = 0
	return nil
}

// endAnyFlow ends the chat's send in progress, whatever its version
// (/cancel, the Cancel button); true when there was one. An error is the
// store's.
func (b *Bot) endAnyFlow(chatID int64) (bool, error) {
	ended, err := b.flowStore().DeleteFlow(chatID, 0)
	if err != nil {
		b.log.Warn("ending a chat's send in progress", "chat", chatID, "err", err)
	}
	return ended, err
}

// flowEndedKey marks the context of a last step whose handler has removed
// the chat's flow from the store (endFlow before Build): a question asked
// again after a refusal stores a new flow, and if that save fails the user
// is told, not left to a redelivery that would find nothing.
type flowEndedKey struct{}

// flowFailed words a failed save or end of a flow: another answer took the
// step, or the store failed.
func (b *Bot) flowFailed(ctx context.Context, chatID int64, err error) {
	if errors.Is(err, errFlowLost) {
		b.say(ctx, chatID, "That answer came while I was still handling your previous one, so I did not use it. "+
			"Answer my latest question, or /cancel.")
		return
	}
	if errors.Is(err, errFlowTooLong) {
		b.say(ctx, chatID, "⚠️ That is too long for an amount, a coin or a network. Nothing was sent. Start again with /send.")
		return
	}
	b.log.Warn("storing a chat's send in progress", "chat", chatID, "err", err)
	// The store away: the flow was not written (or, if the connection
	// broke during the commit, perhaps was), and nothing was said: the
	// redelivery takes the step again from the stored flow. Not after the
	// last step removed the flow (flowEnded): the redelivery would find no
	// send in progress and the user's send would end without a word.
	if ctx.Value(flowEndedKey{}) == nil && leaveToRetry(ctx, err) {
		return
	}
	b.say(ctx, chatID, "⚠️ I could not keep track of this send right now. Nothing was sent. Try /send again in a moment.")
}

func (b *Bot) pruneFlows() {
	safego.Call(b.log, b.cfg.Metrics, "prune", b.pruneFlowsOnce)
}

func (b *Bot) pruneFlowsOnce() {
	if n, err := b.flowStore().PruneFlows(); err != nil {
		b.log.Warn("pruning expired sends in progress", "err", err)
	} else if n > 0 {
		b.log.Info("pruned expired sends in progress", "count", n)
	}
}
