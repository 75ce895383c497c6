package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// Strict JSON (docs/protocol.md, 6 "Strict JSON"). encoding/json reads more
// than one text as the same value: it matches object keys to struct fields
// without regard to case ({"ID":1} fills `json:"id"`), keeps the last of two
// equal keys (a JavaScript reader agrees, but a reader that keeps the first
// does not), replaces invalid UTF-8 and lone surrogate escapes with U+FFFD,
// and reads null into any field as "leave it zero". Every JSON that crosses a
// trust boundary is therefore first checked here, and only a text that has
// exactly one reading is handed to encoding/json.

// ErrStrictJSON is wrapped by every refusal of CheckJSON and DecodeStrict.
var ErrStrictJSON = errors.New("JSON is not strict")

// maxJSONDepth bounds the nesting of any checked text. Nothing this project
// reads nests deeper than 4; the bound keeps the walk's stack small.
const maxJSONDepth = 32

// CheckJSON checks that b is exactly one JSON value with one reading: valid
// UTF-8 (raw, and no escaped lone surrogate such as \ud800), no object with
// two equal keys at any depth, nothing after the value. If t is not nil, the
// value must also have t's shape: an object for a struct, whose every key is
// exactly (case included) the json name of a field; no null anywhere the
// type has a field, an element or a byte string. Keys and values of map,
// interface and json.RawMessage types are checked only as JSON.
func CheckJSON(b []byte, t reflect.Type) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: invalid UTF-8", ErrStrictJSON)
	}
	if err := checkSurrogates(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := walk(dec, t, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrStrictJSON)
	}
	return nil
}

// DecodeStrict checks b with CheckJSON against v's type, then decodes it
// into v (refusing unknown fields, which CheckJSON has already excluded).
// Errors wrap ErrStrictJSON; they name keys and offsets, never values.
func DecodeStrict(b []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return fmt.Errorf("%w: decoding needs a pointer", ErrStrictJSON)
	}
	if err := CheckJSON(b, t.Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", ErrStrictJSON, jsonProblem(err))
	}
	return nil
}

// walk reads one value from dec and checks it against t (nil: any value).
func walk(dec *json.Decoder, t reflect.Type, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %s", ErrStrictJSON, jsonProblem(err))
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && isLoose(t) {
		t = nil
	}
	if tok == nil && t != nil {
		// encoding/json would read null as "leave the zero value": a field
		// the sender wrote as null would look like one it left out.
		return fmt.Errorf("%w: null where %s is expected", ErrStrictJSON, kindName(t))
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		return nil // a scalar: its type is checked by encoding/json
	}
	if depth >= maxJSONDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrStrictJSON, maxJSONDepth)
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil {
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array || t.Elem().Kind() == reflect.Uint8 {
				return fmt.Errorf("%w: an array where %s is expected", ErrStrictJSON, kindName(t))
			}
			elem = t.Elem()
		}
		for dec.More() {
			if err := walk(dec, elem, depth+1); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		if t != nil {
			if t.Kind() != reflect.Struct {
				return fmt.Errorf("%w: an object where %s is expected", ErrStrictJSON, kindName(t))
			}
			fields = jsonFields(t)
		}
		seen := make(map[string]bool)
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w: %s", ErrStrictJSON, jsonProblem(err))
			}
			key := kt.(string) // inside an object, the decoder yields only string keys here
			if seen[key] {
				return fmt.Errorf("%w: key %q appears twice", ErrStrictJSON, key)
			}
			seen[key] = true
			var ft reflect.Type
			if t != nil {
				var ok bool
				if ft, ok = fields[key]; !ok {
					// Also what {"ID":…} for `json:"id"` and {"Init_Data":…} get.
					return fmt.Errorf("%w: unknown field %q", ErrStrictJSON, key)
				}
			}
			if err := walk(dec, ft, depth+1); err != nil {
				return err
			}
		}
	}
	// The closing delimiter.
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%w: %s", ErrStrictJSON, jsonProblem(err))
	}
	return nil
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// isLoose reports whether values of t are checked only as JSON: interfaces,
// maps and raw messages hold whatever the text says.
func isLoose(t reflect.Type) bool {
	return t == rawMessageType || t.Kind() == reflect.Interface || t.Kind() == reflect.Map
}

func kindName(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.Struct:
		return "an object"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return "a base64 string"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "an array"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	default:
		return "a number"
	}
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps the exact JSON name of each field of struct t to its type,
// as encoding/json names them (tag name, else the Go name; "-" skipped).
// Embedded structs are not used by this project's wire types and are refused
// by having no name here.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := make(map[string]reflect.Type)
	for f := range t.Fields() {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

// checkSurrogates refuses a \u escape of a UTF-16 surrogate that is not half
// of a high-low pair: encoding/json reads it as U+FFFD, JavaScript keeps the
// lone surrogate, so the text has no single reading. b is valid UTF-8; its
// syntax is checked by the decoder afterwards, so this scanner only needs to
// find the escapes inside strings.
func checkSurrogates(b []byte) error {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(b) && b[i+1] == 'u' {
				r, ok := hex4(b, i+2)
				switch {
				case !ok || r < 0xD800 || r > 0xDFFF:
					// Not a surrogate (or bad syntax, left to the decoder).
				case r >= 0xDC00:
					return fmt.Errorf("%w: a lone low surrogate escape at byte %d", ErrStrictJSON, i)
				default:
					lo, ok := rune(0), false
					if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
						lo, ok = hex4(b, i+8)
					}
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return fmt.Errorf("%w: a lone high surrogate escape at byte %d", ErrStrictJSON, i)
					}
					i += 6 // the low half is consumed with its pair
				}
				i += 5
			} else {
				i++ // the escaped character, e.g. \" or \\
			}
		}
	}
	return nil
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
