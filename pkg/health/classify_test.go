package health_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/health"
)

// classifyNow is the fixed "now" every Classify case is judged at.
var classifyNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestClassify(t *testing.T) {
	resetsAt := classifyNow.Add(3*time.Hour + 17*time.Minute)
	primaryReset := classifyNow.Add(2 * time.Hour)
	secondaryReset := classifyNow.Add(4 * 24 * time.Hour)

	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		err       error
		wantClass health.Class
		wantCode  string
		wantUntil time.Time
		// wantMsg, when set, must appear in Outcome.Message.
		wantMsg string
	}{
		{
			name: "200 ok", status: 200, header: hdr("Content-Type", "text/event-stream"), body: "",
			wantClass: health.OK,
		},
		{
			name: "201 is still ok", status: 201, header: hdr("Content-Type", "application/json"),
			wantClass: health.OK,
		},
		{
			name:   "429 usage_limit_reached with resets_at",
			status: 429,
			header: hdr("Content-Type", "application/json", "X-Codex-Active-Limit", "primary"),
			body: `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached",` +
				`"plan_type":"plus","resets_at":` + unix(resetsAt) + `}}`,
			wantClass: health.Quota, wantCode: "usage_limit_reached", wantUntil: resetsAt,
			wantMsg: "The usage limit has been reached",
		},
		{
			name:      "429 usage_limit_reached with resets_in_seconds (older backend)",
			status:    429,
			body:      `{"error":{"type":"usage_limit_reached","message":"limit","plan_type":"pro","resets_in_seconds":5400}}`,
			wantClass: health.Quota, wantCode: "usage_limit_reached", wantUntil: classifyNow.Add(90 * time.Minute),
		},
		{
			name:      "resets_at wins over resets_in_seconds and headers",
			status:    429,
			header:    hdr("X-Codex-Primary-Used-Percent", "100", "X-Codex-Primary-Reset-At", unix(primaryReset)),
			body:      `{"error":{"type":"usage_limit_reached","resets_at":` + unix(resetsAt) + `,"resets_in_seconds":60}}`,
			wantClass: health.Quota, wantCode: "usage_limit_reached", wantUntil: resetsAt,
		},
		{
			name:   "429 usage_limit_reached, no reset in body: primary window used up",
			status: 429,
			header: hdr(
				"X-Codex-Primary-Used-Percent", "100",
				"X-Codex-Primary-Window-Minutes", "300",
				"X-Codex-Primary-Reset-At", unix(primaryReset),
				"X-Codex-Secondary-Used-Percent", "41",
				"X-Codex-Secondary-Window-Minutes", "10080",
				"X-Codex-Secondary-Reset-At", unix(secondaryReset),
			),
			body:      `{"error":{"type":"usage_limit_reached","message":"limit"}}`,
			wantClass: health.Quota, wantCode: "usage_limit_reached", wantUntil: primaryReset,
		},
		{
			name:   "429 usage_limit_reached, no reset in body: secondary window used up",
			status: 429,
			header: hdr(
				"X-Codex-Primary-Used-Percent", "63",
				"X-Codex-Primary-Reset-At", unix(primaryReset),
				"X-Codex-Secondary-Used-Percent", "100.0",
				"X-Codex-Secondary-Reset-At", unix(secondaryReset),
			),
			body:      `{"error":{"type":"usage_limit_reached"}}`,
			wantClass: health.Quota, wantCode: "usage_limit_reached", wantUntil: secondaryReset,
		},
		{
			name:   "429 usage_limit_reached, both windows used up: the later reset",
			status: 429,
			header: hdr(
				"X-Codex-Primary-Used-Percent", "100",
				"X-Codex-Primary-Reset-At", unix(primaryReset),
				"X-Codex-Secondary-Used-Percent", "100",
				"X-Codex-Secondary-Reset-At", unix(secondaryReset),
			),
			body:      `{"error":{"type":"usage_limit_reached"}}`,
			wantClass: health.Quota, wantCode: "usage_limit_reached", wantUntil: secondaryReset,
		},
		{
			name:      "429 usage_limit_reached, nothing says when: zero Until",
			status:    429,
			header:    hdr("X-Codex-Primary-Used-Percent", "99", "X-Codex-Primary-Reset-At", unix(primaryReset)),
			body:      `{"error":{"type":"usage_limit_reached"}}`,
			wantClass: health.Quota, wantCode: "usage_limit_reached",
		},
		{
			name:      "429 usage_not_included",
			status:    429,
			body:      `{"error":{"type":"usage_not_included","message":"Your plan does not include Codex"}}`,
			wantClass: health.Quota, wantCode: "usage_not_included",
		},
		{
			name:      "429 insufficient_quota as type",
			status:    429,
			body:      `{"error":{"type":"insufficient_quota"}}`,
			wantClass: health.Quota, wantCode: "insufficient_quota",
		},
		{
			name:   "429 insufficient_quota as code with type requests",
			status: 429,
			body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",` +
				`"type":"requests","param":null,"code":"insufficient_quota"}}`,
			wantClass: health.Quota, wantCode: "insufficient_quota",
			wantMsg: "You exceeded your current quota",
		},
		{
			// DeepSeek's answer when the account's balance is spent.
			name:      "402 insufficient balance",
			status:    402,
			body:      `{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}`,
			wantClass: health.Quota, wantCode: "invalid_request_error", wantMsg: "Insufficient Balance",
		},
		{
			// OpenRouter's, with a number for its code.
			name:      "402 insufficient credits",
			status:    402,
			body:      `{"error":{"message":"Insufficient credits. Add more using https://openrouter.ai/settings/credits","code":402}}`,
			wantClass: health.Quota, wantCode: "402", wantMsg: "Insufficient credits",
		},
		{
			name:   "429 rate limit with Retry-After seconds",
			status: 429,
			header: hdr("Retry-After", "7"),
			body: `{"error":{"message":"Rate limit reached for gpt-5 on tokens per min (TPM)",` +
				`"type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			wantClass: health.RateLimit, wantCode: "rate_limit_exceeded", wantUntil: classifyNow.Add(7 * time.Second),
		},
		{
			name:      "429 rate limit with Retry-After HTTP date",
			status:    429,
			header:    hdr("Retry-After", classifyNow.Add(95*time.Second).Format(http.TimeFormat)),
			body:      `{"error":{"type":"requests","code":"rate_limit_exceeded"}}`,
			wantClass: health.RateLimit, wantCode: "rate_limit_exceeded", wantUntil: classifyNow.Add(95 * time.Second),
		},
		{
			name:      "429 rate limit with retry-after-ms",
			status:    429,
			header:    hdr("retry-after-ms", "1500"),
			body:      `{"error":{"code":"rate_limit_exceeded"}}`,
			wantClass: health.RateLimit, wantCode: "rate_limit_exceeded", wantUntil: classifyNow.Add(1500 * time.Millisecond),
		},
		{
			name:      "retry-after-ms wins over Retry-After",
			status:    429,
			header:    hdr("Retry-After-Ms", "250", "Retry-After", "9"),
			body:      `{"error":{"code":"rate_limit_exceeded"}}`,
			wantClass: health.RateLimit, wantCode: "rate_limit_exceeded", wantUntil: classifyNow.Add(250 * time.Millisecond),
		},
		{
			name:      "429 rate limit without any hint",
			status:    429,
			body:      `{"error":{"code":"rate_limit_exceeded"}}`,
			wantClass: health.RateLimit, wantCode: "rate_limit_exceeded",
		},
		{
			name:      "429 with a non-JSON body is a rate limit, not quota",
			status:    429,
			header:    hdr("Retry-After", "3"),
			body:      "<html>Too Many Requests</html>",
			wantClass: health.RateLimit, wantUntil: classifyNow.Add(3 * time.Second),
			wantMsg: "429 Too Many Requests",
		},
		{
			name:   "429 with quota headers but a rate-limit body is not quota",
			status: 429,
			header: hdr("X-Codex-Primary-Used-Percent", "100", "X-Codex-Primary-Reset-At", unix(primaryReset)),
			body:   `{"error":{"code":"rate_limit_exceeded"}}`,
			// The headers alone do not make a usage limit.
			wantClass: health.RateLimit, wantCode: "rate_limit_exceeded",
		},
		{
			name:      "401 invalid key",
			status:    401,
			body:      `{"error":{"message":"Incorrect API key provided: sk-...abcd.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			wantClass: health.Unauthorized, wantCode: "invalid_api_key", wantMsg: "401 Incorrect API key",
		},
		{
			name:      "403 region refusal is not a dead credential",
			status:    403,
			body:      `{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","code":"unsupported_country_region_territory"}}`,
			wantClass: health.Forbidden, wantCode: "unsupported_country_region_territory",
			wantMsg: "403 unsupported_country_region_territory: Country, region, or territory not supported",
		},
		{
			name:      "403 HTML page from a gateway",
			status:    403,
			header:    hdr("Content-Type", "text/html; charset=utf-8"),
			body:      "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><hr>nginx</body></html>",
			wantClass: health.Forbidden, wantMsg: "403 from a gateway (HTML page)",
		},
		{
			name:      "403 HTML page without a Content-Type",
			status:    403,
			body:      "\n  <!DOCTYPE html><html>Access denied</html>",
			wantClass: health.Forbidden, wantMsg: "403 from a gateway (HTML page)",
		},
		{
			name:      "403 Cloudflare challenge",
			status:    403,
			header:    hdr("Content-Type", "text/html", "Server", "cloudflare", "Cf-Ray", "8a1b2c3d4e5f-AMS"),
			body:      "<!DOCTYPE html><html><title>Just a moment...</title></html>",
			wantClass: health.Forbidden, wantMsg: "403 from Cloudflare (HTML page)",
		},
		{
			name:      "403 plain text",
			status:    403,
			body:      "Forbidden",
			wantClass: health.Forbidden, wantMsg: "403 from a gateway (no API error in the body)",
		},
		{
			name:      "403 JSON that does not name the credential",
			status:    403,
			body:      `{"error":{"message":"You are not allowed to sample from this model","type":"invalid_request_error","param":null,"code":null}}`,
			wantClass: health.Forbidden, wantCode: "invalid_request_error", wantMsg: "You are not allowed to sample from this model",
		},
		{
			name:      "403 invalid_api_key is a dead credential",
			status:    403,
			body:      `{"error":{"message":"Incorrect API key provided: sk-...abcd.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			wantClass: health.Unauthorized, wantCode: "invalid_api_key", wantMsg: "403 Incorrect API key",
		},
		{
			name:      "403 account_deactivated",
			status:    403,
			body:      `{"error":{"message":"This account has been deactivated.","type":"invalid_request_error","code":"account_deactivated"}}`,
			wantClass: health.Unauthorized, wantCode: "account_deactivated",
		},
		{
			name:      "403 token_expired as the type",
			status:    403,
			body:      `{"error":{"message":"Provided authentication token is expired.","type":"token_expired","code":null}}`,
			wantClass: health.Unauthorized, wantCode: "token_expired",
		},
		{
			name:      "403 invalid_token in a detail object",
			status:    403,
			body:      `{"detail":{"code":"invalid_token","message":"Could not validate credentials"}}`,
			wantClass: health.Unauthorized, wantCode: "invalid_token", wantMsg: "403 Could not validate credentials",
		},
		{
			name:      "403 expired token said only in words",
			status:    403,
			body:      `{"detail":"Your authentication token has expired. Please try signing in again."}`,
			wantClass: health.Unauthorized, wantMsg: "authentication token has expired",
		},
		{
			name:      "403 deactivated said only in words",
			status:    403,
			body:      `{"error":{"message":"Your OpenAI account has been deactivated, please check your email for more information.","type":"invalid_request_error","code":null}}`,
			wantClass: health.Unauthorized, wantCode: "invalid_request_error",
		},
		{
			name:      "403 HTML page that mentions a token is still a gateway",
			status:    403,
			header:    hdr("Content-Type", "text/html"),
			body:      "<html>invalid token</html>",
			wantClass: health.Forbidden, wantMsg: "HTML page",
		},
		{
			name:      "404 plain: the base URL does not serve the endpoint",
			status:    404,
			body:      "404 page not found",
			wantClass: health.NotFound, wantMsg: "404 Not Found",
		},
		{
			name:   "404 model_not_found is the request's fault",
			status: 404,
			body: `{"error":{"message":"The model 'gpt-9' does not exist or you do not have access to it.",` +
				`"type":"invalid_request_error","param":null,"code":"model_not_found"}}`,
			wantClass: health.ClientError, wantCode: "model_not_found",
		},
		{
			name: "408 timeout", status: 408, body: "",
			wantClass: health.ServerError, wantMsg: "408 Request Timeout",
		},
		{
			name: "500", status: 500,
			body:      `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`,
			wantClass: health.ServerError, wantCode: "server_error",
		},
		{
			name: "502 from a front proxy, HTML", status: 502, body: "<html><body>Bad gateway</body></html>",
			wantClass: health.ServerError, wantMsg: "502 Bad Gateway",
		},
		{
			name: "503 overloaded", status: 503,
			body:      `{"error":{"message":"overloaded","type":"server_error","code":"server_is_overloaded"}}`,
			wantClass: health.Overloaded, wantCode: "server_is_overloaded", wantMsg: "503 overloaded",
		},
		{
			name: "529 overloaded_error as the type", status: 529,
			body:      `{"error":{"message":"Overloaded","type":"overloaded_error"}}`,
			wantClass: health.Overloaded, wantCode: "overloaded_error",
		},
		{
			name: "503 without an overload code is a server error", status: 503,
			body:      `{"error":{"message":"upstream connect error","type":"server_error"}}`,
			wantClass: health.ServerError, wantCode: "server_error",
		},
		{
			name:   "400 client error with null code: type is the code",
			status: 400,
			body: `{"error":{"message":"Unsupported parameter: 'temperature'","type":"invalid_request_error",` +
				`"param":"temperature","code":null}}`,
			wantClass: health.ClientError, wantCode: "invalid_request_error",
		},
		{
			name:   "400 context too long",
			status: 400,
			body: `{"error":{"message":"Your input exceeds the context window of this model.",` +
				`"type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}`,
			wantClass: health.ClientError, wantCode: "context_length_exceeded",
		},
		{
			name: "422 is a client error", status: 422, body: `{}`,
			wantClass: health.ClientError,
		},
		{
			name:      "network error",
			err:       errors.New("dial tcp 127.0.0.1:1: connect: connection refused"),
			wantClass: health.Network, wantMsg: "connection refused",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			got := health.Classify(classifyNow, tc.status, h, []byte(tc.body), tc.err)
			if got.Class != tc.wantClass {
				t.Fatalf("Class = %q, want %q (outcome %+v)", got.Class, tc.wantClass, got)
			}
			if got.Code != tc.wantCode {
				t.Errorf("Code = %q, want %q", got.Code, tc.wantCode)
			}
			if !got.Until.Equal(tc.wantUntil) {
				t.Errorf("Until = %v, want %v", got.Until, tc.wantUntil)
			}
			wantStatus := tc.status
			if tc.err != nil {
				wantStatus = 0
			}
			if got.Status != wantStatus {
				t.Errorf("Status = %d, want %d", got.Status, wantStatus)
			}
			if tc.wantMsg != "" && !strings.Contains(got.Message, tc.wantMsg) {
				t.Errorf("Message = %q, want it to contain %q", got.Message, tc.wantMsg)
			}
			if got.Class != health.OK && got.Message == "" {
				t.Errorf("a failure has an empty Message")
			}
		})
	}
}

func TestClassFailover(t *testing.T) {
	tests := []struct {
		class health.Class
		want  bool
	}{
		{health.OK, false},
		{health.ClientError, false},
		{health.Network, true},
		{health.ServerError, true},
		{health.Quota, true},
		{health.RateLimit, true},
		{health.Unauthorized, true},
		{health.NotFound, true},
		{health.Overloaded, true},
		{health.Forbidden, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.class), func(t *testing.T) {
			if got := tc.class.Failover(); got != tc.want {
				t.Errorf("%q.Failover() = %v, want %v", tc.class, got, tc.want)
			}
		})
	}
}

func TestClassifyStreamFailure(t *testing.T) {
	tests := []struct {
		name           string
		code, msg, typ string
		wantClass      health.Class
		wantCode       string
		wantMsg        string
	}{
		{"server_is_overloaded", "server_is_overloaded", "Our servers are currently overloaded.", "", health.Overloaded, "server_is_overloaded",
			"stream failed: Our servers are currently overloaded. (server_is_overloaded)"},
		{"overloaded", "overloaded", "", "", health.Overloaded, "overloaded", "stream failed: overloaded"},
		{"server_error", "server_error", "The server had an error", "", health.Overloaded, "server_error", "The server had an error"},
		{"internal_error", "internal_error", "", "", health.Overloaded, "internal_error", "internal_error"},
		{"server_error as the type only", "", "boom", "server_error", health.Overloaded, "server_error", "boom (server_error)"},
		{"usage_limit_reached", "usage_limit_reached", "limit", "", health.Quota, "usage_limit_reached", "limit"},
		{"usage_limit_reached as the type only", "", "The usage limit has been reached", "usage_limit_reached", health.Quota, "usage_limit_reached", "usage limit"},
		{"usage_not_included", "usage_not_included", "", "", health.Quota, "usage_not_included", "usage_not_included"},
		{"insufficient_quota", "insufficient_quota", "quota", "requests", health.Quota, "insufficient_quota", "quota"},
		{"rate_limit_exceeded", "rate_limit_exceeded", "slow down", "", health.RateLimit, "rate_limit_exceeded", "slow down"},
		{"context_length_exceeded", "context_length_exceeded", "Your input exceeds the context window", "invalid_request_error", health.ClientError, "context_length_exceeded", "context window"},
		{"invalid_prompt", "invalid_prompt", "Invalid prompt", "", health.ClientError, "invalid_prompt", "Invalid prompt"},
		{"unknown code, request-fault type", "some_new_check", "no", "invalid_request_error", health.ClientError, "invalid_request_error", "no (some_new_check)"},
		{"the code wins over the type", "server_is_overloaded", "", "invalid_request_error", health.Overloaded, "server_is_overloaded", "server_is_overloaded"},
		{"invalid_api_key", "invalid_api_key", "", "", health.Unauthorized, "invalid_api_key", "invalid_api_key"},
		{"unknown code", "something_new", "what", "", health.ServerError, "something_new", "what (something_new)"},
		{"no code, type or message", "", "", "", health.ServerError, "", "stream failed with no error code or message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := health.ClassifyStreamFailure(tc.code, tc.msg, tc.typ)
			if got.Class != tc.wantClass {
				t.Errorf("Class = %q, want %q", got.Class, tc.wantClass)
			}
			if got.Status != http.StatusOK {
				t.Errorf("Status = %d, want 200", got.Status)
			}
			if got.Code != tc.wantCode {
				t.Errorf("Code = %q, want %q", got.Code, tc.wantCode)
			}
			if !strings.Contains(got.Message, tc.wantMsg) {
				t.Errorf("Message = %q, want it to contain %q", got.Message, tc.wantMsg)
			}
			if tc.typ == "" {
				if old := health.ClassifyFailedStream(tc.code, tc.msg); old != got {
					t.Errorf("ClassifyFailedStream = %+v, want %+v", old, got)
				}
			}
		})
	}
}

