package sse

import (
	"strconv"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// Usage is the token accounting of one response.
type Usage struct {
	InputTokens, CachedTokens, OutputTokens, ReasoningTokens, TotalTokens int64
}

// Result is what the relay records about a finished response.
type Result struct {
	ResponseID, Model, Status string
	Usage                     Usage
	// ErrorCode, ErrorMessage and ErrorType come from response.error, set
	// on failure.
	ErrorCode, ErrorMessage, ErrorType string
}

// Completion reads the response object of a response.completed,
// response.incomplete or response.failed event (data
// {"type":...,"response":{...}}); ok is false for any other event or when
// the response is not a JSON object. The response's output, which can be
// hundreds of KB, is skipped, not decoded. A top-level error event carries
// no response object: Failure reads it and response.failed alike.
func Completion(event []byte) (Result, bool) {
	switch Type(event) {
	case "response.completed", "response.incomplete", "response.failed":
	default:
		return Result{}, false
	}
	var resp []byte
	_ = jsonscan.ObjectFields(Data(event), func(k, v []byte) bool {
		if string(k) == "response" {
			resp = v
			return false
		}
		return true
	})
	if len(resp) == 0 || resp[0] != '{' {
		return Result{}, false
	}
	res, _, err := parseResponse(resp)
	return res, err == nil
}

// ResponseJSON reads the same from a non-streaming Responses API body (the
// response object itself). ok is false when body is not a well-formed JSON
// object or has none of the fields Result holds.
func ResponseJSON(body []byte) (Result, bool) {
	res, found, err := parseResponse(body)
	return res, err == nil && found
}

// parseResponse reads the fields of a response object; found reports
// whether any of them was present.
func parseResponse(obj []byte) (res Result, found bool, err error) {
	err = jsonscan.ObjectFields(obj, func(k, v []byte) bool {
		switch string(k) {
		case "id":
			res.ResponseID, found = str(v), true
		case "model":
			res.Model, found = str(v), true
		case "status":
			res.Status, found = str(v), true
		case "usage":
			res.Usage, found = parseUsage(v), true
		case "error":
			res.ErrorCode, res.ErrorMessage, res.ErrorType = parseError(v)
			found = true
		}
		return true
	})
	return res, found, err
}

func parseUsage(v []byte) Usage {
	var u Usage
	_ = jsonscan.ObjectFields(v, func(k, v []byte) bool {
		switch string(k) {
		case "input_tokens":
			u.InputTokens = integer(v)
		case "output_tokens":
			u.OutputTokens = integer(v)
		case "total_tokens":
			u.TotalTokens = integer(v)
		case "input_tokens_details":
			u.CachedTokens = member(v, "cached_tokens")
		case "output_tokens_details":
			u.ReasoningTokens = member(v, "reasoning_tokens")
		}
		return true
	})
	return u
}

// member returns the integer member name of the object v.
func member(v []byte, name string) int64 {
	var n int64
	_ = jsonscan.ObjectFields(v, func(k, v []byte) bool {
		if string(k) == name {
			n = integer(v)
		}
		return true
	})
	return n
}

// Failure reads the error of an event that ends a stream in failure:
// response.failed (its response.error) or a top-level error event, in
// either of the shapes upstreams send, flat
// {"type":"error","code":...,"message":...,"param":...} or nested
// {"type":"error","error":{"type":...,"code":...,"message":...}}. ok is
// false for any other event; for a failure event whose fields are missing
// or unreadable it is true with empty strings, since the event still means
// the stream failed. typ is the error's type ("server_error",
// "invalid_request_error", "usage_limit_reached"), never the event's.
// Only the few fields are scanned: no event is decoded, and an event of
// another type costs no allocation.
func Failure(event []byte) (code, message, typ string, ok bool) {
	switch Type(event) {
	case "response.failed":
		var errObj []byte
		_ = jsonscan.ObjectFields(Data(event), func(k, v []byte) bool {
			if string(k) != "response" {
				return true
			}
			// error precedes output in the real API's field order, so the
			// scan stops before the (possibly large) output.
			_ = jsonscan.ObjectFields(v, func(k, v []byte) bool {
				if string(k) == "error" {
					errObj = v
					return false
				}
				return true
			})
			return false
		})
		code, message, typ = parseError(errObj)
		return code, message, typ, true
	case "error":
		var nc, nm, nt string // the nested error object's, which win
		_ = jsonscan.ObjectFields(Data(event), func(k, v []byte) bool {
			switch string(k) {
			case "error":
				if len(v) > 0 && v[0] == '"' {
					nm = str(v) // {"type":"error","error":"text"}
				} else {
					nc, nm, nt = parseError(v)
				}
			case "code":
				code = codeString(v)
			case "message":
				message = str(v)
			}
			return true
		})
		return firstNonEmpty(nc, code), firstNonEmpty(nm, message), nt, true
	}
	return "", "", "", false
}

// parseError reads {"code":...,"message":...,"type":...}; a numeric code is
// kept as text. Anything but an object gives empty strings.
func parseError(v []byte) (code, message, typ string) {
	if len(v) == 0 || v[0] != '{' {
		return "", "", ""
	}
	_ = jsonscan.ObjectFields(v, func(k, v []byte) bool {
		switch string(k) {
		case "code":
			code = codeString(v)
		case "message":
			message = str(v)
		case "type":
			typ = str(v)
		}
		return true
	})
	return code, message, typ
}

// codeString is an error code as text: a JSON string's value, a number's
// digits, "" for null.
func codeString(v []byte) string {
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return string(v)
	}
	return str(v)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// str is the value of a raw JSON string, "" for anything else (null).
func str(v []byte) string {
	if len(v) == 0 || v[0] != '"' {
		return ""
	}
	s, _ := jsonscan.String(v)
	return s
}

// integer is the value of a raw JSON number, 0 for anything else. Token
// counts are small integers: the digit loop avoids strconv and its string.
func integer(v []byte) int64 {
	if len(v) > 0 && len(v) <= 18 {
		var n int64
		for _, c := range v {
			if c < '0' || c > '9' {
				return parseNumber(v)
			}
			n = n*10 + int64(c-'0')
		}
		return n
	}
	return parseNumber(v)
}

// parseNumber handles the rare negative, fractional or huge count.
func parseNumber(v []byte) int64 {
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f >= 1<<63 || f < -(1<<63) {
		return 0
	}
	return int64(f)
}
