package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/common"
)

// Wallet statements (docs/protocol.md, "Wallet statement"): the enclave's
// deployment identity key (Ed25519, derived from the vault key) signs
// "address A belongs to Telegram user U". The chat is written by the host,
// so a user who sees an address there cannot trust it; the Mini App checks
// this signature with the key pinned in its own config instead.
const (
	// StatementContext starts every signed statement, so the identity key's
	// signature over it can never be read as anything else.
	StatementContext = "autowallet wallet statement v1"
	// StatementLength is the signed message: context, 0x00, owner, address.
	StatementLength = len(StatementContext) + 1 + 8 + common.AddressLength
	// WalletProofSize is the size of a proof: one Ed25519 signature.
	WalletProofSize = ed25519.SignatureSize
	// IdentityKeySize is the size of the identity public key.
	IdentityKeySize = ed25519.PublicKeySize
)

// ErrBadWalletProof: the wallet proof does not verify with the deployment
// identity key for this owner and address.
var ErrBadWalletProof = errors.New("wallet proof does not verify for this owner and address")

// StatementMessage is the 59-byte message the identity key signs for owner
// and addr. owner must be a Telegram user id (1..2^63-1) and addr not the
// zero address; otherwise the error wraps ErrMalformedRequest.
func StatementMessage(owner int64, addr common.Address) ([]byte, error) {
	if owner <= 0 {
		return nil, fmt.Errorf("%w: owner must be a positive Telegram user id", ErrMalformedRequest)
	}
	if addr == (common.Address{}) {
		return nil, fmt.Errorf("%w: address is the zero address", ErrMalformedRequest)
	}
	m := make([]byte, 0, StatementLength)
	m = append(m, StatementContext...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, uint64(owner))
	return append(m, addr[:]...), nil
}

// SignStatement makes the wallet proof for owner and addr with the identity
// key. Only the enclave holds that key.
func SignStatement(key ed25519.PrivateKey, owner int64, addr common.Address) ([]byte, error) {
	m, err := StatementMessage(owner, addr)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(key, m), nil
}

// VerifyStatement checks a wallet proof with the identity public key. Every
// failure, including a key or proof of the wrong size, wraps
// ErrBadWalletProof.
func VerifyStatement(pub ed25519.PublicKey, owner int64, addr common.Address, proof []byte) error {
	if len(pub) != IdentityKeySize {
		return fmt.Errorf("%w: identity key is %d bytes", ErrBadWalletProof, len(pub))
	}
	if len(proof) != WalletProofSize {
		return fmt.Errorf("%w: proof is %d bytes, want %d", ErrBadWalletProof, len(proof), WalletProofSize)
	}
	m, err := StatementMessage(owner, addr)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadWalletProof, err)
	}
	if !ed25519.Verify(pub, m, proof) {
		return fmt.Errorf("%w: owner %d, address %s", ErrBadWalletProof, owner, addr.Hex())
	}
	return nil
}

// Receive link: start_param kind 0x02 ("wallet"), version 0x01. It carries a
// statement to the Mini App's Receive view, which verifies it and needs no
// call to the host. The enclave never signs from it: /v1/approve refuses
// kind 0x02 as malformed_intent (DecodeStartParam knows only transfers).
const (
	KindWallet     byte = 0x02
	WalletLinkV1   byte = 0x01
	WalletLinkSize      = 2 + 8 + common.AddressLength + WalletProofSize // 94 bytes, 126 characters
)

// WalletLink is a decoded receive start_param: a statement and its proof.
// Decoding does not verify the proof (the page does, with its pinned key).
type WalletLink struct {
	Owner   int64
	Address common.Address
	Proof   []byte
}

// Verify checks the link's proof with the identity public key.
func (l *WalletLink) Verify(pub ed25519.PublicKey) error {
	return VerifyStatement(pub, l.Owner, l.Address, l.Proof)
}

// EncodeStartParam writes the link as a startapp parameter (126 characters
// of base64url). A link that would not decode is refused with
// ErrMalformedIntent.
func (l *WalletLink) EncodeStartParam() (string, error) {
	if l.Owner <= 0 {
		return "", malformed("wallet link owner must be a positive Telegram user id")
	}
	if l.Address == (common.Address{}) {
		return "", malformed("wallet link address is the zero address")
	}
	if len(l.Proof) != WalletProofSize {
		return "", malformed("wallet link proof is %d bytes, want %d", len(l.Proof), WalletProofSize)
	}
	b := make([]byte, 0, WalletLinkSize)
	b = append(b, KindWallet, WalletLinkV1)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Owner))
	b = append(b, l.Address[:]...)
	b = append(b, l.Proof...)
	return startParamEncoding.EncodeToString(b), nil
}

// DecodeWalletLink parses a receive start_param strictly, with the same
// text rules as intents: another length, kind or version, owner 0 or above
// 2^63-1, the zero address or non-canonical base64url are refused with
// errors wrapping ErrMalformedIntent.
func DecodeWalletLink(s string) (*WalletLink, error) {
	b, err := decodeStartParamBytes(s)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 {
		return nil, malformed("too short")
	}
	if b[0] != KindWallet {
		return nil, malformed("kind 0x%02x is not a wallet link", b[0])
	}
	if b[1] != WalletLinkV1 {
		return nil, malformed("unknown wallet link version %d", b[1])
	}
	if len(b) != WalletLinkSize {
		return nil, malformed("wallet link is %d bytes, want %d", len(b), WalletLinkSize)
	}
	owner := binary.BigEndian.Uint64(b[2:10])
	if owner == 0 || owner > math.MaxInt64 {
		return nil, malformed("wallet link owner is out of range")
	}
	l := &WalletLink{Owner: int64(owner), Proof: bytes.Clone(b[10+common.AddressLength:])}
	copy(l.Address[:], b[10:10+common.AddressLength])
	if l.Address == (common.Address{}) {
		return nil, malformed("wallet link address is the zero address")
	}
	return l, nil
}
