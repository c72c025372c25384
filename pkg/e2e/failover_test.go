package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/store"
)

// primaryAndStandby is a pool where "primary" always takes the first
// attempt and "standby" (weight 0) only a failover.
func primaryAndStandby(primary, standby *fakeupstream.Server, extra string) string {
	return extra + "accounts:\n" + openaiAccount("primary", primary, "KEY_A", 1) + openaiAccount("standby", standby, "KEY_B", 0)
}

// post sends a streaming Responses request and returns status, headers
// and the whole body.
func post(t *testing.T, base, session string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Session_id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func storeOn(t *testing.T, m *miniredis.Miniredis) *store.Store {
	st := store.New(redis.NewClient(&redis.Options{Addr: m.Addr()}), store.Options{KeyPrefix: "proxy:"})
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestFailoverBeforeFirstByte(t *testing.T) {
	resetsAt := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	tests := []struct {
		name         string
		fault        fakeupstream.Fault
		wantCooldown string // reason recorded against primary, "" for none
	}{
		{"quota 429 with resets_at", fakeupstream.QuotaExceeded(resetsAt), "quota"},
		{"rate limit 429", fakeupstream.RateLimited(20 * time.Second), "rate_limit"},
		{"500", fakeupstream.Fault{Status: 500, Body: `{"error":{"message":"boom","type":"server_error","param":null,"code":null}}`}, ""},
		{"response.failed as first event", fakeupstream.Fault{FirstEventFailed: true, FailCode: "server_is_overloaded"}, "overloaded"},
		{"401 invalid key", fakeupstream.Fault{Status: 401, Body: `{"error":{"message":"bad key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`}, "invalid"},
		{"404 endpoint not served", fakeupstream.Fault{Status: 404, Body: `{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}`}, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary := startUpstream(t, "primary", fakeupstream.WithAPIKey(keyA))
			standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
			primary.Script(tt.fault)
			m := miniredis.RunT(t)
			p := startProxy(t, primaryAndStandby(primary, standby, ""), env, withRedis("redis://"+m.Addr()+"/0"))

			status, _, body := post(t, p.URL, "conv")
			if status != 200 || !strings.Contains(body, "Hello from standby.") || !strings.Contains(body, "response.completed") {
				t.Fatalf("client got %d:\n%s", status, body)
			}
			if strings.Contains(body, "response.failed") || strings.Contains(body, "usage_limit") {
				t.Fatalf("the failed attempt leaked to the client:\n%s", body)
			}
			cds, err := storeOn(t, m).Cooldowns(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := cds["primary"].Reason; got != tt.wantCooldown {
				t.Fatalf("cooldown reason %q, want %q (%+v)", got, tt.wantCooldown, cds)
			}
			if tt.wantCooldown == "quota" && !cds["primary"].Until.Equal(resetsAt) {
				t.Fatalf("quota cooldown until %s, want the upstream's resets_at %s", cds["primary"].Until, resetsAt)
			}
			if !strings.Contains(p.Logs.String(), "reason=failover") {
				t.Fatalf("log does not show the failover:\n%s", p.Logs)
			}
		})
	}
}

func TestMidStreamFailureEndsWithResponseFailed(t *testing.T) {
	primary := startUpstream(t, "primary", fakeupstream.WithAPIKey(keyA))
	standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
	primary.Script(fakeupstream.Fault{CutAfter: 3})
	p := startProxy(t, primaryAndStandby(primary, standby, ""), env)
	status, _, body := post(t, p.URL, "conv")
	if status != 200 || !strings.Contains(body, "event: response.failed") || !strings.Contains(body, `"code":"upstream_stream_interrupted"`) {
		t.Fatalf("got %d:\n%s", status, body)
	}
	if strings.Contains(body, "standby") || len(standby.Requests()) != 0 {
		t.Fatal("a stream that already reached the client was failed over")
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	tests := []struct {
		name      string
		hangAfter int // events sent before the upstream goes quiet
		want      string
	}{
		// Silent while the opening is held: nothing reached the client,
		// so the turn fails over.
		{"quiet before output fails over", 2, "Hello from standby"},
		// Silent after output: the client is told in the protocol.
		{"quiet after output ends with response.failed", 3, "upstream sent no complete event for 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary := startUpstream(t, "primary", fakeupstream.WithAPIKey(keyA))
			standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
			hang := make(chan struct{})
			defer close(hang)
			primary.Script(fakeupstream.Fault{Hang: hang, HangAfter: tt.hangAfter})
			p := startProxy(t, primaryAndStandby(primary, standby, "timeouts:\n  stream_idle: 300ms\n"), env)
			status, _, body := post(t, p.URL, "conv")
			if status != 200 || !strings.Contains(body, tt.want) {
				t.Fatalf("got %d:\n%s", status, body)
			}
		})
	}
}

func TestAllAccountsLimited(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
	early := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	a.Script(fakeupstream.QuotaExceeded(early.Add(time.Hour)))
	b.Script(fakeupstream.QuotaExceeded(early))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1)+openaiAccount("b", b, "KEY_B", 0), env)

	for i := range 2 {
		status, h, body := post(t, p.URL, fmt.Sprint("conv", i))
		var e struct {
			Error struct {
				Type     string `json:"type"`
				Message  string `json:"message"`
				ResetsAt int64  `json:"resets_at"`
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		if status != 429 || e.Error.Type != "usage_limit_reached" || e.Error.ResetsAt != early.Unix() ||
			!strings.HasPrefix(e.Error.Message, "all accounts are limited until") || h.Get("Retry-After") == "" {
			t.Fatalf("request %d: got %d %v\n%s", i, status, h, body)
		}
	}
	// The second request was answered without trying a limited account.
	if n := len(a.Requests()) + len(b.Requests()); n != 2 {
		t.Fatalf("upstreams saw %d requests, want 2 (one each, then none while limited)", n)
	}
}

// tokenServer is a fake OAuth token endpoint that hands out access tokens
// the ChatGPT upstream accepts, counting refreshes.
type tokenServer struct {
	*httptest.Server
	refreshes atomic.Int64
	access    string
}

func newTokenServer(t *testing.T, access string) *tokenServer {
	ts := &tokenServer{access: access}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req["grant_type"] != "refresh_token" || req["refresh_token"] != "refresh-1" || req["client_id"] == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		ts.refreshes.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": ts.access, "refresh_token": "refresh-2"})
	}))
	t.Cleanup(ts.Close)
	return ts
}

