package protocol

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Bytes is a byte string carried in JSON as standard base64 (RFC 4648 §4)
// with exactly one spelling per byte string: padding required, no
// whitespace or line breaks, and unused bits of the last character zero.
// encoding/json's own []byte decoding skips \r and \n (base64.StdEncoding
// does, and so does its Strict mode), so a record with a line break in it
// would be the same record as without: every request and response type of
// the API uses Bytes instead.
//
// Bytes converts to and from []byte without a cast.
type Bytes []byte

// ErrBadBase64 is wrapped by every refusal of Bytes.UnmarshalJSON.
var ErrBadBase64 = errors.New("not canonical standard base64")

var strictBase64 = base64.StdEncoding.Strict()

// MarshalJSON writes b as a standard base64 string.
func (b Bytes) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, strictBase64.EncodedLen(len(b))+2)
	out = append(out, '"')
	out = strictBase64.AppendEncode(out, b)
	return append(out, '"'), nil
}

// UnmarshalJSON reads a JSON string that is exactly the standard base64
// encoding of some bytes; null, another type and any other spelling are
// refused. The error never quotes the input (it may be a record).
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if len(data) == 0 || data[0] != '"' || json.Unmarshal(data, &s) != nil {
		return fmt.Errorf("%w: a byte string must be a JSON string", ErrBadBase64)
	}
	raw, err := strictBase64.DecodeString(s)
	// Strict still skips CR and LF; re-encoding and comparing refuses them
	// and anything else that is not the one spelling of raw.
	if err != nil || strictBase64.EncodeToString(raw) != s {
		return fmt.Errorf("%w: a byte string is not canonical standard base64 (padded, no line breaks)", ErrBadBase64)
	}
	*b = raw
	return nil
}
