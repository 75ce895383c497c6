package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// One-pass strict JSON for the approval's hot path (docs/performance.md,
// "Where an approval's time goes"). The strict reader of strictjson.go reads
// a text three times (a walk with encoding/json's Token, then encoding/json's
// Decode, then each Bytes field again) and initData's `user` object three
// times; this file reads each once, with the same rules:
//
//   - valid UTF-8 only; a \u escape of a UTF-16 surrogate only as a
//     high-low pair; no raw control character in a string (RFC 8259);
//   - object keys compared after their escapes are decoded (as encoding/json
//     and JavaScript do), each at most once per object, at every depth;
//   - nesting at most maxJSONDepth; nothing but whitespace after the value.
//
// It is used only where it has been shown to agree with the strict reader
// (decodeApproveRequest, userIDOnePass): the differential tests
// (onepass_test.go) and fuzz targets (FuzzApproveRequestReaders,
// FuzzUserIDReaders) feed both readers the same bytes and fail on any input
// one accepts and the other refuses, or that they read differently. A
// refusal here is never answered from here: the caller reruns the strict
// reader to get its error, so every error code and message stays the one
// the strict reader gives (docs/threat-model.md, "two parsers of the
// approval request").

// errOnePass is the one-pass reader's refusal; callers never show it.
var errOnePass = errors.New("refused by the one-pass reader")

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips whitespace and reports the next byte (0 at the end).
func (s *scanner) next() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// str reads the JSON string at s.i and returns its decoded bytes: a slice
// of the input when it has no escape (do not keep it), else appended to buf.
func (s *scanner) str(buf []byte) ([]byte, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, errOnePass
	}
	s.i++
	start := s.i
	// The common case: no escape, ASCII or valid UTF-8.
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			// Decoded, the string is at most as long as it is raw: size
			// the buffer once.
			if n := s.rawStringLen(start); cap(buf) < n {
				buf = make([]byte, 0, n)
			}
			return s.strEscaped(append(buf[:0], s.b[start:s.i]...))
		case c < 0x20:
			return nil, errOnePass
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, errOnePass
			}
			s.i += n
		}
	}
	return nil, errOnePass
}

// rawStringLen is the length of the string's text from start to its
// closing quote (or to the end of the input), escapes undecoded.
func (s *scanner) rawStringLen(start int) int {
	for i := s.i; i < len(s.b); i++ {
		switch s.b[i] {
		case '\\':
			i++
		case '"':
			return i - start
		}
	}
	return len(s.b) - start
}

// strEscaped continues str from the first backslash, appending to out.
func (s *scanner) strEscaped(out []byte) ([]byte, error) {
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, errOnePass
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(s.b, s.i)
				if !ok {
					return nil, errOnePass
				}
				s.i += 4
				if utf16.IsSurrogate(r) {
					// Only a high half followed at once by an escaped low half
					// is one character; anything else has no single reading.
					if r >= 0xDC00 || s.i+6 > len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
						return nil, errOnePass
					}
					lo, ok := hex4(s.b, s.i+2)
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return nil, errOnePass
					}
					s.i += 6
					r = utf16.DecodeRune(r, lo)
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, errOnePass
			}
		case c < 0x20:
			return nil, errOnePass
		case c < utf8.RuneSelf:
			out = append(out, c)
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, errOnePass
			}
			out = append(out, s.b[s.i:s.i+n]...)
			s.i += n
		}
	}
	return nil, errOnePass
}

// number reads a JSON number (RFC 8259 grammar) and returns its text.
func (s *scanner) number() ([]byte, error) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, errOnePass
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, errOnePass
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, errOnePass
		}
	}
	return s.b[start:s.i], nil
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return errOnePass
	}
	s.i += len(word)
	return nil
}

// value checks one JSON value of any shape at s.i (whitespace skipped),
// nested at depth (the top value is depth 0, as in walk).
func (s *scanner) value(depth int) error {
	switch c := s.next(); {
	case c == '"':
		_, err := s.str(nil)
		return err
	case c == '-' || '0' <= c && c <= '9':
		_, err := s.number()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '[':
		if depth >= maxJSONDepth {
			return errOnePass
		}
		s.i++
		if s.next() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.value(depth + 1); err != nil {
				return err
			}
			switch s.next() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return errOnePass
			}
		}
	case c == '{':
		if depth >= maxJSONDepth {
			return errOnePass
		}
		return s.object(depth, nil)
	default:
		return errOnePass
	}
}

// object reads the object at s.i ('{' not yet consumed). Each key is read
// with its escapes decoded and must be new in this object; if member is not
// nil it reads the key's value (with s.i just before it), else the value is
// checked with value.
func (s *scanner) object(depth int, member func(key []byte) error) error {
	s.i++
	if s.next() == '}' {
		s.i++
		return nil
	}
	var first [8][]byte // the keys of a small object, without allocating
	keys, seen := first[:0], map[string]struct{}(nil)
	for {
		if s.next() != '"' {
			return errOnePass
		}
		// A key is a slice of the input, or (escaped) a buffer of its own:
		// the set may keep it.
		k, err := s.str(nil)
		if err != nil {
			return err
		}
		var ok bool
		if keys, seen, ok = addKey(keys, seen, k); !ok {
			return errOnePass
		}
		if s.next() != ':' {
			return errOnePass
		}
		s.i++
		if member != nil {
			err = member(k)
		} else {
			err = s.value(depth + 1)
		}
		if err != nil {
			return err
		}
		switch s.next() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errOnePass
		}
	}
}

