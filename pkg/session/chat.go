package session

import (
	"crypto/sha256"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// SourceUser is a Chat Completions request's user field: the client's own
// name for the person it serves, so their conversations share an account
// (and its prompt cache) when nothing names the conversation itself.
const SourceUser Source = "user"

// ParseChat derives the Request of a Chat Completions body: the key from a
// header, else prompt_cache_key, else user, else the leading messages (the
// first with text mixed with the first user message, as Parse does for
// input). Errors are Parse's. NoStore is true: Chat Completions stores
// nothing unless asked, and the translation never asks.
func ParseChat(h http.Header, body []byte) (Request, error) { return parse(h, body, true) }

// hashed is the key of a raw JSON string's value.
func hashed(raw []byte, src Source) Key {
	v, _ := jsonscan.Unquote(raw)
	sum := sha256.Sum256(v)
	return Key{Hash: hexString(sum[:]), Source: src}
}
