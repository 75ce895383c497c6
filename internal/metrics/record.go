package metrics

import (
	"time"

	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

// The known values of each label fed from outside the program's own
// constants. A value not listed is counted as "other": what a chat sends,
// what an enclave or a Bot API server answers, can never add a series.
var (
	// UpdateKinds are the kinds of Telegram update the bot tells apart.
	UpdateKinds = []string{"command", "message", "callback_query", Other}
	// BotMethods are the Bot API methods the bot calls.
	BotMethods = []string{"sendMessage", "sendPhoto", "editMessageText", "editMessageCaption",
		"answerCallbackQuery", "setMyCommands", "deleteMessage", "setWebhook", "deleteWebhook", "getWebhookInfo", Other}
	// DropReasons are why an update was given up (UpdateDropped).
	DropReasons = []string{"panic", "deadline", Other}
	// Workers are the background workers whose panics are recovered
	// (BackgroundPanic, internal/safego).
	Workers = []string{"card_queue", "card_editor", "wallet_refresh", "prune", "tracker", "alerts", Other}
	// EnclaveEndpoints are the enclave API's paths.
	EnclaveEndpoints = []string{protocol.PathHealth, protocol.PathWallets, protocol.PathApprove,
		protocol.PathStatement, protocol.PathAttestation, protocol.PathUnlock, Other}
	// ApprovalOutcomes are ok and the stable error codes an approval can end
	// with (protocol.Code).
	ApprovalOutcomes = append([]string{"ok"}, codeStrings(
		protocol.CodeMalformedRequest, protocol.CodeTooLarge, protocol.CodeMalformedInitData,
		protocol.CodeBadSignature, protocol.CodeStaleAuth, protocol.CodeMalformedIntent,
		protocol.CodeIntentExpired, protocol.CodeMalformedRecord, protocol.CodeRecordTampered,
		protocol.CodeWrongOwner, protocol.CodeWrongWallet, protocol.CodeBadWalletProof,
		protocol.CodeChainNotAllowed, protocol.CodeTokenNotAllowed, protocol.CodeVaultLocked,
		protocol.CodeInternal, protocol.CodeUnknownTransfer, protocol.CodeAlreadyApproved,
		protocol.CodeTransferClosed, protocol.CodeEnclaveUnavailable, protocol.CodeUnsupportedMediaType,
	)...)
)

func codeStrings(cs ...protocol.Code) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func known(list []string, v string) string {
	for _, k := range list {
		if k == v {
			return v
		}
	}
	return Other
}

// UpdateReceived counts one Telegram update of kind (UpdateKinds).
func (m *Metrics) UpdateReceived(kind string) {
	if m == nil {
		return
	}
	m.updates.WithLabelValues(known(UpdateKinds, kind)).Inc()
}

// UpdateDropped counts one update given up, by reason (DropReasons).
func (m *Metrics) UpdateDropped(reason string) {
	if m == nil {
		return
	}
	m.dropped.WithLabelValues(known(DropReasons, reason)).Inc()
}

// BackgroundPanic counts one panic recovered in background work, by worker
// (Workers).
func (m *Metrics) BackgroundPanic(worker string) {
	if m == nil {
		return
	}
	m.bgPanics.WithLabelValues(known(Workers, worker)).Inc()
}

// WebhookReset counts one setWebhook made because the webhook was found
// changed or deleted.
func (m *Metrics) WebhookReset() {
	if m == nil {
		return
	}
	m.hookResets.WithLabelValues().Inc()
}

// BotCall counts one Bot API call of method: a reply when it succeeded, an
// error when not, and a 429 when Telegram asked to slow down.
func (m *Metrics) BotCall(method string, err error, tooMany bool) {
	if m == nil {
		return
	}
	method = known(BotMethods, method)
	switch {
	case err == nil:
		m.replies.WithLabelValues(method).Inc()
	default:
		m.botErrors.WithLabelValues(method).Inc()
		if tooMany {
			m.bot429.WithLabelValues(method).Inc()
		}
	}
}

// Approval counts one approval's outcome: "ok" or its error code.
func (m *Metrics) Approval(outcome string) {
	if m == nil {
		return
	}
	m.approvals.WithLabelValues(known(ApprovalOutcomes, outcome)).Inc()
}

// EnclaveCall times one call to the enclave at endpoint; failed is a call
// that did not reach the enclave or got its internal error (a refusal is an
// answer, not a failure).
func (m *Metrics) EnclaveCall(endpoint string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	endpoint = known(EnclaveEndpoints, endpoint)
	m.enclaveTime.WithLabelValues(endpoint).Observe(d.Seconds())
	if failed {
		m.enclaveErrs.WithLabelValues(endpoint).Inc()
	}
}

// RPCCall times one JSON-RPC call to network's node. method is one of the
// program's own method names (constants in parent/chain.go and
// parent/watch), never a caller's input.
func (m *Metrics) RPCCall(network, method string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	network = m.network(network)
	m.rpcTime.WithLabelValues(network, method).Observe(d.Seconds())
	if failed {
		m.rpcErrs.WithLabelValues(network, method).Inc()
	}
}

// Transition counts a transfer reaching state to (created: built).
func (m *Metrics) Transition(to storage.State) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(stateLabel(to)).Inc()
}

// WatcherLag sets how many blocks network's watcher is behind the head.
func (m *Metrics) WatcherLag(network string, head, cursor uint64) {
	if m == nil {
		return
	}
	lag := float64(0)
	if head > cursor {
		lag = float64(head - cursor)
	}
	m.watcherLag.WithLabelValues(m.network(network)).Set(lag)
}

// StoreOp times one storage.Store method.
func (m *Metrics) StoreOp(op string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.storeTime.WithLabelValues(op).Observe(d.Seconds())
	if failed {
		m.storeErrs.WithLabelValues(op).Inc()
	}
}

// States are the transfer states, the values of the state and to labels.
var States = []storage.State{storage.StateBuilt, storage.StateApproved, storage.StateSent,
	storage.StateConfirmed, storage.StateFailed, storage.StateCancelled, storage.StateExpired,
	storage.StateReplaced, storage.StateSuperseded}

func stateLabel(s storage.State) string {
	for _, k := range States {
		if k == s {
			return s.String()
		}
	}
	return Other
}

// WalletRowTampered counts one wallet row refused because it disagrees with
// its sealed record (storage.ErrWalletTampered).
func (m *Metrics) WalletRowTampered() {
	if m == nil {
		return
	}
	m.walletRows.WithLabelValues().Inc()
}

// LeaseHeld says whether this parent holds the named lease. The names are
// the program's own ("cards", "alerts", "tracker/<chain id>", "watch/<chain
// id>" of a configured network), never anything a chat or the store sends.
func (m *Metrics) LeaseHeld(name string, held bool) {
	if m == nil {
		return
	}
	v := 0.0
	if held {
		v = 1
	}
	m.leaseHeld.WithLabelValues(name).Set(v)
}

// SendSlotCorrupt counts one send-slot wait refused as corrupt.
func (m *Metrics) SendSlotCorrupt() {
	if m == nil {
		return
	}
	m.slotCorrupt.WithLabelValues().Inc()
}
