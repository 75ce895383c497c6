package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// node is formatted text as a tree, sent to the chat page, which builds DOM
// nodes from it with createElement/textContent: the page never uses
// innerHTML on anything the bot sent, so bot text cannot inject markup.
type node struct {
	T    string  `json:"t"` // "text" or an entity type (bold, italic, text_link, ...)
	V    string  `json:"v,omitempty"`
	Href string  `json:"href,omitempty"`
	C    []*node `json:"c,omitempty"`
}

// formatted is message text as Telegram keeps it: plain text plus entities
// (offsets in UTF-16 code units), and the tree the chat page renders.
type formatted struct {
	plain    string
	entities []wireEntity
	tree     []*node
}

func plainText(s string) formatted {
	return formatted{plain: s, tree: []*node{{T: "text", V: s}}}
}

// format parses text in the given parse mode. HTML is parsed the way
// Telegram does (its tag set, its errors); Markdown modes are kept verbatim.
func format(text, parseMode string) (formatted, error) {
	switch strings.ToLower(parseMode) {
	case "":
		return plainText(text), nil
	case "html":
		return parseHTML(text)
	case "markdown", "markdownv2":
		return plainText(text), nil
	}
	return formatted{}, fmt.Errorf("unsupported parse_mode")
}

var htmlKinds = map[string]string{
	"b": "bold", "strong": "bold", "i": "italic", "em": "italic",
	"u": "underline", "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
	"tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
	"blockquote": "blockquote", "tg-emoji": "span",
}

type htmlFrame struct {
	tag string
	ent int // index into entities, -1 if the tag makes none
	n   *node
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// parseHTML implements Telegram's HTML parse mode. Every iteration consumes
// at least one byte, so it runs in time linear in the input.
func parseHTML(s string) (formatted, error) {
	var f formatted
	root := &node{T: "root"}
	stack := []htmlFrame{{n: root, ent: -1}}
	var b strings.Builder
	u16 := 0
	appendText := func(t string) {
		if t == "" {
			return
		}
		b.WriteString(t)
		u16 += utf16Len(t)
		top := stack[len(stack)-1].n
		if k := len(top.C); k > 0 && top.C[k-1].T == "text" {
			top.C[k-1].V += t
			return
		}
		top.C = append(top.C, &node{T: "text", V: t})
	}
	if !utf8.ValidString(s) {
		return f, fmt.Errorf("text must be encoded in UTF-8")
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return f, fmt.Errorf("Can't find end of the tag starting at byte offset %d", i)
			}
			inner := s[i+1 : i+j]
			if strings.HasPrefix(inner, "/") {
				name := strings.ToLower(strings.TrimSpace(inner[1:]))
				if len(stack) == 1 {
					return f, fmt.Errorf("Unexpected end tag at byte offset %d", i)
				}
				top := stack[len(stack)-1]
				if name != top.tag {
					return f, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, top.tag, name)
				}
				if top.ent >= 0 {
					f.entities[top.ent].Length = u16 - f.entities[top.ent].Offset
				}
				stack = stack[:len(stack)-1]
			} else {
				name, attrs := parseTag(inner)
				kind, ok := htmlKinds[name]
				if !ok || (name == "span" && attrs["class"] != "tg-spoiler") {
					return f, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", name, i)
				}
				if len(stack) > 32 {
					return f, fmt.Errorf("too deep nesting at byte offset %d", i)
				}
				parent := stack[len(stack)-1]
				fr := htmlFrame{tag: name, ent: -1, n: &node{T: kind}}
				ent := wireEntity{Type: kind, Offset: u16}
				switch name {
				case "a":
					ent.URL = attrs["href"]
					fr.n.Href = ent.URL
					if ent.URL == "" {
						kind = "span"
						fr.n.T = kind
					}
				case "blockquote":
					if _, ok := attrs["expandable"]; ok {
						ent.Type = "expandable_blockquote"
					}
				case "code":
					// <pre><code class="language-x"> is one pre entity with a language.
					if parent.tag == "pre" {
						kind = "span"
						if lang, ok := strings.CutPrefix(attrs["class"], "language-"); ok && parent.ent >= 0 {
							f.entities[parent.ent].Language = lang
						}
					}
				}
				if kind != "span" {
					fr.ent = len(f.entities)
					f.entities = append(f.entities, ent)
				}
				parent.n.C = append(parent.n.C, fr.n)
				stack = append(stack, fr)
			}
			i += j + 1
		case '&':
			if r, n := htmlEntity(s[i:]); n > 0 {
				appendText(r)
				i += n
			} else {
				appendText("&")
				i++
			}
		default:
			k := strings.IndexAny(s[i:], "<&")
			if k < 0 {
				k = len(s) - i
			}
			appendText(s[i : i+k])
			i += k
		}
	}
	if len(stack) > 1 {
		return f, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].tag)
	}
	// Telegram drops empty entities.
	kept := f.entities[:0]
	for _, e := range f.entities {
		if e.Length > 0 {
			kept = append(kept, e)
		}
	}
	f.entities = kept
	if len(f.entities) == 0 {
		f.entities = nil
	}
	f.plain = b.String()
	f.tree = root.C
	return f, nil
}

