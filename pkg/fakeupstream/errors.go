package fakeupstream

import (
	"encoding/json"
	"net/http"
)

// apiError is the inner object of the OpenAI error body
// {"error":{"message","type","param","code"}}. Param and Code are JSON null when
// empty, as the real API sends them.
type apiError struct {
	Message string
	Type    string
	Param   string
	Code    string
}

// MarshalJSON writes param and code as null when empty, as the API does.
func (e apiError) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"message": e.Message,
		"type":    e.Type,
		"param":   nullable(e.Param),
		"code":    nullable(e.Code),
	})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// errorBody is the JSON of an OpenAI-shaped error.
func errorBody(e apiError) []byte {
	b, _ := json.Marshal(map[string]apiError{"error": e}) // cannot fail: strings only
	return b
}

func writeError(w http.ResponseWriter, status int, e apiError) {
	writeJSONBytes(w, status, errorBody(e))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, apiError{Message: "fakeupstream: " + err.Error(), Type: "server_error"})
		return
	}
	writeJSONBytes(w, status, b)
}

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// defaultStatusError is the body a bare Fault{Status: n} answers with, worded
// like the real API so a proxy that logs it shows something recognisable.
func defaultStatusError(status int) apiError {
	switch {
	case status == http.StatusUnauthorized:
		return apiError{Message: "Incorrect API key provided.", Type: "invalid_request_error", Code: "invalid_api_key"}
	case status == http.StatusForbidden:
		return apiError{Message: "You are not allowed to sample from this model.", Type: "invalid_request_error", Code: "model_not_found"}
	case status == http.StatusTooManyRequests:
		return apiError{Message: "Rate limit reached. Please try again later.", Type: "requests", Code: "rate_limit_exceeded"}
	case status == http.StatusServiceUnavailable:
		return apiError{Message: "The engine is currently overloaded, please try again later.", Type: "server_error", Code: "server_is_overloaded"}
	case status >= 500:
		return apiError{Message: "The server had an error while processing your request. Sorry about that!", Type: "server_error"}
	default:
		return apiError{Message: http.StatusText(status), Type: "invalid_request_error"}
	}
}
