package probe_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/probe"
)

const (
	apiKey      = "sk-test-0123456789abcdef"
	accessToken = "chatgpt-access-token-for-tests"
	accountID   = "acct-123"
)

// clock is the fixed time every check sees, so latencies are zero and
// reset times print the same everywhere.
var clock = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }

func newAccount(t *testing.T, c config.Account) *account.Account {
	t.Helper()
	c.Enabled = true
	a, err := account.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func apiAccount(t *testing.T, baseURL, key string) *account.Account {
	return newAccount(t, config.Account{Name: "api", Type: config.TypeOpenAI, BaseURL: baseURL, APIKey: key, Weight: 1})
}

// startFake serves f on a loopback httptest server.
func startFake(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCheck(t *testing.T) {
	reset := time.Date(2026, 3, 4, 22, 10, 0, 0, time.UTC)
	tests := []struct {
		name string
		// setup returns the account to check.
		setup     func(t *testing.T) *account.Account
		timeout   time.Duration
		wantOK    bool
		wantError string // prefix
		wantClass health.Class
		wantLimit bool
	}{
		{
			name: "openai account answers",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				return apiAccount(t, startFake(t, f).URL+"/v1", apiKey)
			},
			wantOK: true, wantClass: health.OK,
		},
		{
			name: "chatgpt account answers with its limits",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("chat", fakeupstream.WithChatGPT(accessToken, accountID), fakeupstream.WithClock(fixedNow))
				return newAccount(t, config.Account{Name: "chat", Type: config.TypeOpenAIResponses,
					BaseURL: startFake(t, f).URL + "/backend-api/codex", AccessToken: accessToken, AccountID: accountID, Weight: 1})
			},
			wantOK: true, wantClass: health.OK, wantLimit: true,
		},
		{
			name: "chat-only account answers on /chat/completions",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("ds", fakeupstream.WithAPIKey(apiKey), fakeupstream.WithChatOnly())
				return newAccount(t, config.Account{Name: "ds", Type: config.TypeOpenAI, API: config.APIChatCompletions,
					BaseURL: startFake(t, f).URL + "/v1", APIKey: apiKey, Weight: 1, ModelMap: map[string]string{"*": "deepseek-chat"}})
			},
			wantOK: true, wantClass: health.OK,
		},
		{
			name: "chat-only account failing in its stream",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("ds", fakeupstream.WithAPIKey(apiKey), fakeupstream.WithChatOnly())
				f.Script(fakeupstream.ErrorChunk(0, "server_error", "The server is overloaded"))
				return newAccount(t, config.Account{Name: "ds", Type: config.TypeOpenAI, API: config.APIChatCompletions,
					BaseURL: startFake(t, f).URL + "/v1", APIKey: apiKey, Weight: 1})
			},
			wantError: "response.failed: server_error The server is overloaded", wantClass: health.Overloaded,
		},
		{
			name: "a Responses account on a chat-only server",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("ds", fakeupstream.WithAPIKey(apiKey), fakeupstream.WithChatOnly())
				return apiAccount(t, startFake(t, f).URL+"/v1", apiKey)
			},
			wantError: "404 /responses not served at this base_url: it serves only /chat/completions; set api: chat_completions on the account", wantClass: health.NotFound,
		},
		{
			name: "wrong api key",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				return apiAccount(t, startFake(t, f).URL+"/v1", "sk-wrong-0123456789abcdef")
			},
			wantError: "401 invalid api key", wantClass: health.Unauthorized,
		},
		{
			name: "refused chatgpt login",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("chat", fakeupstream.WithChatGPT(accessToken, accountID))
				return newAccount(t, config.Account{Name: "chat", Type: config.TypeOpenAIResponses,
					BaseURL: startFake(t, f).URL, AccessToken: "expired-token", AccountID: accountID, Weight: 1})
			},
			wantError: "401 ChatGPT login refused: run `proxy accounts login chat`", wantClass: health.Unauthorized,
		},
		{
			name: "base_url missing /v1",
			setup: func(t *testing.T) *account.Account {
				mux := http.NewServeMux()
				mux.Handle("/v1/", fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey)))
				s := startFake(t, mux)
				return apiAccount(t, s.URL, apiKey)
			},
			wantError: "404 /responses not served at this base_url (did you mean http://127.0.0.1:", wantClass: health.NotFound,
		},
		{
			name: "404 with nothing better to suggest",
			setup: func(t *testing.T) *account.Account {
				return apiAccount(t, startFake(t, http.NotFoundHandler()).URL+"/v1", apiKey)
			},
			wantError: "404 /responses not served at this base_url: check base_url", wantClass: health.NotFound,
		},
		{
			name: "usage limit",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				f.Script(fakeupstream.QuotaExceeded(reset))
				return apiAccount(t, startFake(t, f).URL, apiKey)
			},
			wantError: "429 usage limit, resets 22:10", wantClass: health.Quota, wantLimit: true,
		},
		{
			name: "rate limit",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				f.Script(fakeupstream.RateLimited(3 * time.Second))
				return apiAccount(t, startFake(t, f).URL, apiKey)
			},
			wantError: "429 rate limited, retry in 3s", wantClass: health.RateLimit,
		},
		{
			name: "server error",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				f.Script(fakeupstream.Fault{Status: http.StatusBadGateway})
				return apiAccount(t, startFake(t, f).URL, apiKey)
			},
			wantError: "502 upstream server error", wantClass: health.ServerError,
		},
		{
			name: "connection refused",
			setup: func(t *testing.T) *account.Account {
				return apiAccount(t, "http://"+closedPort(t)+"/v1", apiKey)
			},
			wantError: "connection refused: nothing listens at 127.0.0.1:", wantClass: health.Network,
		},
		{
			name: "untrusted certificate",
			setup: func(t *testing.T) *account.Account {
				s := httptest.NewUnstartedServer(fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey)))
				// The refused handshake is the point; keep its log out of the output.
				s.Config.ErrorLog = log.New(io.Discard, "", 0)
				s.StartTLS()
				t.Cleanup(s.Close)
				return apiAccount(t, s.URL+"/v1", apiKey)
			},
			wantError: "TLS: certificate signed by unknown authority", wantClass: health.Network,
		},
		{
			name: "plain http server behind https base_url",
			setup: func(t *testing.T) *account.Account {
				s := startFake(t, fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey)))
				return apiAccount(t, strings.Replace(s.URL, "http://", "https://", 1)+"/v1", apiKey)
			},
			wantError: "TLS: the server does not speak TLS", wantClass: health.Network,
		},
		{
			name: "stream cut before response.completed",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				f.Script(fakeupstream.Fault{CutAfter: 2})
				return apiAccount(t, startFake(t, f).URL, apiKey)
			},
			wantError: "stream ended before response.completed", wantClass: health.ServerError,
		},
		{
			name: "stream that fails at once",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				f.Script(fakeupstream.Fault{FirstEventFailed: true})
				return apiAccount(t, startFake(t, f).URL, apiKey)
			},
			wantError: "response.failed: server_is_overloaded", wantClass: health.Overloaded,
		},
		{
			name: "upstream that never answers",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				f.Script(fakeupstream.Fault{Hang: make(chan struct{}), HangBeforeHeaders: true})
				t.Cleanup(func() { f.Close() })
				return apiAccount(t, startFake(t, f).URL, apiKey)
			},
			timeout:   50 * time.Millisecond,
			wantError: "timed out after 50ms waiting for the response headers", wantClass: health.Network,
		},
		{
			name: "stream that stalls",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))
				f.Script(fakeupstream.Fault{Hang: make(chan struct{}), HangAfter: 1})
				t.Cleanup(func() { f.Close() })
				return apiAccount(t, startFake(t, f).URL, apiKey)
			},
			timeout:   50 * time.Millisecond,
			wantError: "timed out after 50ms waiting for response.completed", wantClass: health.ServerError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.setup(t)
			r := probe.Check(context.Background(), a, probe.Options{Now: fixedNow, Location: time.UTC, Timeout: tt.timeout})
			if r.OK != tt.wantOK {
				t.Errorf("OK = %v, want %v (error %q)", r.OK, tt.wantOK, r.Error)
			}
			if !strings.HasPrefix(r.Error, tt.wantError) || (tt.wantError == "") != (r.Error == "") {
				t.Errorf("Error = %q, want it to start with %q", r.Error, tt.wantError)
			}
			if r.Outcome.Class != tt.wantClass {
				t.Errorf("Outcome.Class = %q, want %q", r.Outcome.Class, tt.wantClass)
			}
			if (r.Limits != nil) != tt.wantLimit {
				t.Errorf("Limits = %+v, want present: %v", r.Limits, tt.wantLimit)
			}
			for _, secret := range []string{apiKey, accessToken, "sk-wrong-0123456789abcdef"} {
				if strings.Contains(r.Error, secret) {
					t.Errorf("Error reveals a secret: %q", r.Error)
				}
			}
		})
	}
}