// addKey adds key to the keys of one object, a list while small (a few
// comparisons), a map past that, so a hostile object of thousands of keys
// costs linear time; ok is false if the object has it already. (Values in,
// values out: the list's first array stays on the caller's stack.)
func addKey(list [][]byte, m map[string]struct{}, key []byte) ([][]byte, map[string]struct{}, bool) {
	if m != nil {
		if _, dup := m[string(key)]; dup {
			return list, m, false
		}
		m[string(key)] = struct{}{}
		return list, m, true
	}
	for _, have := range list {
		if string(have) == string(key) {
			return list, m, false
		}
	}
	list = append(list, key)
	if len(list) > 16 {
		m = make(map[string]struct{}, 2*len(list))
		for _, have := range list {
			m[string(have)] = struct{}{}
		}
		list = nil
	}
	return list, m, true
}

// end refuses anything but whitespace after the value.
func (s *scanner) end() error {
	if s.next() != 0 || s.i != len(s.b) {
		return errOnePass
	}
	return nil
}

// decodeApproveRequest is DecodeStrict(body, req) in one pass: an object
// whose keys are exactly "init_data" (a string) and "record" (a string of
// canonical standard base64, Bytes), each at most once, either absent
// (zero), no other key, no null, nothing after it. On any refusal it
// returns errOnePass and sets nothing; DecodeJSON then asks the strict
// reader for the error.
func decodeApproveRequest(body []byte, req *ApproveRequest) error {
	s := scanner{b: body}
	if s.next() != '{' {
		return errOnePass
	}
	var out ApproveRequest
	var scratch [64]byte
	err := s.object(0, func(key []byte) error {
		if s.next() != '"' {
			return errOnePass // null, a number, an array, an object
		}
		switch string(key) {
		case "init_data":
			v, err := s.str(scratch[:0])
			if err != nil {
				return err
			}
			out.InitData = string(v)
		case "record":
			v, err := s.str(scratch[:0])
			if err != nil {
				return err
			}
			raw, err := decodeCanonicalBase64(v)
			if err != nil {
				return err
			}
			out.Record = raw
		default:
			return errOnePass
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.end(); err != nil {
		return err
	}
	*req = out
	return nil
}

// decodeApproveResponse is DecodeStrict(body, resp) in one pass, for the
// parent's read of the enclave's answer to an approval (issue 11, the lean
// transport): an object whose keys are exactly "raw_tx" and "tx_hash",
// each a string at most once, either absent (zero), no other key, no null,
// nothing after it. Like decodeApproveRequest it only ever accepts: on any
// refusal it returns errOnePass and sets nothing, and DecodeJSON asks the
// strict reader (TestOnePassResponseReadersAgree,
// FuzzApproveResponseReaders).
func decodeApproveResponse(body []byte, resp *ApproveResponse) error {
	s := scanner{b: body}
	if s.next() != '{' {
		return errOnePass
	}
	var out ApproveResponse
	var scratch [256]byte
	err := s.object(0, func(key []byte) error {
		if s.next() != '"' {
			return errOnePass // null, a number, an array, an object
		}
		var field *string
		switch string(key) {
		case "raw_tx":
			field = &out.RawTx
		case "tx_hash":
			field = &out.TxHash
		default:
			return errOnePass
		}
		v, err := s.str(scratch[:0])
		if err != nil {
			return err
		}
		*field = string(v)
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.end(); err != nil {
		return err
	}
	*resp = out
	return nil
}

// decodeCanonicalBase64 is Bytes.UnmarshalJSON on an already decoded
// string: strict padded standard base64 that re-encodes to exactly s (which
// refuses the CR and LF the decoder skips).
func decodeCanonicalBase64(s []byte) ([]byte, error) {
	raw := make([]byte, strictBase64.DecodedLen(len(s)))
	n, err := strictBase64.Decode(raw, s)
	if err != nil {
		return nil, errOnePass
	}
	raw = raw[:n]
	var again [256]byte
	if strictBase64.EncodedLen(n) != len(s) || string(strictBase64.AppendEncode(again[:0], raw)) != string(s) {
		return nil, errOnePass
	}
	return raw, nil
}

// userIDOnePass is userID in one pass: initData's `user` is one strict JSON
// object (every rule above, at every depth) whose key "id", exactly, is
// an integer literal in 1..MaxUserID; other keys are checked as JSON and
// ignored.
func userIDOnePass(u string) (int64, error) {
	s := scanner{b: []byte(u)}
	if s.next() != '{' {
		return 0, errOnePass
	}
	var idText []byte
	err := s.object(0, func(key []byte) error {
		if string(key) != "id" {
			return s.value(1)
		}
		c := s.next()
		if c != '-' && (c < '0' || c > '9') {
			return errOnePass // null reads as 0, a string or anything else is refused
		}
		var err error
		idText, err = s.number()
		return err
	})
	if err != nil || s.end() != nil || idText == nil {
		return 0, errOnePass
	}
	// encoding/json reads a number into an int64 with ParseInt: no fraction,
	// no exponent, no overflow.
	id, err := strconv.ParseInt(string(idText), 10, 64)
	if err != nil || id <= 0 || id > MaxUserID {
		return 0, errOnePass
	}
	return id, nil
}

// strictFallback is the error when the one-pass reader refused what the
// strict reader accepts: never seen in the differential tests, and still a
// refusal (the stricter reading wins).
func strictFallback(what string) error {
	return fmt.Errorf("%w: %s has no single reading", ErrStrictJSON, what)
}
