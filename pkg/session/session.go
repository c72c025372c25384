// Package session derives the sticky-session key of a Responses API request,
// and the few body fields the router needs, without decoding the body: Codex
// resends the whole conversation every turn, so bodies reach megabytes.
package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/proxy-dev/proxy/pkg/bound"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// Source names what a session key was derived from; the TUI shows it so that
// a weak key (instructions, first message) is visible.
type Source string

// The sources of a session key, in order of precedence.
const (
	// SourceHeader is a conversation id header such as session-id.
	SourceHeader Source = "header"
	// SourcePromptCacheKey is the body's prompt_cache_key.
	SourcePromptCacheKey Source = "prompt_cache_key"
	// SourceInstructions is the body's instructions mixed with the first user message.
	SourceInstructions Source = "instructions"
	// SourceFirstInput is the first input message mixed with the first user message.
	SourceFirstInput Source = "first_input"
	// SourceNone means there was nothing to key on: the router picks without stickiness.
	SourceNone Source = "none"
)

// ErrMalformed is wrapped by Parse's error when the body is not a JSON object.
var ErrMalformed = errors.New("session: malformed request body")

// ErrModelTooLong is wrapped by Parse's error when the body's model is
// longer than bound.Model bytes: no real model's name is, and the proxy
// keeps and shows the model in bindings, events and logs.
var ErrModelTooLong = errors.New("session: model too long")

// ErrModelControl is wrapped by Parse's error when the body's model holds
// a control character (C0, DEL or C1): no real model's name does, and the
// model is shown on terminals.
var ErrModelControl = errors.New("session: model holds a control character")

// Key identifies a conversation.
type Key struct {
	// Hash is the SHA-256 hex of the winning source's value; empty for SourceNone.
	// Hashing keeps conversation content out of Redis, logs and the TUI.
	Hash string
	// Source is what the key was derived from.
	Source Source
	// Header is the header that won (its documented lower-case spelling),
	// set only for SourceHeader.
	Header string
}

// Short returns the first 12 hex characters of the hash, enough to tell
// sessions apart in logs and the TUI; "" when there is no key.
func (k Key) Short() string {
	if len(k.Hash) < 12 {
		return k.Hash
	}
	return k.Hash[:12]
}

// Request is what the router needs from a request.
type Request struct {
	// Model is the body's model, "" when absent or not a string.
	Model string
	// Stream is true when the body's stream is literally true.
	Stream bool
	// NoStore is true when the body's store is literally false (the
	// ChatGPT backend requires it; the API's default is to store).
	NoStore bool
	// Key is the conversation's sticky-session key.
	Key Key
	// Sampling is true when the body sets an output limit, temperature,
	// top_p or a penalty: the ChatGPT backend refuses each of them.
	Sampling bool
}

// Parse derives the Request from the headers and the raw JSON body. The body
// is walked once without decoding; only the first messages of input are
// looked into, and only when no header or prompt_cache_key names the
// conversation. When the body is not a well-formed JSON object the error
// wraps ErrMalformed, and the Request still carries a header key if one was
// sent. When the model is too long or holds a control character the error
// wraps ErrModelTooLong or ErrModelControl, and the Request is whole but
// for its Model, which is cut (bound.Cut) for the record of the refusal.
func Parse(h http.Header, body []byte) (Request, error) { return parse(h, body, false) }

// parse is Parse of a Responses request, or ParseChat's of a chat one.
func parse(h http.Header, body []byte, chat bool) (Request, error) {
	hk, hasHeader := headerKey(h)
	f := fields{chat: chat}
	if err := jsonscan.ObjectFields(body, f.add); err != nil {
		if !hasHeader {
			hk = Key{Source: SourceNone}
		}
		return Request{Key: hk}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	req := Request{Stream: string(f.stream) == "true", NoStore: chat || string(f.store) == "false", Sampling: f.sampling}
	var modelErr error
	if isString(f.model) {
		req.Model, modelErr = model(f.model)
	}
	switch {
	case hasHeader:
		req.Key = hk
	case nonEmptyString(f.promptCacheKey):
		req.Key = hashed(f.promptCacheKey, SourcePromptCacheKey)
	case chat && nonEmptyString(f.user):
		req.Key = hashed(f.user, SourceUser)
	default:
		req.Key = bodyKey(&f)
	}
	return req, modelErr
}

// maxEscaped is the longest raw JSON string that can decode to bound.Model
// bytes: an escape (\u0041) is at most six raw bytes a decoded byte.
const maxEscaped = 6*bound.Model + 2

// model unquotes the raw model, refusing one too long or holding a control
// character. A raw string too long to fit once decoded is not decoded: an
// 8 MiB model would be copied for nothing.
func model(raw []byte) (string, error) {
	if len(raw) > maxEscaped {
		// For the record, the start of it as sent when it has no escape.
		head := raw[1 : bound.Model+2]
		var m string
		if bytes.IndexByte(head, '\\') < 0 {
			m = bound.Cut(string(head), bound.Model)
		}
		return m, fmt.Errorf("%w: more than %d bytes", ErrModelTooLong, bound.Model)
	}
	// The body is validated, so unquoting cannot fail.
	m, _ := jsonscan.String(raw)
	switch {
	case len(m) > bound.Model:
		return bound.Cut(m, bound.Model), fmt.Errorf("%w: %d bytes, more than %d", ErrModelTooLong, len(m), bound.Model)
	case bound.HasControl(m):
		return bound.Cut(m, bound.Model), ErrModelControl
	}
	return m, nil
}

// fields holds the raw values of the top-level members Parse cares about.
// Later duplicates overwrite earlier ones, as with encoding/json.
type fields struct {
	model, stream, store, promptCacheKey, instructions, input, user []byte
	sampling                                                        bool
	// chat: the body is a Chat Completions request, whose conversation is
	// its messages and whose user may name it; input and instructions are
	// not its fields, and never name it.
	chat bool
}

func (f *fields) add(key, value []byte) bool {
	if f.chat {
		switch string(key) {
		case "messages":
			f.input = value
			return true
		case "user":
			f.user = value
			return true
		case "input", "instructions":
			return true
		}
	}
	switch string(key) {
	case "model":
		f.model = value
	case "stream":
		f.stream = value
	case "store":
		f.store = value
	case "prompt_cache_key":
		f.promptCacheKey = value
	case "instructions":
		f.instructions = value
	case "input":
		f.input = value
	case "max_output_tokens", "max_tokens", "max_completion_tokens", "temperature", "top_p", "frequency_penalty", "presence_penalty":
		f.sampling = f.sampling || string(value) != "null"
	}
	return true
}

func isString(raw []byte) bool { return len(raw) >= 2 && raw[0] == '"' }

// nonEmptyString reports a JSON string with a non-empty value: any escape
// decodes to at least one byte, so the raw length is enough.
func nonEmptyString(raw []byte) bool { return len(raw) > 2 && raw[0] == '"' }

func hexString(sum []byte) string {
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum)
	return string(buf[:])
}
