package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Paths of the enclave HTTP API, version 1 (docs/protocol.md, "Enclave API").
const (
	PathHealth  = "/v1/health"
	PathWallets = "/v1/wallets"
	PathApprove = "/v1/approve"
	// PathStatement answers the wallet statement for a sealed record.
	PathStatement = "/v1/statement"

	// PathAttestation answers an NSM attestation document (docs/protocol.md, 6.2).
	PathAttestation = "/v1/attestation"
	// MaxAttestationNonce bounds the nonce a caller may have attested.
	MaxAttestationNonce = 64

	// MaxRequestBody bounds every request body the enclave reads.
	MaxRequestBody = 16 << 10
)

// CreateWalletRequest asks for a new wallet owned by a Telegram user.
type CreateWalletRequest struct {
	Owner int64 `json:"owner"`
}

// CreateWalletResponse carries the new wallet's address, its sealed record
// (standard base64 in JSON), which only the enclave can open, and the
// wallet proof: the identity key's statement that the address is the
// owner's (64 bytes, standard base64).
type CreateWalletResponse struct {
	Address string `json:"address"`
	Record  Bytes  `json:"record"`
	Proof   Bytes  `json:"proof"`
}

// StatementRequest asks for the wallet statement of a sealed record.
type StatementRequest struct {
	Record Bytes `json:"record"`
}

// StatementResponse is the statement "address belongs to owner" and its
// proof (64 bytes, standard base64), made after the record opened.
type StatementResponse struct {
	Owner   int64  `json:"owner"`
	Address string `json:"address"` // 0x EIP-55
	Proof   Bytes  `json:"proof"`
}

// ApproveRequest asks the enclave to sign the transfer that Telegram-signed
// initData approves, with the key in the sealed record.
type ApproveRequest struct {
	InitData string `json:"init_data"`
	Record   Bytes  `json:"record"`
}

// ApproveResponse is the signed EIP-1559 transaction, ready to broadcast.
type ApproveResponse struct {
	RawTx  string `json:"raw_tx"`  // 0x-prefixed hex of the typed transaction envelope
	TxHash string `json:"tx_hash"` // 0x-prefixed hex
}

// AttestationRequest asks for an attestation document over a caller's nonce
// (1 to MaxAttestationNonce bytes, standard base64 in JSON).
type AttestationRequest struct {
	Nonce Bytes `json:"nonce"`
}

// AttestationResponse is the raw COSE_Sign1 attestation document.
type AttestationResponse struct {
	Document Bytes `json:"document"`
}

// HealthResponse says whether the enclave can do wallet work.
type HealthResponse struct {
	Status   string `json:"status"` // "ok"
	Vault    string `json:"vault"`  // "unlocked" or "locked"
	Protocol int    `json:"protocol"`
	// IdentityKey is the deployment identity public key (64 lowercase hex)
	// while unlocked; absent while locked.
	IdentityKey string `json:"identity_key,omitempty"`
	// Chains is what the enclave's baked config allows, locked or not: each
	// chain id it signs for and the token contracts it may sign transfers
	// of there, so the parent (and an auditor) can check that its network
	// list agrees with the enclave's.
	Chains []ChainTokens `json:"chains"`
}

// ChainTokens is one allowed chain and its allowed token contracts (EIP-55
// 0x-hex, in the config's order; empty: the native coin only).
type ChainTokens struct {
	ChainID uint64   `json:"chain_id"`
	Tokens  []string `json:"tokens"`
}

// ProtocolVersion is the version of this API and of the formats it carries.
const ProtocolVersion = 1

// Code is a stable error code: the JSON error shape carries it, clients switch
// on it, and each has one HTTP status.
type Code string