// parseTag reads "name attr="v" attr2='w' attr3" (names lowercased).
func parseTag(inner string) (string, map[string]string) {
	inner = strings.TrimSuffix(strings.TrimSpace(inner), "/")
	name, rest, _ := strings.Cut(inner, " ")
	attrs := map[string]string{}
	rest = strings.TrimSpace(rest)
	for rest != "" {
		k := strings.IndexAny(rest, "= ")
		if k < 0 {
			attrs[strings.ToLower(rest)] = ""
			break
		}
		key := strings.ToLower(rest[:k])
		if rest[k] == ' ' {
			attrs[key] = ""
			rest = strings.TrimSpace(rest[k:])
			continue
		}
		rest = strings.TrimLeft(rest[k+1:], " ")
		var val string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			end := strings.IndexByte(rest[1:], rest[0])
			if end < 0 {
				val, rest = rest[1:], ""
			} else {
				val, rest = rest[1:1+end], rest[2+end:]
			}
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		if dec, n := htmlEntityString(val); n {
			val = dec
		}
		attrs[key] = val
		rest = strings.TrimSpace(rest)
	}
	return strings.ToLower(name), attrs
}

// htmlEntity decodes the entities Telegram supports (&lt; &gt; &amp; &quot;
// and numeric ones) at the start of s; anything else stays literal.
func htmlEntity(s string) (string, int) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 10 {
		return "", 0
	}
	name := s[1:end]
	switch name {
	case "lt":
		return "<", end + 1
	case "gt":
		return ">", end + 1
	case "amp":
		return "&", end + 1
	case "quot":
		return "\"", end + 1
	}
	if num, ok := strings.CutPrefix(name, "#"); ok {
		base := 10
		if h, ok := strings.CutPrefix(num, "x"); ok {
			num, base = h, 16
		}
		v, err := strconv.ParseUint(num, base, 32)
		if err == nil && utf8.ValidRune(rune(v)) && v != 0 {
			return string(rune(v)), end + 1
		}
	}
	return "", 0
}

func htmlEntityString(s string) (string, bool) {
	if !strings.Contains(s, "&") {
		return s, false
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '&' {
			if r, n := htmlEntity(s[i:]); n > 0 {
				b.WriteString(r)
				i += n
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), true
}

// commandEntities marks /commands the way Telegram does in user messages:
// a '/' at the start or after whitespace, then [A-Za-z0-9_]{1,32} and an
// optional @botname. go-telegram/bot's command handlers match on them.
func commandEntities(text string) []wireEntity {
	var out []wireEntity
	u16 := 0
	prevSpace := true
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == '/' && prevSpace {
			j := i + 1
			for j < len(text) && j-i <= 32 && isCmdByte(text[j]) {
				j++
			}
			if j > i+1 && (j == len(text) || !isCmdByte(text[j])) {
				if j < len(text) && text[j] == '@' {
					k := j + 1
					for k < len(text) && isCmdByte(text[k]) {
						k++
					}
					if k > j+1 {
						j = k
					}
				}
				out = append(out, wireEntity{Type: "bot_command", Offset: u16, Length: j - i})
				u16 += j - i
				i = j
				prevSpace = false
				continue
			}
		}
		prevSpace = r == ' ' || r == '\n' || r == '\t'
		u16 += utf16.RuneLen(r)
		i += size
	}
	return out
}

func isCmdByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
