// Package health knows which accounts can take traffic: it classifies the
// outcome of every upstream attempt, keeps cooldowns in the shared store
// (so every instance avoids an account any of them saw limited), counts
// streams in flight, and remembers the rate-limit windows upstreams report.
// Selection only asks it "available?"; how that was decided stays here.
package health

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class is what an attempt's outcome says about its account.
type Class string

const (
	// OK: the account served the request.
	OK Class = "ok"
	// Network: no response at all (refused, reset, TLS, timeout).
	Network Class = "network"
	// ServerError: 5xx, or a 200 stream whose first event was a failure.
	ServerError Class = "server_error"
	// Quota: the account's usage limit is reached; it is out until a reset.
	Quota Class = "quota"
	// RateLimit: too many requests for now; Retry-After says how long.
	RateLimit Class = "rate_limit"
	// Unauthorized: 401/403, the credential was refused.
	Unauthorized Class = "unauthorized"
	// NotFound: 404, the base URL does not serve this endpoint.
	NotFound Class = "not_found"
	// ClientError: another 4xx, the request's own fault; no failover.
	ClientError Class = "client_error"
)

// Failover reports whether another account might succeed where this one
// failed.
func (c Class) Failover() bool {
	return c != OK && c != ClientError
}

// Outcome is the classified result of one attempt.
type Outcome struct {
	Class   Class
	Status  int    // HTTP status, 0 when none arrived
	Code    string // the upstream's error code or type, when it gave one
	Message string // in words, for logs and status
	// Until is when a quota resets or a rate limit lifts, when the upstream
	// said; zero otherwise.
	Until time.Time
}

// quotaCodes are the 429 error types and codes that mean a usage limit,
// not a momentary rate limit: reading them as a rate limit would retry a
// dead account, reading a rate limit as quota would lock an account for
// hours.
var quotaCodes = map[string]bool{
	"usage_limit_reached": true,
	"usage_not_included":  true,
	"insufficient_quota":  true,
}

// upstreamError is the part of an upstream error body that matters here.
type upstreamError struct {
	Error struct {
		Type            string          `json:"type"`
		Code            json.RawMessage `json:"code"`
		Message         string          `json:"message"`
		ResetsAt        float64         `json:"resets_at"`
		ResetsInSeconds float64         `json:"resets_in_seconds"`
	} `json:"error"`
}

// Classify decides the class of an attempt that got a response (status,
// headers, and the body of a non-2xx response) or none (err).
func Classify(now time.Time, status int, h http.Header, body []byte, err error) Outcome {
	if err != nil {
		return Outcome{Class: Network, Message: err.Error()}
	}
	o := Outcome{Status: status}
	if status/100 == 2 {
		o.Class = OK
		return o
	}
	var ue upstreamError
	_ = json.Unmarshal(body, &ue)
	code := strings.Trim(string(ue.Error.Code), `"`)
	if code == "null" {
		code = ""
	}
	o.Code = firstNonEmpty(code, ue.Error.Type)
	quota := quotaCodes[code] || quotaCodes[ue.Error.Type]
	if quotaCodes[ue.Error.Type] {
		o.Code = ue.Error.Type
	}
	o.Message = fmt.Sprintf("%d %s", status, firstNonEmpty(ue.Error.Message, http.StatusText(status)))
	switch {
	case status == http.StatusTooManyRequests && quota:
		o.Class = Quota
		o.Until = quotaReset(now, ue, h)
	case status == http.StatusTooManyRequests:
		o.Class = RateLimit
		o.Until = retryAfter(now, h)
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		o.Class = Unauthorized
	case status == http.StatusNotFound && code != "model_not_found":
		o.Class = NotFound
	case status == http.StatusRequestTimeout, status >= 500:
		o.Class = ServerError
	default:
		o.Class = ClientError
	}
	return o
}

// ClassifyFailedStream is the outcome of a 200 stream whose first event
// reported a failure (some upstreams send overload that way).
func ClassifyFailedStream(code, message string) Outcome {
	o := Outcome{Class: ServerError, Status: http.StatusOK, Code: code, Message: "stream failed at once: " + firstNonEmpty(message, code)}
	switch {
	case quotaCodes[code]:
		o.Class = Quota
	case code == "rate_limit_exceeded":
		o.Class = RateLimit
	}
	return o
}

// quotaReset finds when a usage limit resets: the body's resets_at or
// resets_in_seconds, else the latest reset among the x-codex windows that
// are used up; zero when nothing says.
func quotaReset(now time.Time, ue upstreamError, h http.Header) time.Time {
	if ue.Error.ResetsAt > 0 {
		return time.Unix(int64(ue.Error.ResetsAt), 0)
	}
	if ue.Error.ResetsInSeconds > 0 {
		return now.Add(time.Duration(ue.Error.ResetsInSeconds * float64(time.Second)))
	}
	var latest time.Time
	for _, w := range []string{"primary", "secondary"} {
		used, _ := strconv.ParseFloat(h.Get("X-Codex-"+w+"-Used-Percent"), 64)
		at, err := strconv.ParseInt(h.Get("X-Codex-"+w+"-Reset-At"), 10, 64)
		if err == nil && used >= 100 && time.Unix(at, 0).After(latest) {
			latest = time.Unix(at, 0)
		}
	}
	return latest
}

// retryAfter reads Retry-After (seconds or an HTTP date) or
// retry-after-ms; zero when absent.
func retryAfter(now time.Time, h http.Header) time.Time {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return now.Add(time.Duration(ms * float64(time.Millisecond)))
	}
	v := h.Get("Retry-After")
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return now.Add(time.Duration(s * float64(time.Second)))
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