const (
	CodeMalformedRequest  Code = "malformed_request"
	CodeTooLarge          Code = "too_large"
	CodeNotFound          Code = "not_found"
	CodeMethodNotAllowed  Code = "method_not_allowed"
	CodeMalformedInitData Code = "malformed_init_data"
	CodeBadSignature      Code = "bad_signature"
	CodeStaleAuth         Code = "stale_auth"
	CodeMalformedIntent   Code = "malformed_intent"
	CodeIntentExpired     Code = "intent_expired"
	CodeMalformedRecord   Code = "malformed_record"
	CodeRecordTampered    Code = "record_tampered"
	CodeWrongOwner        Code = "wrong_owner"
	CodeWrongWallet       Code = "wrong_wallet"
	CodeBadWalletProof    Code = "bad_wallet_proof"
	CodeChainNotAllowed   Code = "chain_not_allowed"
	// CodeTokenNotAllowed: the intent's token is not in the enclave's
	// config for the intent's chain. It replaces token_not_supported, which
	// enclaves before issue 10 sent for every token and which is gone.
	CodeTokenNotAllowed Code = "token_not_allowed"
	CodeVaultLocked     Code = "vault_locked"
	CodeInternal        Code = "internal"
	// CodeAttestationUnavailable: the enclave has no NSM (or dev NSM) to
	// attest with.
	CodeAttestationUnavailable Code = "attestation_unavailable"

	// Codes of the parent's Mini App API (docs/api.md); the enclave never
	// sends them.
	CodeUnknownTransfer    Code = "unknown_transfer"
	CodeAlreadyApproved    Code = "already_approved"
	CodeTransferClosed     Code = "transfer_closed"
	CodeEnclaveUnavailable Code = "enclave_unavailable"
	// CodeRateLimited: a public endpoint's budget (GET /attestation) is
	// spent for now; retry after the Retry-After seconds.
	CodeRateLimited Code = "rate_limited"
)

// HTTPStatus is the status every response with this code carries.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeMalformedRequest, CodeMalformedInitData, CodeMalformedIntent, CodeMalformedRecord:
		return http.StatusBadRequest
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case CodeNotFound, CodeUnknownTransfer:
		return http.StatusNotFound
	case CodeAlreadyApproved, CodeTransferClosed:
		return http.StatusConflict
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeBadSignature, CodeStaleAuth:
		return http.StatusUnauthorized
	case CodeIntentExpired, CodeRecordTampered, CodeWrongOwner, CodeWrongWallet, CodeBadWalletProof, CodeChainNotAllowed, CodeTokenNotAllowed:
		return http.StatusForbidden
	case CodeVaultLocked, CodeEnclaveUnavailable, CodeAttestationUnavailable:
		return http.StatusServiceUnavailable
	case CodeKMSFailed:
		return http.StatusBadGateway
	case CodeKMSRefused:
		return http.StatusForbidden
	case CodeAlreadyUnlocked:
		return http.StatusConflict
	case CodeKMSNotConfigured:
		return http.StatusNotImplemented
	case CodeRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// Error is the one error shape of the API:
// {"error": {"code": "...", "message": "..."}}. Messages never carry secrets.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is lets errors.Is(err, &Error{Code: c}) match on the code alone, and maps
// an Error back to the package's sentinel reasons so that a client can
// assert errors.Is(err, ErrBadSignature) on a refusal that crossed HTTP.
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t.Code == e.Code
	}
	return sentinelOf[e.Code] != nil && sentinelOf[e.Code] == target
}

// Sentinel reasons that only the enclave produces; the ones about initData and
// intents are above, beside their parsers.
var (
	ErrMalformedRequest = errors.New("malformed request")
	ErrTooLarge         = errors.New("request too large")
	ErrIntentExpired    = errors.New("transfer intent has expired")
	ErrMalformedRecord  = errors.New("malformed wallet record")
	ErrRecordTampered   = errors.New("wallet record does not open under this vault key")
	ErrWrongOwner       = errors.New("wallet belongs to another Telegram user")
	ErrWrongWallet      = errors.New("transfer is not from this wallet")
	ErrChainNotAllowed  = errors.New("chain is not allowed")
	ErrTokenNotAllowed  = errors.New("token is not allowed on this chain")
	ErrVaultLocked      = errors.New("vault is locked")

	ErrAttestationUnavailable = errors.New("attestation is unavailable")
)

