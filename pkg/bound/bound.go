// Package bound holds the lengths the proxy cuts strings to before it keeps
// or shows them, so no record (a binding, an event, a log line, a TUI row)
// grows with what a client or an upstream sent. The limits are defined here
// once; README's "Bounds" section lists them.
package bound

import (
	"strings"
	"unicode/utf8"
)

const (
	// Model is the longest model name the proxy accepts, in bytes; a longer
	// one is refused with a 400 before any account is tried. The longest
	// real ids (fine-tuned ones such as
	// "ft:gpt-4o-mini-2024-07-18:org:suffix:AbC123") are under 100 bytes:
	// 256 leaves room for any of them and keeps a binding, an event and a
	// log line small.
	Model = 256
	// Text bounds every other string a record keeps: an error or detail in
	// words (which may quote an upstream's message), the items note, an
	// attempt's error, a target. The proxy's own sentences stay well under
	// it; only a quoted upstream text is ever cut.
	Text = 2048
)

// mark ends a string that was cut, so a reader sees it is not whole.
const mark = "…"

// Cut returns s if it is at most n bytes long; otherwise its longest prefix
// that, ending on a whole UTF-8 character, fits n bytes with "…" after it.
// Control characters are replaced either way (tab, newline and carriage
// return with a space, the others with U+FFFD): a kept string reaches
// terminals (the TUI, a tailed log), where an escape sequence would act
// instead of being read.
func Cut(s string, n int) string {
	s = cut(s, n)
	if HasControl(s) {
		// A replacement may be longer than what it replaces.
		s = cut(strings.Map(replace, s), n)
	}
	return s
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := max(n-len(mark), 0)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + mark
}

// replace turns white space controls into a space, which reads the same in
// one line, and any other control into U+FFFD.
func replace(r rune) rune {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return ' '
	case isControl(r):
		return utf8.RuneError
	}
	return r
}

// HasControl reports whether s holds a control character: C0, DEL or C1.
func HasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return true
		}
		// C1 controls are U+0080..U+009F, encoded as 0xC2 0x80..0x9F.
		if c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f {
			return true
		}
	}
	return false
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }
