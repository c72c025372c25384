// Package apierror writes the errors the proxy itself makes in the shape
// OpenAI clients parse: {"error":{"message","type","param","code"}}.
package apierror

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Types used in the "type" field of errors the proxy makes.
const (
	TypeInvalidRequest     = "invalid_request_error"
	TypeAuthentication     = "authentication_error"
	TypePermission         = "permission_error"
	TypeRateLimit          = "rate_limit_error"
	TypeNoAvailableAccount = "no_available_account"
	TypeUpstream           = "upstream_error"
	TypeServer             = "server_error"
)

// Error is one OpenAI-shaped error. Message says what went wrong and what
// to do about it.
type Error struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
	// ResetsAt, for usage limits, is when the earliest limit resets (unix
	// seconds), in the field Codex reads.
	ResetsAt int64 `json:"resets_at,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter time.Duration `json:"-"`
}

// New returns an error with the given HTTP status, type and message, and a
// null param and code.
func New(status int, typ, message string) *Error {
	return &Error{Status: status, Type: typ, Message: message}
}

// WithCode sets the machine-readable code.
func (e *Error) WithCode(code string) *Error {
	e.Code = &code
	return e
}

// WithParam names the request parameter at fault.
func (e *Error) WithParam(param string) *Error {
	e.Param = &param
	return e
}

// Error returns the message, so an *Error can travel as an error.
func (e *Error) Error() string { return e.Message }

// Write sends e as the whole response.
func (e *Error) Write(w http.ResponseWriter) {
	body, _ := json.Marshal(struct {
		Error *Error `json:"error"`
	}{e})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}
