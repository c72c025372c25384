package fakeupstream

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

type authMode int

const (
	authNone    authMode = iota // any request is accepted
	authAPIKey                  // Authorization: Bearer <api key>
	authChatGPT                 // Authorization: Bearer <access token> + chatgpt-account-id
)

// authConfig is the credential one fake account expects.
type authConfig struct {
	mode      authMode
	secret    string
	accountID string
	// echo quotes a refused key in the 401's message (see WithAPIKeyEcho).
	echo bool
}

// WithAPIKeyEcho is WithAPIKey for an upstream that quotes a refused key in
// full in its 401 ("Incorrect API key provided: sk-..."), as some
// OpenAI-compatible servers do: tests use it to check that the proxy keeps
// such a message from its client, its logs, its status and its events.
func WithAPIKeyEcho(key string) Option {
	return func(s *Server) {
		s.auth = authConfig{mode: authAPIKey, secret: key, echo: true}
	}
}

// check reports whether the headers carry this account's credentials. The
// error messages never echo what was sent, keys must not leak into test
// logs, unless the server was built WithAPIKeyEcho to play an upstream that
// does.
func (a authConfig) check(h http.Header) (apiError, bool) {
	if a.mode == authNone {
		return apiError{}, true
	}
	token, ok := bearer(h.Get("Authorization"))
	if !ok {
		return apiError{
			Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
			Type:    "invalid_request_error",
			Code:    "invalid_api_key",
		}, false
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(a.secret)) != 1 {
		msg := "Incorrect API key provided."
		if a.echo {
			msg = "Incorrect API key provided: " + token + ". You can find your API key at https://platform.openai.com/account/api-keys."
		}
		return apiError{
			Message: msg,
			Type:    "invalid_request_error",
			Code:    "invalid_api_key",
		}, false
	}
	if a.mode == authChatGPT && h.Get("Chatgpt-Account-Id") != a.accountID {
		return apiError{
			Message: "The chatgpt-account-id header is missing or does not match the access token.",
			Type:    "invalid_request_error",
			Code:    "invalid_account_id",
		}, false
	}
	return apiError{}, true
}

func bearer(v string) (string, bool) {
	const prefix = "bearer "
	if len(v) <= len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(v[len(prefix):]), true
}
