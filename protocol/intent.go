package protocol

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Intent kinds and versions. The first byte of an encoded intent says what kind
// of request it is, the second its version, so later kinds (ERC-20 transfers,
// other actions) can be added without ever being mistaken for a v1 transfer.
//
// Transfer version 1 is no longer produced nor accepted: version 2 is the
// same layout followed by the wallet proof (statement.go), so a host cannot
// show the user a transfer from a wallet the enclave never said is theirs.
const (
	KindTransfer     byte = 0x01
	TransferV1       byte = 0x01 // refused: intents carry a wallet proof since v2
	TransferV2       byte = 0x02
	MaxStartParam         = 512 // Telegram's limit for startapp / start_param
	maxUint64Bytes        = 8
	maxUint256Bytes       = 32
	transferV1MinLen      = 2 + 3*common.AddressLength + 7 + 3 // 72: seven length bytes, and chain id, gas limit, expiry are not 0
	transferV1MaxLen      = 2 + 3*common.AddressLength + 4*(1+maxUint64Bytes) + 3*(1+maxUint256Bytes)
	// TransferV2MinLen and TransferV2MaxLen bound a v2 intent: v1's 72..197
	// bytes plus the 64-byte wallet proof.
	TransferV2MinLen = transferV1MinLen + WalletProofSize
	TransferV2MaxLen = transferV1MaxLen + WalletProofSize
)

// ErrMalformedIntent is the reason for every refusal to decode an intent.
var ErrMalformedIntent = errors.New("malformed transfer intent")

// Intent is a transfer the user is asked to approve: exactly the fields of the
// EIP-1559 transaction the enclave will sign, plus an expiry.
type Intent struct {
	ChainID              uint64
	From                 common.Address
	To                   common.Address
	Token                common.Address // zero address: the chain's native coin; else an ERC-20 contract (token.go)
	Amount               *big.Int       // wei, or the token's smallest unit
	Nonce                uint64
	GasLimit             uint64
	MaxFeePerGas         *big.Int // wei
	MaxPriorityFeePerGas *big.Int // wei
	Expiry               uint64   // unix seconds
	// WalletProof is the enclave's statement proof (statement.go) that From
	// belongs to the wallet's owner: 64 bytes. The enclave checks it against
	// the approving user (docs/protocol.md, section 4); the page shows
	// "from: your wallet" only when it verifies.
	WalletProof []byte
}

// IsNative reports whether the intent moves the chain's native coin.
func (in *Intent) IsNative() bool { return in.Token == (common.Address{}) }

// Validate checks the rules every intent must meet, apart from the encoding.
// It returns an error wrapping ErrMalformedIntent.
func (in *Intent) Validate() error {
	switch {
	case in.ChainID == 0:
		return malformed("chain id is zero")
	case in.Amount == nil || in.MaxFeePerGas == nil || in.MaxPriorityFeePerGas == nil:
		return malformed("a number is missing")
	case in.Amount.Sign() < 0 || in.MaxFeePerGas.Sign() < 0 || in.MaxPriorityFeePerGas.Sign() < 0:
		return malformed("a number is negative")
	case in.Amount.BitLen() > 256 || in.MaxFeePerGas.BitLen() > 256 || in.MaxPriorityFeePerGas.BitLen() > 256:
		return malformed("a number does not fit in 256 bits")
	case in.To == (common.Address{}):
		return malformed("recipient is the zero address")
	case in.From == (common.Address{}):
		return malformed("sender is the zero address")
	case in.GasLimit == 0:
		return malformed("gas limit is zero")
	case in.MaxPriorityFeePerGas.Cmp(in.MaxFeePerGas) > 0:
		return malformed("max priority fee is above max fee")
	case in.Expiry == 0:
		return malformed("expiry is zero")
	case len(in.WalletProof) != WalletProofSize:
		return malformed("wallet proof is %d bytes, want %d", len(in.WalletProof), WalletProofSize)
	}
	return nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedIntent, fmt.Sprintf(format, args...))
}

// MarshalBinary encodes the intent in the v2 transfer layout
// (docs/protocol.md, "Transfer intent"): the v1 fields, then the wallet proof.
func (in *Intent) MarshalBinary() ([]byte, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, TransferV2MaxLen)
	b = append(b, KindTransfer, TransferV2)
	b = appendUint(b, new(big.Int).SetUint64(in.ChainID))
	b = append(b, in.From[:]...)
	b = append(b, in.To[:]...)
	b = append(b, in.Token[:]...)
	b = appendUint(b, in.Amount)
	b = appendUint(b, new(big.Int).SetUint64(in.Nonce))
	b = appendUint(b, new(big.Int).SetUint64(in.GasLimit))
	b = appendUint(b, in.MaxFeePerGas)
	b = appendUint(b, in.MaxPriorityFeePerGas)
	b = appendUint(b, new(big.Int).SetUint64(in.Expiry))
	b = append(b, in.WalletProof...)
	return b, nil
}

