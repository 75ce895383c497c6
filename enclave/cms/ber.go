package cms

import "fmt"

// Limits of the BER reader. A KMS CiphertextForRecipient is about 500 bytes
// and nests 8 levels deep; these bounds leave room and stop a hostile input
// from costing more than a few kilobytes of work.
const (
	MaxInput    = 64 << 10 // bytes of input
	maxDepth    = 16       // nesting of constructed elements
	maxElements = 512      // elements in one input
)

// Universal tags and classes used here.
const (
	classUniversal = 0
	classContext   = 2

	tagInteger     = 2
	tagOctetString = 4
	tagNull        = 5
	tagOID         = 6
	tagSequence    = 16
	tagSet         = 17
)

// element is one decoded BER element. For a primitive element content is its
// value; a constructed element has children (whether its length was definite
// or indefinite).
type element struct {
	class       int
	constructed bool
	tag         int
	content     []byte
	children    []*element
}

func (e *element) is(class, tag int, constructed bool) bool {
	return e.class == class && e.tag == tag && e.constructed == constructed
}

// berReader decodes BER: definite lengths (short and long form, up to 4
// length bytes), indefinite lengths ended by an end-of-contents marker, low
// tag numbers only (0..30, which is all CMS EnvelopedData uses).
type berReader struct {
	elements int
}

// parseBER decodes exactly one element that fills b.
func parseBER(b []byte) (*element, error) {
	if len(b) > MaxInput {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), MaxInput)
	}
	r := &berReader{}
	e, rest, err := r.parse(b, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the outer element", ErrMalformed, len(rest))
	}
	return e, nil
}

func (r *berReader) parse(b []byte, depth int) (*element, []byte, error) {
	if depth > maxDepth {
		return nil, nil, fmt.Errorf("%w: nested more than %d deep", ErrMalformed, maxDepth)
	}
	if r.elements++; r.elements > maxElements {
		return nil, nil, fmt.Errorf("%w: more than %d elements", ErrMalformed, maxElements)
	}
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: truncated header", ErrMalformed)
	}
	id := b[0]
	e := &element{class: int(id >> 6), constructed: id&0x20 != 0, tag: int(id & 0x1f)}
	if e.tag == 0x1f {
		return nil, nil, fmt.Errorf("%w: high tag numbers are not used in EnvelopedData", ErrMalformed)
	}
	if e.class == classUniversal && e.tag == 0 {
		return nil, nil, fmt.Errorf("%w: unexpected end-of-contents", ErrMalformed)
	}
	l := b[1]
	b = b[2:]
	switch {
	case l < 0x80: // short form
		return r.definite(e, b, int(l), depth)
	case l == 0x80: // indefinite
		if !e.constructed {
			return nil, nil, fmt.Errorf("%w: indefinite length on a primitive element", ErrMalformed)
		}
		for {
			if len(b) >= 2 && b[0] == 0 && b[1] == 0 {
				return e, b[2:], nil
			}
			if len(b) == 0 {
				return nil, nil, fmt.Errorf("%w: missing end-of-contents", ErrMalformed)
			}
			child, rest, err := r.parse(b, depth+1)
			if err != nil {
				return nil, nil, err
			}
			e.children = append(e.children, child)
			b = rest
		}
	case l == 0xff:
		return nil, nil, fmt.Errorf("%w: reserved length byte", ErrMalformed)
	default: // long form
		n := int(l & 0x7f)
		if n > 4 || len(b) < n {
			return nil, nil, fmt.Errorf("%w: bad length", ErrMalformed)
		}
		length := 0
		for _, c := range b[:n] {
			length = length<<8 | int(c)
		}
		return r.definite(e, b[n:], length, depth)
	}
}

func (r *berReader) definite(e *element, b []byte, length, depth int) (*element, []byte, error) {
	if length < 0 || length > len(b) {
		return nil, nil, fmt.Errorf("%w: length %d runs past the input", ErrMalformed, length)
	}
	content, rest := b[:length], b[length:]
	if !e.constructed {
		e.content = content
		return e, rest, nil
	}
	for len(content) > 0 {
		child, more, err := r.parse(content, depth+1)
		if err != nil {
			return nil, nil, err
		}
		e.children = append(e.children, child)
		content = more
	}
	return e, rest, nil
}

// octets returns the value of an OCTET STRING (or an element implicitly
// tagged as one): the content of a primitive element, or the concatenated
// values of a constructed one's OCTET STRING segments.
func octets(e *element) ([]byte, error) {
	if !e.constructed {
		return e.content, nil
	}
	var out []byte
	for _, c := range e.children {
		if c.class != classUniversal || c.tag != tagOctetString {
			return nil, fmt.Errorf("%w: a segment of a constructed OCTET STRING is not an OCTET STRING", ErrMalformed)
		}
		v, err := octets(c)
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}
