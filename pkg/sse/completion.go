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
	// ErrorCode and ErrorMessage come from response.error, set on failure.
	ErrorCode, ErrorMessage string
}

// Completion reads the response object of a response.completed,
// response.incomplete or response.failed event (data
// {"type":...,"response":{...}}); ok is false for any other event or when
// the response is not a JSON object. The response's output, which can be
// hundreds of KB, is skipped, not decoded.
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
			res.ErrorCode, res.ErrorMessage = parseError(v)
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

// parseError reads {"code":...,"message":...}; a numeric code is kept as text.
func parseError(v []byte) (code, message string) {
	_ = jsonscan.ObjectFields(v, func(k, v []byte) bool {
		switch string(k) {
		case "code":
			if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
				code = string(v)
			} else {
				code = str(v)
			}
		case "message":
			message = str(v)
		}
		return true
	})
	return code, message
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
