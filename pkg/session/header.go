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
			return Key{Hash: HashID(v), Source: SourceHeader, Header: sh.name}, true
		}
	}
	return Key{}, false
}

// HashID is the session key of a conversation id sent in a session header
// (the SHA-256 hex of the id, spaces around it trimmed), so a user who knows
// their conversation id (Codex's session-id) can find or clear its binding
// without the proxy ever storing the id itself.
func HashID(id string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(id)))
	return hexString(sum[:])
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
