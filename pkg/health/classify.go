// Package health knows which accounts can take traffic: it classifies the
// outcome of every upstream attempt, keeps cooldowns in the shared store
// (so every instance avoids an account any of them saw limited), counts
// streams in flight, and remembers the rate-limit windows upstreams report.
// Selection only asks it "available?"; how that was decided stays here.
package health

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/bound"
)

// Class is what an attempt's outcome says about its account.
type Class string

const (
	// OK: the account served the request.
	OK Class = "ok"
	// Network: no response at all (refused, reset, TLS, timeout).
	Network Class = "network"
	// ServerError: 5xx, or a 200 stream that failed with an unknown code.
	// It counts toward the failure streak (Policy.FailureThreshold).
	ServerError Class = "server_error"
	// Overloaded: the upstream said it is overloaded or gave up on the
	// request with a server error inside a 200 stream (response.failed or
	// an error event with server_is_overloaded, server_error, ...), or a
	// 5xx said overloaded by its code. Such a failure is momentary and
	// already explicit, so it does not wait for a streak: the account
	// sits out a short Policy.OverloadCooldown (15s) and the turn fails
	// over; it adds nothing to the failure streak.
	Overloaded Class = "overloaded"
	// Quota: the account's usage limit is reached; it is out until a reset.
	Quota Class = "quota"
	// RateLimit: too many requests for now; Retry-After says how long.
	RateLimit Class = "rate_limit"
	// Unauthorized: a 401, or a 403 whose body names the credential
	// (invalid_api_key, account_deactivated, token_expired, ...): the
	// credential was refused and the account is invalid until it changes.
	Unauthorized Class = "unauthorized"
	// Forbidden: any other 403 (an HTML page from Cloudflare or a
	// gateway, unsupported_country_region_territory, a JSON 403 that does
	// not name the credential). It says nothing certain about the
	// credential, and marking the account invalid would take it out of
	// every instance for good; it sits out Policy.ForbiddenCooldown (5m)
	// instead.
	Forbidden Class = "forbidden"
	// NotAPI: the answer is not the API's: a 2xx that is neither an event
	// stream nor JSON (a captive portal, a CDN challenge page), or any 3xx
	// (a redirect, which the proxy never follows). Something on the way
	// answers for the upstream; like a Forbidden, it sits out
	// Policy.ForbiddenCooldown (5m).
	NotAPI Class = "not_api"
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

// credentialCodes are the error codes and types that say the credential
// itself was refused, which makes a 403 as final as a 401.
var credentialCodes = map[string]bool{
	"invalid_api_key":     true,
	"account_deactivated": true,
	"invalid_token":       true,
	"token_expired":       true,
	"token_invalidated":   true,
	"token_revoked":       true,
}

// credentialPhrases are what messages say when the credential was refused
// without a code that says so; matched in lower case.
var credentialPhrases = []string{
	"deactivated",
	"invalid token",
	"incorrect api key",
	"invalid api key",
	"authentication token has expired",
	"token has been invalidated",
}

// overloadCodes are the codes and types that say the upstream is
// overloaded; on an HTTP 5xx only these make Overloaded (another 5xx
// counts toward the failure streak).
var overloadCodes = map[string]bool{
	"server_is_overloaded": true,
	"overloaded":           true,
	"overloaded_error":     true,
	"service_unavailable":  true,
}

// streamFailureClasses says what a failure reported inside a 200 stream
// (response.failed, or an error event) means, by error code or type. A
// code missing here counts as ServerError.
var streamFailureClasses = func() map[string]Class {
	m := map[string]Class{
		"rate_limit_exceeded": RateLimit,
		"rate_limit_error":    RateLimit,
		// The upstream accepted the request and then gave up on it: a
		// momentary condition of the upstream, not a broken account.
		"server_error":          Overloaded,
		"internal_error":        Overloaded,
		"internal_server_error": Overloaded,
		"api_error":             Overloaded,
		"timeout":               Overloaded,
		// The request's own fault: another account would refuse it too.
		"context_length_exceeded":  ClientError,
		"invalid_prompt":           ClientError,
		"invalid_request_error":    ClientError,
		"invalid_value":            ClientError,
		"invalid_image":            ClientError,
		"invalid_image_url":        ClientError,
		"content_filter":           ClientError,
		"content_policy_violation": ClientError,
		"string_above_max_length":  ClientError,
		"model_not_found":          ClientError,
		"unsupported_parameter":    ClientError,
		"unsupported_value":        ClientError,
	}
	for c := range quotaCodes {
		m[c] = Quota
	}
	for c := range overloadCodes {
		m[c] = Overloaded
	}
	for c := range credentialCodes {
		m[c] = Unauthorized
	}
	return m
}()

// upstreamError is the part of an upstream error body that matters here.
// Detail is the {"detail":...} some backends (the ChatGPT one among them)
// answer with instead of {"error":...}: a string or an object.
type upstreamError struct {
	Error struct {
		Type            string          `json:"type"`
		Code            json.RawMessage `json:"code"`
		Message         string          `json:"message"`
		ResetsAt        float64         `json:"resets_at"`
		ResetsInSeconds float64         `json:"resets_in_seconds"`
	} `json:"error"`
	Detail json.RawMessage `json:"detail"`
}

// Classify decides the class of an attempt that got a response (status,
// headers, and the body of a non-2xx response) or none (err).
func Classify(now time.Time, status int, h http.Header, body []byte, err error) Outcome {
	if err != nil {
		return Outcome{Class: Network, Message: err.Error()}
	}
	if o, ok := notAPI(status, h, body); ok {
		return o
	}
	o := Outcome{Status: status}
	if status/100 == 2 {
		o.Class = OK
		return o
	}
	var ue upstreamError
	_ = json.Unmarshal(body, &ue)
	code := rawCode(ue.Error.Code)
	message := ue.Error.Message
	if code == "" && ue.Error.Type == "" && message == "" && len(ue.Detail) > 0 {
		code, message = detail(ue.Detail)
	}
	// An upstream's words are kept (status, cooldowns, logs, events):
	// they are cut like any other kept text.
	code, message = bound.Cut(code, bound.Text), bound.Cut(message, bound.Text)
	ue.Error.Type = bound.Cut(ue.Error.Type, bound.Text)
	o.Code = firstNonEmpty(code, ue.Error.Type)
	quota := quotaCodes[code] || quotaCodes[ue.Error.Type]
	if quotaCodes[ue.Error.Type] {
		o.Code = ue.Error.Type
	}
	o.Message = fmt.Sprintf("%d %s", status, firstNonEmpty(message, http.StatusText(status)))
	switch {
	case status == http.StatusTooManyRequests && quota:
		o.Class = Quota
		o.Until = quotaReset(now, ue, h)
	case status == http.StatusTooManyRequests:
		o.Class = RateLimit
		o.Until = retryAfter(now, h)
	case status == http.StatusPaymentRequired:
		// A pay-as-you-go provider's balance or credits are spent
		// (DeepSeek, OpenRouter): the account is out until someone pays,
		// whatever the request.
		o.Class = Quota
		o.Until = quotaReset(now, ue, h)
	case status == http.StatusUnauthorized:
		o.Class = Unauthorized
	case status == http.StatusForbidden && refusesCredential(code, ue.Error.Type, message):
		o.Class = Unauthorized
	case status == http.StatusForbidden:
		o.Class = Forbidden
		o.Message = forbiddenReason(h, body, o.Code, message)
	case status == http.StatusNotFound && code != "model_not_found":
		o.Class = NotFound
	case status >= 500 && (overloadCodes[code] || overloadCodes[ue.Error.Type]):
		o.Class = Overloaded
	case status == http.StatusRequestTimeout, status >= 500:
		o.Class = ServerError
	default:
		o.Class = ClientError
	}
	return o
}

// rawCode is an error code as text: a string's value or a number's digits;
// "" for null or nothing.
func rawCode(raw json.RawMessage) string {
	code := strings.Trim(string(raw), `"`)
	if code == "null" {
		return ""
	}
	return code
}

// detail reads {"detail":"text"} or {"detail":{"code":...,"message":...}}.
func detail(raw json.RawMessage) (code, message string) {
	if err := json.Unmarshal(raw, &message); err == nil {
		return "", message
	}
	var d struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	_ = json.Unmarshal(raw, &d)
	return rawCode(d.Code), d.Message
}

// refusesCredential reports whether a 403's error names the credential as
// the reason, by code, type or wording.
func refusesCredential(code, typ, message string) bool {
	if credentialCodes[code] || credentialCodes[typ] {
		return true
	}
	m := strings.ToLower(message)
	for _, p := range credentialPhrases {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// forbiddenReason says in words who refused with a 403 that is not about
// the credential, for logs, status and `accounts list`. The body of an
// HTML page is never quoted: it says nothing useful in a log line.
func forbiddenReason(h http.Header, body []byte, code, message string) string {
	html := isHTML(h, body)
	by := "a gateway"
	if h.Get("Cf-Ray") != "" || strings.EqualFold(h.Get("Server"), "cloudflare") ||
		(html && bytes.Contains(body, []byte("Cloudflare"))) {
		by = "Cloudflare"
	}
	switch {
	case html:
		return "403 from " + by + " (HTML page)"
	case code != "" && message != "":
		return "403 " + code + ": " + message
	case code != "" || message != "":
		return "403 " + code + message
	default:
		return "403 from " + by + " (no API error in the body)"
	}
}

// isHTML reports an HTML answer, by its Content-Type or its first byte.
func isHTML(h http.Header, body []byte) bool {
	if strings.Contains(strings.ToLower(h.Get("Content-Type")), "html") {
		return true
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '<'
}

// maxShown bounds what of an upstream's header a message quotes.
const maxShown = 64

// notAPI recognises an answer that is not the API's (see NotAPI). For a
// 2xx, body is its first bytes: enough to sniff an unlabeled one.
func notAPI(status int, h http.Header, body []byte) (Outcome, bool) {
	o := Outcome{Class: NotAPI, Status: status}
	switch {
	case status/100 == 3:
		// Only the host: a Location's path and query may carry anything.
		o.Message = fmt.Sprintf("redirected (%d) with no Location, not the API", status)
		if loc := h.Get("Location"); loc != "" {
			o.Message = fmt.Sprintf("redirected (%d) to a path on the same host, not the API", status)
			if u, err := url.Parse(loc); err == nil && u.Hostname() != "" {
				o.Message = fmt.Sprintf("redirected (%d) to %s, not the API", status, bound.Cut(u.Hostname(), 255))
			}
		}
		return o, true
	case status/100 == 2 && !IsAPIAnswer(h, body):
		what := "with no Content-Type"
		if mt := mediaType(h); mt != "" {
			what = bound.Cut(mt, maxShown)
		}
		o.Message = fmt.Sprintf("answered %d %s, not the API", status, what)
		return o, true
	}
	return Outcome{}, false
}

// IsAPIAnswer reports whether a 2xx answer is what the API sends: an
// event stream or JSON (application/json, or any type ending in +json).
// An answer labeled text/plain or not labeled at all is JSON when head,
// its first bytes, starts (past white space) with '{' or '['; HTML and
// any other type are not the API.
func IsAPIAnswer(h http.Header, head []byte) bool {
	switch mt := mediaType(h); {
	case mt == "text/event-stream", mt == "application/json", strings.HasSuffix(mt, "+json"):
		return true
	case mt == "", mt == "text/plain":
		b := bytes.TrimLeft(head, " \t\r\n")
		return len(b) > 0 && (b[0] == '{' || b[0] == '[')
	}
	return false
}

// mediaType is the answer's media type in lower case, without
// parameters; "" when none.
func mediaType(h http.Header) string {
	v := h.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(v); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// ClassifyFailedStream is ClassifyStreamFailure without an error type.
func ClassifyFailedStream(code, message string) Outcome {
	return ClassifyStreamFailure(code, message, "")
}

// ClassifyStreamFailure is the outcome of a 200 stream that reported a
// failure (response.failed, or a top-level error event) before any output
// reached the client; code, message and typ are what sse.Failure returns,
// in that order. Upstreams report overload and limits this way after
// response.created, so a quota or rate-limit code here counts as it does on
// a 429, overload and server errors as Overloaded, request faults
// (context_length_exceeded, invalid_prompt, invalid_request_error) as
// ClientError. The code decides; typ is the fallback when the code is
// empty or unknown. Neither known: ServerError. Quota has no reset time
// here (the stream carries none), so the Tracker's default applies.
func ClassifyStreamFailure(code, message, typ string) Outcome {
	code, message, typ = bound.Cut(code, bound.Text), bound.Cut(message, bound.Text), bound.Cut(typ, bound.Text)
	o := Outcome{Class: ServerError, Status: http.StatusOK, Code: firstNonEmpty(code, typ)}
	if c, ok := streamFailureClasses[code]; ok {
		o.Class = c
	} else if c, ok := streamFailureClasses[typ]; ok {
		// The type decided, so it is the code worth showing (as Classify
		// does with a usage_limit_reached type).
		o.Class, o.Code = c, typ
	}
	switch said := firstNonEmpty(code, typ); {
	case message != "" && said != "":
		o.Message = "stream failed: " + message + " (" + said + ")"
	case message != "" || said != "":
		o.Message = "stream failed: " + message + said
	default:
		o.Message = "stream failed with no error code or message"
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
