package storage

// Chat flows (issue 11): the conversation state the bot keeps between two
// updates of one chat (a guided /send waiting for its recipient or amount).
// With several parents the next answer of a chat may reach any of them, so
// the state lives in the store, not in one parent's memory. Each flow has
// an expiry on the engine's clock and a version; a write names the version
// it read, so two parents handling two answers of one chat at once cannot
// both take the same step (compare-and-set). The data is opaque here: the
// bot encodes and strictly decodes it (bot/flowstate.go).

import (
	"errors"
	"fmt"
	"time"
)

// MaxFlowBytes bounds a flow's data (the bot's encoding is far smaller).
const MaxFlowBytes = 4096

// ErrFlowChanged: the chat's flow is not at the version the caller read
// (another parent wrote it, deleted it, or it expired). Nothing was written.
var ErrFlowChanged = errors.New("the chat's flow changed since it was read")

// Flow is one chat's conversation state.
type Flow struct {
	ChatID int64
	// Version is unique among every flow ever written to the store (it
	// grows with each write), so a version read once never comes back:
	// a flow deleted and started again has a new one.
	Version uint64
	Data    []byte
	// Expires is when the flow stops being answered, on the engine's clock.
	Expires time.Time
}

// CheckFlow checks the arguments of PutFlow.
func CheckFlow(chatID int64, data []byte, ttl time.Duration) error {
	if chatID == 0 {
		return fmt.Errorf("storage: %w: flow of chat 0", ErrInvalid)
	}
	if len(data) == 0 || len(data) > MaxFlowBytes {
		return fmt.Errorf("storage: %w: flow data must be 1..%d bytes, got %d", ErrInvalid, MaxFlowBytes, len(data))
	}
	return checkTTL(ttl)
}