func TestCheckAllKeepsOrderAndJSONShape(t *testing.T) {
	good := startFake(t, fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey)))
	accounts := []*account.Account{
		newAccount(t, config.Account{Name: "refused", Type: config.TypeOpenAI, BaseURL: "http://" + closedPort(t), APIKey: apiKey, Weight: 1}),
		newAccount(t, config.Account{Name: "good", Type: config.TypeOpenAI, BaseURL: good.URL + "/v1", APIKey: apiKey, Weight: 1, Models: []string{"gpt-5*", "gpt-5-mini"}}),
	}
	rs := probe.CheckAll(context.Background(), accounts, probe.Options{Now: fixedNow})
	if len(rs) != 2 || rs[0].Name != "refused" || rs[1].Name != "good" {
		t.Fatalf("results out of order: %+v", rs)
	}
	if rs[1].Model != "gpt-5-mini" {
		t.Errorf("model = %q, want the first literal allowed model", rs[1].Model)
	}
	b, err := json.Marshal(rs[1])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "type", "ok", "status", "error", "ttfb_ms", "total_ms"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
}

func TestFormatLimits(t *testing.T) {
	l := &health.Limits{
		Primary:   &health.Window{UsedPercent: 10, WindowMinutes: 300, ResetsAt: time.Date(2026, 3, 4, 22, 10, 0, 0, time.UTC)},
		Secondary: &health.Window{UsedPercent: 5.5, WindowMinutes: 10080, ResetsAt: time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)},
	}
	got := probe.FormatLimits(l, clock, time.UTC)
	want := "5h 10% resets 22:10, 7d 5.5% resets Mar 9 08:00"
	if got != want {
		t.Errorf("FormatLimits = %q, want %q", got, want)
	}
}