var sentinelOf = map[Code]error{
	CodeMalformedRequest:  ErrMalformedRequest,
	CodeTooLarge:          ErrTooLarge,
	CodeMalformedInitData: ErrMalformedInitData,
	CodeBadSignature:      ErrBadSignature,
	CodeStaleAuth:         ErrStaleAuth,
	CodeMalformedIntent:   ErrMalformedIntent,
	CodeIntentExpired:     ErrIntentExpired,
	CodeMalformedRecord:   ErrMalformedRecord,
	CodeRecordTampered:    ErrRecordTampered,
	CodeWrongOwner:        ErrWrongOwner,
	CodeWrongWallet:       ErrWrongWallet,
	CodeBadWalletProof:    ErrBadWalletProof,
	CodeChainNotAllowed:   ErrChainNotAllowed,
	CodeTokenNotAllowed:   ErrTokenNotAllowed,
	CodeVaultLocked:       ErrVaultLocked,

	CodeAttestationUnavailable: ErrAttestationUnavailable,
}

// CodeOf maps an error to its code: the code of the sentinel it wraps, or
// CodeInternal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	for code, s := range sentinelOf {
		if errors.Is(err, s) {
			return code
		}
	}
	return CodeInternal
}

// ErrorOf turns an error into the API's error shape. The message is the
// error's text, which by this project's rule never contains a secret; an
// internal error gets a fixed message so nothing unexpected leaks.
func ErrorOf(err error) *Error {
	code := CodeOf(err)
	if code == CodeInternal {
		return &Error{Code: code, Message: "internal error"}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: code, Message: err.Error()}
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// The approval's answer, on the hot path, is written without
	// reflection, byte for byte what json.Encoder writes
	// (TestApproveResponseJSON).
	if r, ok := v.(ApproveResponse); ok {
		if b, ok := r.appendJSON(make([]byte, 0, 32+len(r.RawTx)+len(r.TxHash))); ok {
			w.Write(b)
			return
		}
	}
	json.NewEncoder(w).Encode(v)
}

// appendJSON appends r as json.Encoder writes it (with its newline) when
// both fields are 0x-hex, which needs no escaping; ok is false otherwise.
func (r ApproveResponse) appendJSON(b []byte) ([]byte, bool) {
	if !isHexText(r.RawTx) || !isHexText(r.TxHash) {
		return b, false
	}
	b = append(b, `{"raw_tx":"`...)
	b = append(b, r.RawTx...)
	b = append(b, `","tx_hash":"`...)
	b = append(b, r.TxHash...)
	return append(b, "\"}\n"...), true
}

// MarshalApproveRequest is json.Marshal(r), byte for byte, without
// reflection on the approval's hot path (the parent's request to the
// enclave; TestMarshalApproveRequest, FuzzMarshalApproveRequest): initData
// is printable ASCII whose only character json.Marshal escapes is '&'
// (and '<', '>' if present), written \u0026 as it does; the record is
// standard base64. Anything else goes through json.Marshal itself.
func MarshalApproveRequest(r ApproveRequest) ([]byte, error) {
	b := make([]byte, 0, 40+len(r.InitData)+len(r.InitData)/8+strictBase64.EncodedLen(len(r.Record)))
	b = append(b, `{"init_data":"`...)
	for i := 0; i < len(r.InitData); i++ {
		switch c := r.InitData[i]; {
		case c == '&':
			b = append(b, `\u0026`...)
		case c == '<':
			b = append(b, `\u003c`...)
		case c == '>':
			b = append(b, `\u003e`...)
		case c < 0x20 || c >= 0x80 || c == '"' || c == '\\':
			return json.Marshal(r)
		default:
			b = append(b, c)
		}
	}
	b = append(b, `","record":"`...)
	b = strictBase64.AppendEncode(b, r.Record)
	return append(b, `"}`...), nil
}

