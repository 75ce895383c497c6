package emulator

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseHTML(t *testing.T) {
	for _, tc := range []struct{ in, plain, ents string }{
		{"plain", "plain", "[]"},
		{"<b>a<i>b</i></b>c", "abc", "[{bold 0 2  } {italic 1 1  }]"},
		{"😀<u>x</u>", "😀x", "[{underline 2 1  }]"}, // offsets in UTF-16 units
		{`<pre><code class="language-go">x := 1</code></pre>`, "x := 1", "[{pre 0 6  go}]"},
		{"&lt;&amp;&gt;&quot;&#65;&#x42;&nbsp;", `<&>"AB&nbsp;`, "[]"},
		{`<a href="https://x.org/?a=1&amp;b=2">l</a>`, "l", "[{text_link 0 1 https://x.org/?a=1&b=2 }]"},
		{`<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler><blockquote expandable>q</blockquote>`, "stq",
			"[{spoiler 0 1  } {spoiler 1 1  } {expandable_blockquote 2 1  }]"},
		{"<b></b>x", "x", "[]"},
	} {
		f, err := parseHTML(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if f.plain != tc.plain || fmt.Sprint(f.entities) != tc.ents && !(tc.ents == "[]" && f.entities == nil) {
			t.Errorf("%q: %q %v, want %q %s", tc.in, f.plain, f.entities, tc.plain, tc.ents)
		}
	}
	for in, want := range map[string]string{
		"<b>x":               `Can't find end tag corresponding to start tag "b"`,
		"x</b>":              "Unexpected end tag at byte offset 1",
		"<b><i>x</b></i>":    `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`,
		"<script>x</script>": `Unsupported start tag "script" at byte offset 0`,
		"<span>x</span>":     `Unsupported start tag "span"`,
		"a <b":               "Can't find end of the tag",
	} {
		if _, err := parseHTML(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestCommandEntities(t *testing.T) {
	for in, want := range map[string]string{
		"/start":              "[{bot_command 0 6  }]",
		"/send@my_bot 1 ETH":  "[{bot_command 0 12  }]",
		"hi /help and a/b /x": "[{bot_command 3 5  } {bot_command 17 2  }]",
		"no commands":         "[]",
	} {
		if got := fmt.Sprint(commandEntities(in)); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}