// TestCheckWebSocket: a ChatGPT account that passed is also checked for
// the Responses WebSocket the proxy prefers for it; an API account is not.
func TestCheckWebSocket(t *testing.T) {
	chat := func(opts ...fakeupstream.Option) *account.Account {
		f := fakeupstream.New("chat", append([]fakeupstream.Option{fakeupstream.WithChatGPT(accessToken, accountID)}, opts...)...)
		return newAccount(t, config.Account{Name: "chat", Type: config.TypeOpenAIResponses,
			BaseURL: startFake(t, f).URL + "/backend-api/codex", AccessToken: accessToken, AccountID: accountID, Weight: 1})
	}
	cases := []struct {
		name    string
		account func() *account.Account
		want    string
	}{
		{"takes WebSockets", func() *account.Account { return chat(fakeupstream.WithWebSocket()) }, "ok"},
		{"refuses them", func() *account.Account { return chat() }, "refused (426): the proxy serves it over HTTP"},
		{"API account", func() *account.Account {
			return apiAccount(t, startFake(t, fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey))).URL+"/v1", apiKey)
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := probe.Check(context.Background(), tc.account(), probe.Options{Now: fixedNow})
			if !r.OK || r.WebSocket != tc.want {
				t.Errorf("ok %v, websocket %q; want ok, %q", r.OK, r.WebSocket, tc.want)
			}
		})
	}
}
