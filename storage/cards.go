package storage

// Chat cards across parents (issue 11): a transfer's state may move on any
// parent (an approval through the Mini App API on one, the tracker on
// another), and its card must be edited once whichever did it. So every
// state change of a transfer that has a card queues a card edit in the same
// transaction (tx.UpdateTransfer does it, whatever path moved it), and the
// parent holding the "cards" lease edits from the queue. The user's last
// wallet card (chat and message id) is stored too, so any parent can
// refresh it.

import (
	"github.com/autowallet/autowallet/storage/internal/codec"
)

const (
	cardEditV1   byte = 1
	walletCardV1 byte = 1
)

// CardEdit is one queued edit of a transfer's card: the transfer moved to
// State (the card shows the state as stored when it is edited; State says
// which change queued it, for the refreshes it implies).
type CardEdit struct {
	Seq        uint64
	TransferID string
	State      State
}

// Card is a chat message the bot edits later: the user's wallet card.
type Card struct {
	ChatID    int64
	MessageID int
}

// CardEditDue says whether a change from old to t queues a card edit (the
// rule of both engines): the state or its reason changed and the card
// exists, or the card's id was stored after the state had already left
// built (a quick Cancel before the card was known). A card sent in state
// built shows that state already.
func CardEditDue(old, t *Transfer) bool {
	if t.MessageID == 0 || t.ChatID == 0 {
		return false
	}
	if t.State != old.State || t.Reason != old.Reason {
		return true
	}
	return old.MessageID == 0 && t.State != StateBuilt
}

// The encodings of this file's records (also the canonical items of
// `autowallet migrate`, items.go).

func encodeCardEdit(transferID string, state State) []byte {
	e := codec.Encoder{B: make([]byte, 0, 2+len(transferID)+2)}
	e.Byte(cardEditV1)
	e.Byte(byte(state))
	e.String(transferID)
	return e.B
}

func decodeCardEdit(seq uint64, v []byte) (CardEdit, error) {
	d := codec.Decoder{B: v, What: "card edit"}
	d.Version(cardEditV1)
	ce := CardEdit{Seq: seq, State: State(d.Byte("state")), TransferID: d.String("transfer")}
	return ce, d.Finish()
}

func encodeWalletCard(c Card) []byte {
	e := codec.Encoder{B: make([]byte, 0, 24)}
	e.Byte(walletCardV1)
	e.Varint(c.ChatID)
	e.Uvarint(uint64(c.MessageID))
	return e.B
}

func decodeWalletCard(v []byte) (Card, error) {
	d := codec.Decoder{B: v, What: "wallet card"}
	d.Version(walletCardV1)
	c := Card{ChatID: d.Varint("chat"), MessageID: int(d.Uvarint("message"))}
	return c, d.Finish()
}
