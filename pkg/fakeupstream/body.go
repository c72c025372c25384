package fakeupstream

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBody bounds what one request may send, decoded. Codex resends the whole
// history each turn, which reaches megabytes, so the bound is generous.
const maxBody = 64 << 20

// bodyError is a request body the fake refuses, with the status to answer.
type bodyError struct {
	status int
	apiError
}

// readBody reads and decodes the request body. The returned bytes are what is
// recorded even when decoding fails, so a test can see what was sent.
func readBody(r *http.Request) ([]byte, *bodyError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return raw, &bodyError{http.StatusBadRequest, apiError{Message: "could not read request body: " + err.Error(), Type: "invalid_request_error"}}
	}
	if len(raw) > maxBody {
		return raw, &bodyError{http.StatusRequestEntityTooLarge, apiError{Message: "request body too large", Type: "invalid_request_error"}}
	}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return raw, &bodyError{http.StatusBadRequest, apiError{Message: "invalid gzip request body: " + err.Error(), Type: "invalid_request_error"}}
		}
		dec, err := io.ReadAll(io.LimitReader(zr, maxBody+1))
		if err != nil || len(dec) > maxBody {
			return raw, &bodyError{http.StatusBadRequest, apiError{Message: "invalid or oversized gzip request body", Type: "invalid_request_error"}}
		}
		return dec, nil
	default:
		// zstd is what Codex sends with ChatGPT login; the standard library
		// cannot decode it, so the fake says so plainly instead of
		// misreading the bytes as bad JSON.
		return raw, &bodyError{http.StatusUnsupportedMediaType, apiError{
			Message: fmt.Sprintf("unsupported Content-Encoding %q (the fake upstream decodes gzip only)", enc),
			Type:    "invalid_request_error",
			Code:    "unsupported_content_encoding",
		}}
	}
}

// requestFields are the few body fields the fake acts on.
type requestFields struct {
	Model          string          `json:"model"`
	Stream         bool            `json:"stream"`
	Store          *bool           `json:"store"`
	PromptCacheKey string          `json:"prompt_cache_key"`
	Input          json.RawMessage `json:"input"`
	// Include is read leniently (wantsReasoning): a value the fake does
	// not understand mints no reasoning item rather than failing the body.
	Include json.RawMessage `json:"include"`
}

var errNotObject = errors.New("the body must be a JSON object")

// parseRequest decodes the body fields, answering like the real API when the
// body is not a JSON object.
func parseRequest(body []byte) (requestFields, *bodyError) {
	var f requestFields
	err := json.Unmarshal(body, &f)
	if err == nil && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		err = errNotObject
	}
	if err != nil {
		return f, unparsableBody()
	}
	return f, nil
}

// unparsableBody is the API's answer to a body that is not a JSON object.
func unparsableBody() *bodyError {
	return &bodyError{http.StatusBadRequest, apiError{
		Message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
		Type:    "invalid_request_error",
	}}
}

// model is the model the response reports: the requested one, or gpt-5.
func (f requestFields) model() string {
	if f.Model == "" {
		return "gpt-5"
	}
	return f.Model
}
