package session

import (
	"bytes"
	"crypto/sha256"
	"hash"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// bodyKey is the fallback when nothing names the conversation: the
// instructions or the first input message. Both are shared by every
// conversation of a client (Codex's first message is a 20k-character
// developer prompt), so the first user message is mixed in to keep different
// conversations apart.
func bodyKey(f *fields) Key {
	first, user := firstMessages(f.input)
	var src Source
	var lead []byte
	switch {
	case nonEmptyString(f.instructions):
		src, lead = SourceInstructions, f.instructions
	case first != nil:
		src, lead = SourceFirstInput, first
	default:
		return Key{Source: SourceNone}
	}
	h := sha256.New()
	writeText(h, lead)
	h.Write([]byte{0})
	writeText(h, user)
	var sum [sha256.Size]byte
	return Key{Hash: hexString(h.Sum(sum[:0])), Source: src}
}

// firstMessages returns the content of the first input message with text and
// of the first such message with role user; each is a raw JSON string or an
// array of content parts. A plain-string input is both.
func firstMessages(input []byte) (first, user []byte) {
	if nonEmptyString(input) {
		return input, input
	}
	if len(input) == 0 || input[0] != '[' {
		return nil, nil
	}
	// The body was validated as a whole, so errors cannot happen here, and
	// the walk stops as soon as both messages are found.
	_ = jsonscan.ArrayElems(input, func(item []byte) bool {
		content, isUser := message(item)
		if content == nil {
			return true
		}
		if first == nil {
			first = content
		}
		if isUser && user == nil && !injectedContext(content) {
			user = content
		}
		return user == nil
	})
	return first, user
}

// injectedContext reports a user message that a client generated rather
// than the user typed: Codex sends <environment_context> (working folder,
// shell, date) as the first user message, the same for every conversation
// started in one folder on one day, so it cannot tell conversations apart.
func injectedContext(content []byte) bool {
	injected := false
	eachText(content, func(raw []byte) bool {
		injected = bytes.HasPrefix(raw, []byte(`"<environment_context>`))
		return false
	})
	return injected
}

// message returns the content of an input item that is a message with text,
// or nil. Other items (additional_tools, reasoning, function calls) are
// skipped: they carry no conversation text.
func message(item []byte) (content []byte, isUser bool) {
	if len(item) == 0 || item[0] != '{' {
		return nil, false
	}
	var typ, role []byte
	_ = jsonscan.ObjectFields(item, func(k, v []byte) bool {
		switch string(k) {
		case "type":
			typ = v
		case "role":
			role = v
		case "content":
			content = v
		}
		return true
	})
	if (typ != nil && !jsonscan.Equal(typ, "message")) || !isString(role) || !hasText(content) {
		return nil, false
	}
	return content, jsonscan.Equal(role, "user")
}

// hasText reports whether content holds any non-empty text.
func hasText(content []byte) bool {
	found := false
	eachText(content, func(raw []byte) bool {
		found = nonEmptyString(raw)
		return !found
	})
	return found
}

// writeText hashes the text of content, its parts concatenated.
func writeText(h hash.Hash, content []byte) {
	eachText(content, func(raw []byte) bool {
		v, _ := jsonscan.Unquote(raw)
		h.Write(v)
		return true
	})
}

// eachText calls fn with the raw JSON string of each text in content: the
// content itself when it is a string, else the text of every part typed
// input_text, output_text or text.
func eachText(content []byte, fn func(raw []byte) bool) {
	switch {
	case isString(content):
		fn(content)
	case len(content) > 0 && content[0] == '[':
		_ = jsonscan.ArrayElems(content, func(part []byte) bool {
			if len(part) == 0 || part[0] != '{' {
				return true
			}
			var typ, text []byte
			_ = jsonscan.ObjectFields(part, func(k, v []byte) bool {
				switch string(k) {
				case "type":
					typ = v
				case "text":
					text = v
				}
				return true
			})
			if !isString(text) || !(jsonscan.Equal(typ, "input_text") || jsonscan.Equal(typ, "output_text") || jsonscan.Equal(typ, "text")) {
				return true
			}
			return fn(text)
		})
	}
}