// appendUint writes a length byte and the minimal big-endian bytes of v (no
// leading zero byte; zero is the empty string).
func appendUint(b []byte, v *big.Int) []byte {
	raw := v.Bytes()
	b = append(b, byte(len(raw)))
	return append(b, raw...)
}

// UnmarshalBinary decodes a v2 transfer intent strictly: unknown kind or
// version (v1 included), a number longer than its field allows or with a leading zero byte,
// a short input and trailing bytes are all errors wrapping ErrMalformedIntent.
// A decoded intent also passes Validate.
func (in *Intent) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return malformed("too short")
	}
	if b[0] != KindTransfer {
		return malformed("unknown intent kind 0x%02x", b[0])
	}
	if b[1] != TransferV2 {
		return malformed("unknown transfer version %d", b[1])
	}
	if len(b) < TransferV2MinLen || len(b) > TransferV2MaxLen {
		return malformed("length %d is outside %d..%d", len(b), TransferV2MinLen, TransferV2MaxLen)
	}
	// The proof is the last 64 bytes; the fields before it must fill the
	// rest exactly.
	proof := b[len(b)-WalletProofSize:]
	r := reader{b: b[2 : len(b)-WalletProofSize]}
	var out Intent
	out.ChainID = r.uint64("chain id")
	r.address(&out.From)
	r.address(&out.To)
	r.address(&out.Token)
	out.Amount = r.uint256("amount")
	out.Nonce = r.uint64("nonce")
	out.GasLimit = r.uint64("gas limit")
	out.MaxFeePerGas = r.uint256("max fee per gas")
	out.MaxPriorityFeePerGas = r.uint256("max priority fee per gas")
	out.Expiry = r.uint64("expiry")
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return malformed("%d trailing bytes", len(r.b))
	}
	out.WalletProof = bytes.Clone(proof)
	if err := out.Validate(); err != nil {
		return err
	}
	*in = out
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = malformed("truncated at %s", field)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) address(a *common.Address) {
	if v := r.take(common.AddressLength, "address"); v != nil {
		copy(a[:], v)
	}
}

func (r *reader) number(field string, max int) []byte {
	l := r.take(1, field)
	if l == nil {
		return nil
	}
	n := int(l[0])
	if n > max {
		r.err = malformed("%s is %d bytes, at most %d allowed", field, n, max)
		return nil
	}
	v := r.take(n, field)
	if r.err == nil && n > 0 && v[0] == 0 {
		r.err = malformed("%s has a leading zero byte (non-canonical)", field)
		return nil
	}
	return v
}

func (r *reader) uint64(field string) uint64 {
	var x uint64
	for _, c := range r.number(field, maxUint64Bytes) {
		x = x<<8 | uint64(c)
	}
	return x
}

func (r *reader) uint256(field string) *big.Int {
	return new(big.Int).SetBytes(r.number(field, maxUint256Bytes))
}

// startParamEncoding is base64url without padding; Strict refuses non-zero
// trailing bits, so every intent has exactly one text form.
var startParamEncoding = base64.RawURLEncoding.Strict()

// EncodeStartParam returns the text form of the intent for a Mini App
// startapp parameter: base64url without padding, within Telegram's 512
// characters of A-Za-z0-9_-.
func (in *Intent) EncodeStartParam() (string, error) {
	b, err := in.MarshalBinary()
	if err != nil {
		return "", err
	}
	return startParamEncoding.EncodeToString(b), nil
}

// DecodeStartParam parses the text form made by EncodeStartParam.
func DecodeStartParam(s string) (*Intent, error) {
	b, err := decodeStartParamBytes(s)
	if err != nil {
		return nil, err
	}
	in := new(Intent)
	if err := in.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return in, nil
}

// decodeStartParamBytes reads the base64url text of any start_param kind
// strictly: not empty, within Telegram's 512 characters, canonical
// base64url without padding. Errors wrap ErrMalformedIntent.
func decodeStartParamBytes(s string) ([]byte, error) {
	if s == "" {
		return nil, malformed("start_param is empty")
	}
	if len(s) > MaxStartParam {
		return nil, malformed("start_param is %d characters, at most %d allowed", len(s), MaxStartParam)
	}
	// The base64 decoder ignores \r and \n; Telegram's alphabet has neither,
	// so refuse them rather than accept two spellings of one intent.
	if strings.ContainsAny(s, "\r\n=") {
		return nil, malformed("start_param has a character outside A-Za-z0-9_-")
	}
	b, err := startParamEncoding.DecodeString(s)
	if err != nil {
		return nil, malformed("start_param is not base64url: %v", err)
	}
	return b, nil
}
