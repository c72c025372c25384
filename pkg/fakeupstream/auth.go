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
}

// check reports whether the headers carry this account's credentials. The
// error messages never echo what was sent: keys must not leak into test logs.
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
		return apiError{
			Message: "Incorrect API key provided.",
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
