package apierror_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/apierror"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		err        *apierror.Error
		wantStatus int
		wantType   string
		wantParam  string // JSON as written
		wantCode   string // JSON as written
		wantResets string // JSON as written; "" means absent
		wantRetry  string // Retry-After; "" means absent
	}{
		{
			name:       "null param and code",
			err:        apierror.New(http.StatusBadGateway, apierror.TypeUpstream, "every account failed"),
			wantStatus: 502, wantType: "upstream_error", wantParam: "null", wantCode: "null",
		},
		{
			name:       "code and param set",
			err:        apierror.New(400, apierror.TypeInvalidRequest, "bad model").WithCode("model_not_allowed").WithParam("model"),
			wantStatus: 400, wantType: "invalid_request_error", wantParam: `"model"`, wantCode: `"model_not_allowed"`,
		},
		{
			name:       "no account with resets_at and Retry-After rounded up",
			err:        withRetry(withResets(apierror.New(503, apierror.TypeNoAvailableAccount, "all cooling down").WithCode("no_available_account"), 1772370000), 1500*time.Millisecond),
			wantStatus: 503, wantType: "no_available_account", wantParam: "null", wantCode: `"no_available_account"`,
			wantResets: "1772370000", wantRetry: "2",
		},
		{
			name:       "Retry-After whole seconds stay",
			err:        withRetry(apierror.New(429, apierror.TypeServer, "busy"), 30*time.Second),
			wantStatus: 429, wantType: "server_error", wantParam: "null", wantCode: "null", wantRetry: "30",
		},
		{
			name:       "Retry-After a nanosecond rounds up to 1",
			err:        withRetry(apierror.New(429, apierror.TypeServer, "busy"), time.Nanosecond),
			wantStatus: 429, wantType: "server_error", wantParam: "null", wantCode: "null", wantRetry: "1",
		},
		{
			name:       "Retry-After just past a second rounds up",
			err:        withRetry(apierror.New(429, apierror.TypeServer, "busy"), 59*time.Second+time.Millisecond),
			wantStatus: 429, wantType: "server_error", wantParam: "null", wantCode: "null", wantRetry: "60",
		},
		{
			name:       "negative Retry-After is not sent",
			err:        withRetry(apierror.New(429, apierror.TypeServer, "busy"), -time.Second),
			wantStatus: 429, wantType: "server_error", wantParam: "null", wantCode: "null",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.err.Write(rec)
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
				t.Errorf("Content-Length = %s, body is %d bytes", cl, rec.Body.Len())
			}
			if got := rec.Header().Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantRetry)
			}
			var doc map[string]map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, rec.Body)
			}
			if len(doc) != 1 {
				t.Errorf("top level = %v, want only error", doc)
			}
			e, ok := doc["error"]
			if !ok {
				t.Fatalf("no error object: %s", rec.Body)
			}
			var msg string
			if err := json.Unmarshal(e["message"], &msg); err != nil || msg != tc.err.Message {
				t.Errorf("message = %s, want %q", e["message"], tc.err.Message)
			}
			if string(e["type"]) != strconv.Quote(tc.wantType) {
				t.Errorf("type = %s, want %q", e["type"], tc.wantType)
			}
			for k, want := range map[string]string{"param": tc.wantParam, "code": tc.wantCode} {
				got, ok := e[k]
				if !ok {
					t.Errorf("%s missing, want %s", k, want)
				} else if string(got) != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			got, ok := e["resets_at"]
			switch {
			case tc.wantResets == "" && ok:
				t.Errorf("resets_at = %s, want it absent", got)
			case tc.wantResets != "" && string(got) != tc.wantResets:
				t.Errorf("resets_at = %s, want %s", got, tc.wantResets)
			}
			wantKeys := 4
			if tc.wantResets != "" {
				wantKeys = 5
			}
			if len(e) != wantKeys {
				t.Errorf("error has fields %v, want %d", e, wantKeys)
			}
		})
	}
}

func withResets(e *apierror.Error, at int64) *apierror.Error { e.ResetsAt = at; return e }

func withRetry(e *apierror.Error, d time.Duration) *apierror.Error { e.RetryAfter = d; return e }

func TestErrorInterface(t *testing.T) {
	var err error = apierror.New(500, apierror.TypeServer, "boom")
	if err.Error() != "boom" {
		t.Errorf("Error() = %q", err.Error())
	}
}