// isHexText reports whether s is only hex digits and 'x'.
func isHexText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == 'x') {
			return false
		}
	}
	return true
}

// WriteError writes err in the API's error shape with its code's status.
func WriteError(w http.ResponseWriter, err error) {
	e := ErrorOf(err)
	WriteJSON(w, e.Code.HTTPStatus(), struct {
		Error *Error `json:"error"`
	}{e})
}

// DecodeJSON reads exactly one JSON object of at most limit bytes into v,
// strictly (DecodeStrict: keys exact and once, valid UTF-8, no null, no
// unknown fields, no trailing data). The errors wrap ErrMalformedRequest or
// ErrTooLarge.
//
// An *ApproveRequest, the one request on the approval's hot path, is read by
// the one-pass reader (onepass.go); a body it refuses is read again by
// DecodeStrict, whose error is the answer, so the refusals and their
// messages are DecodeStrict's.
func DecodeJSON(r io.Reader, limit int64, v any) error {
	buf := bodyBuffers.Get().(*[]byte)
	body, err := readLimited(r, limit, (*buf)[:0])
	defer func() {
		// The body holds initData: wipe it before the buffer is reused.
		// Nothing decoded from it points into it (strings and byte
		// strings are copies).
		clear(body)
		if cap(body) <= maxPooledBody {
			*buf = body[:0]
			bodyBuffers.Put(buf)
		}
	}()
	if err != nil {
		return fmt.Errorf("%w: reading body: %v", ErrMalformedRequest, err)
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("%w: body is over %d bytes", ErrTooLarge, limit)
	}
	if len(body) == 0 {
		return fmt.Errorf("%w: empty body", ErrMalformedRequest)
	}
	if req, ok := v.(*ApproveRequest); ok && decodeApproveRequest(body, req) == nil {
		return nil
	}
	// The parent's read of an approval's answer, the other end of the
	// same hot path, likewise (issue 11, the lean transport).
	if resp, ok := v.(*ApproveResponse); ok && decodeApproveResponse(body, resp) == nil {
		return nil
	}
	if err := DecodeStrict(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedRequest, err)
	}
	if req, ok := v.(*ApproveRequest); ok {
		// The one-pass reader refused what DecodeStrict accepts: refuse
		// (never seen: FuzzApproveRequestReaders).
		*req = ApproveRequest{}
		return fmt.Errorf("%w: %v", ErrMalformedRequest, strictFallback("the request"))
	}
	if resp, ok := v.(*ApproveResponse); ok {
		// Likewise (never seen: FuzzApproveResponseReaders).
		*resp = ApproveResponse{}
		return fmt.Errorf("%w: %v", ErrMalformedRequest, strictFallback("the answer"))
	}
	return nil
}

// bodyBuffers keeps request body buffers between requests (one allocation
// and its growth less per request); maxPooledBody bounds what is kept.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2<<10); return &b }}

const maxPooledBody = MaxRequestBody + 1

// readLimited reads r into buf until EOF or until it holds limit+1 bytes
// (one more than allowed, so the caller can tell "over the limit"), as
// io.ReadAll(io.LimitReader(r, limit+1)) does.
func readLimited(r io.Reader, limit int64, buf []byte) ([]byte, error) {
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := cap(buf)
		if int64(end) > limit+1 {
			end = int(limit + 1)
		}
		n, err := r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	case errors.Is(err, io.EOF):
		return "empty body"
	default:
		// DisallowUnknownFields reports `json: unknown field "name"`; the
		// field name comes from the caller but is not a secret value.
		return err.Error()
	}
}

// ReadError decodes an error response into an *Error (which errors.Is maps
// back to its sentinel). A body that is not in the error shape gives an
// error naming the status.
func ReadError(resp *http.Response) error {
	var body struct {
		Error *Error `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxRequestBody))
	if json.Unmarshal(b, &body) != nil || body.Error == nil || body.Error.Code == "" {
		return fmt.Errorf("unexpected HTTP status %d", resp.StatusCode)
	}
	return body.Error
}