// jwt makes an unsigned JWT expiring at exp (the proxy only reads exp).
func jwt(exp time.Time, salt string) string {
	return codexauthtest.JWT(map[string]any{"exp": exp.Unix(), "salt": salt})
}

// writeAuth writes a Codex auth.json holding access.
func writeAuth(t *testing.T, dir, access string) string {
	path := filepath.Join(dir, "auth.json")
	doc := fmt.Sprintf(`{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token":"","access_token":%q,"refresh_token":"refresh-1","account_id":"acct-1"},"last_refresh":"2026-01-01T00:00:00Z","extra":"kept"}`, access)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTokenRefresh(t *testing.T) {
	tests := []struct {
		name       string
		oldAccess  string
		concurrent int
	}{
		{"expired token is refreshed before the request", jwt(time.Now().Add(-time.Hour), "old"), 1},
		{"concurrent 401s cause one refresh", jwt(time.Now().Add(time.Hour), "revoked"), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh := jwt(time.Now().Add(time.Hour), "fresh")
			ts := newTokenServer(t, fresh)
			up := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(fresh, "acct-1"))
			dir := t.TempDir()
			auth := writeAuth(t, dir, tt.oldAccess)
			p := startProxy(t, fmt.Sprintf("oauth:\n  token_url: %s\naccounts:\n  - name: chatgpt\n    type: openai-responses\n    base_url: %s/backend-api/codex\n    auth_file: %s\n", ts.URL, up.URL(), auth), env)

			var wg sync.WaitGroup
			for i := range tt.concurrent {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, _, body := post(t, p.URL, fmt.Sprint("conv", i))
					if status != 200 || !strings.Contains(body, "Hello from chatgpt.") {
						t.Errorf("got %d:\n%s", status, body)
					}
				}()
			}
			wg.Wait()
			if n := ts.refreshes.Load(); n != 1 {
				t.Fatalf("%d refreshes, want 1", n)
			}
			info, err := os.Stat(auth)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(auth)
			if info.Mode().Perm() != 0o600 || !strings.Contains(string(data), fresh) ||
				!strings.Contains(string(data), `"refresh-2"`) || !strings.Contains(string(data), `"extra": "kept"`) && !strings.Contains(string(data), `"extra":"kept"`) {
				t.Fatalf("auth file (mode %v) after refresh:\n%s", info.Mode().Perm(), data)
			}
			assertNoSecrets(t, "proxy logs", p.Logs.String(), fresh, tt.oldAccess, "refresh-2")
		})
	}
}

func TestRevokedLoginMarksAccountInvalid(t *testing.T) {
	ts := newTokenServer(t, "unused")
	up := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT("never-matches", "acct-1"))
	dir := t.TempDir()
	auth := writeAuth(t, dir, jwt(time.Now().Add(-time.Hour), "old"))
	// The refresh token the file holds is not the one the server accepts.
	data, _ := os.ReadFile(auth)
	_ = os.WriteFile(auth, []byte(strings.Replace(string(data), "refresh-1", "refresh-revoked", 1)), 0o600)
	m := miniredis.RunT(t)
	p := startProxy(t, fmt.Sprintf("oauth:\n  token_url: %s\naccounts:\n  - name: chatgpt\n    type: openai-responses\n    base_url: %s/backend-api/codex\n    auth_file: %s\n", ts.URL, up.URL(), auth), env, withRedis("redis://"+m.Addr()+"/0"))
	status, _, body := post(t, p.URL, "conv")
	if status != 503 || !strings.Contains(body, "no_available_account") {
		t.Fatalf("got %d %s", status, body)
	}
	cds, _ := storeOn(t, m).Cooldowns(context.Background())
	if cds["chatgpt"].Reason != "invalid" || !strings.Contains(cds["chatgpt"].Message, "codex login") {
		t.Fatalf("cooldowns %+v", cds)
	}
	if len(up.Requests()) != 0 {
		t.Fatal("a request with a dead login reached the upstream")
	}
}