// TestClassifyNotAPI: a 2xx that is neither an event stream nor JSON, and
// every 3xx, are answers of something other than the API; the message
// names the type, or the redirect's host and nothing more of its Location.
func TestClassifyNotAPI(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  http.Header
		head    string // a 2xx answer's first bytes
		notAPI  bool
		message string
	}{
		{"event stream", 200, hdr("Content-Type", "text/event-stream; charset=utf-8"), "", false, ""},
		{"json", 200, hdr("Content-Type", "application/json"), "", false, ""},
		{"problem+json", 200, hdr("Content-Type", "application/problem+json"), "", false, ""},
		{"unlabeled json", 200, nil, " \n{\"id\":1}", false, ""},
		{"text/plain json", 200, hdr("Content-Type", "text/plain; charset=utf-8"), "[1]", false, ""},
		{"html", 200, hdr("Content-Type", "text/html; charset=utf-8"), "<!DOCTYPE html>", true, "answered 200 text/html, not the API"},
		{"html without a type", 200, nil, "<html>", true, "answered 200 with no Content-Type, not the API"},
		{"empty without a type", 204, nil, "", true, "answered 204 with no Content-Type, not the API"},
		{"text/plain page", 200, hdr("Content-Type", "text/plain"), "Welcome", true, "answered 200 text/plain, not the API"},
		{"301", 301, hdr("Location", "https://user:pw@portal.example:8443/login?token=secret"), "", true, "redirected (301) to portal.example, not the API"},
		{"302", 302, hdr("Location", "http://portal.example/"), "", true, "redirected (302) to portal.example, not the API"},
		{"303", 303, hdr("Location", "https://portal.example/"), "", true, "redirected (303) to portal.example, not the API"},
		{"307 relative", 307, hdr("Location", "/v2/responses?k=secret"), "", true, "redirected (307) to a path on the same host, not the API"},
		{"308", 308, hdr("Location", "https://api.other.example/v1/responses"), "", true, "redirected (308) to api.other.example, not the API"},
		{"304 with no Location", 304, nil, "", true, "redirected (304) with no Location, not the API"},
		{"a 4xx is the API's error", 400, hdr("Content-Type", "text/html"), "<html>", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			o := health.Classify(classifyNow, tt.status, h, []byte(tt.head), nil)
			if got := o.Class == health.NotAPI; got != tt.notAPI {
				t.Fatalf("class %q (%s), want not_api %v", o.Class, o.Message, tt.notAPI)
			}
			if tt.notAPI && o.Message != tt.message {
				t.Fatalf("message %q, want %q", o.Message, tt.message)
			}
			if !o.Class.Failover() && tt.notAPI {
				t.Fatal("an answer that is not the API's does not fail over")
			}
		})
	}
}
