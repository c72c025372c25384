package session

import (
	"crypto/sha256"
	"net/http"
	"strings"
)

// sessionHeaders are the conversation id headers in order of precedence,
// with the form Go's header parsing gives them: underscores survive
// canonicalisation, so session_id arrives as Session_id, not Session-Id.
var sessionHeaders = []struct{ name, canonical string }{
	{"session_id", "Session_id"},
	{"session-id", "Session-Id"},
	{"conversation_id", "Conversation_id"},
	{"x-session-id", "X-Session-Id"},
	{"thread-id", "Thread-Id"},
}

// headerKey returns the key from the first session header with a non-empty value.
func headerKey(h http.Header) (Key, bool) {
	for _, sh := range sessionHeaders {
		if v := headerValue(h, sh.name, sh.canonical); v != "" {
			sum := sha256.Sum256([]byte(v))
			return Key{Hash: hexString(sum[:]), Source: SourceHeader, Header: sh.name}, true
		}
	}
	return Key{}, false
}

// headerValue looks the name up as a parsed request has it, then as a
// hand-built header map might (lower case, any case).
func headerValue(h http.Header, name, canonical string) string {
	vs, ok := h[canonical]
	if !ok {
		vs, ok = h[name]
	}
	if !ok {
		for k, kvs := range h {
			if strings.EqualFold(k, name) {
				vs = kvs
				break
			}
		}
	}
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
