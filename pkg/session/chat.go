package session

import (
	"crypto/sha256"
	"fmt"
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
func ParseChat(h http.Header, body []byte) (Request, error) {
	hk, hasHeader := headerKey(h)
	var f fields
	var user []byte
	err := jsonscan.ObjectFields(body, func(k, v []byte) bool {
		switch string(k) {
		case "messages":
			f.input = v
		case "user":
			user = v
		case "input", "instructions":
			// Not chat fields: never let them name the conversation.
		default:
			f.add(k, v)
		}
		return true
	})
	if err != nil {
		if !hasHeader {
			hk = Key{Source: SourceNone}
		}
		return Request{Key: hk}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	req := Request{Stream: string(f.stream) == "true", NoStore: true, Sampling: f.sampling}
	var modelErr error
	if isString(f.model) {
		req.Model, modelErr = model(f.model)
	}
	switch {
	case hasHeader:
		req.Key = hk
	case nonEmptyString(f.promptCacheKey):
		req.Key = hashed(f.promptCacheKey, SourcePromptCacheKey)
	case nonEmptyString(user):
		req.Key = hashed(user, SourceUser)
	default:
		req.Key = bodyKey(&f)
	}
	return req, modelErr
}

// hashed is the key of a raw JSON string's value.
func hashed(raw []byte, src Source) Key {
	v, _ := jsonscan.Unquote(raw)
	sum := sha256.Sum256(v)
	return Key{Hash: hexString(sum[:]), Source: src}
}
