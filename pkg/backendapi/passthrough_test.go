package backendapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/proxy-dev/proxy/pkg/backendapi"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/status"
)

// seen is one call the fake backend received.
type seen struct {
	method, path, query, auth, accountID, forwarded, body string
}

func fakeBackend(t *testing.T, h http.HandlerFunc) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var calls []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Chatgpt-Account-Id"),
			r.Header.Get("X-Forwarded-For"), string(b)})
		mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen { mu.Lock(); defer mu.Unlock(); return append([]seen(nil), calls...) }
}

func backendFor(t *testing.T, upstream string) http.Handler {
	t.Helper()
	u, err := url.Parse(upstream + "/backend-api")
	if err != nil {
		t.Fatal(err)
	}
	return backendapi.New(backendapi.Options{Accounts: func() []status.Account { return nil }, Upstream: u, MaxBodyBytes: 1 << 10})
}

// TestPassthroughCarriesTheClientsOwnLogin: every other call reaches the
// real backend as the client made it, with its own credential, and the
// answer comes back as the backend gave it.
func TestPassthroughCarriesTheClientsOwnLogin(t *testing.T) {
	upstream, calls := fakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Backend", "yes")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, `{"plugins":[]}`)
	})
	h := backendFor(t, upstream.URL)
	tests := []struct {
		name   string
		caller *identity.Caller
	}{
		{"no client keys configured", nil},
		{"admitted by a ChatGPT login the proxy holds", &identity.Caller{Name: "login:mine", Role: identity.Admin, Login: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(calls())
			req := httptest.NewRequest(http.MethodPost, "/backend-api/ps/mcp?x=1", strings.NewReader(`{"jsonrpc":"2.0"}`))
			req.Header.Set("Authorization", "Bearer codex-login-token")
			req.Header.Set("ChatGPT-Account-Id", "acct-user")
			if tt.caller != nil {
				req = req.WithContext(identity.With(req.Context(), *tt.caller))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusTeapot || rec.Header().Get("X-Backend") != "yes" || rec.Body.String() != `{"plugins":[]}` {
				t.Errorf("answer: %d %v %s", rec.Code, rec.Header(), rec.Body)
			}
			got := calls()[before:]
			want := seen{http.MethodPost, "/backend-api/ps/mcp", "x=1", "Bearer codex-login-token", "acct-user", "", `{"jsonrpc":"2.0"}`}
			if len(got) != 1 || got[0] != want {
				t.Errorf("the backend got %+v, want %+v", got, want)
			}
		})
	}
}

// TestPassthroughNeverSendsAClientKey: a caller admitted by a client key
// is told what to do, and nothing reaches the backend.
func TestPassthroughNeverSendsAClientKey(t *testing.T) {
	upstream, calls := fakeBackend(t, func(w http.ResponseWriter, r *http.Request) {})
	h := backendFor(t, upstream.URL)
	req := httptest.NewRequest(http.MethodGet, "/backend-api/wham/accounts/check", nil)
	req.Header.Set("Authorization", "Bearer sk-proxy-client-key")
	req = req.WithContext(identity.With(req.Context(), identity.Caller{Name: "ci", Role: identity.User}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != http.StatusForbidden || e.Error.Code != "login_required" || !strings.Contains(e.Error.Message, "codex login") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if n := len(calls()); n != 0 {
		t.Errorf("the backend was called %d times", n)
	}
}

func TestPassthroughFailures(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	upstream, _ := fakeBackend(t, func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name     string
		upstream string
		body     string
		status   int
		code     string
	}{
		{"the backend does not answer", dead.URL, "", http.StatusBadGateway, "backend_unreachable"},
		{"a body over max_body_bytes", upstream.URL, strings.Repeat("x", 2<<10), http.StatusRequestEntityTooLarge, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			method := http.MethodGet
			if tt.body != "" {
				method = http.MethodPost
			}
			backendFor(t, tt.upstream).ServeHTTP(rec, httptest.NewRequest(method, "/backend-api/wham/tasks/list", strings.NewReader(tt.body)))
			var e struct {
				Error struct {
					Message, Type string
					Code          string
					Param         *string
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
}

// TestPassthroughStreams: an event stream (MCP answers as one) reaches the
// client event by event, not when the backend is done.
func TestPassthroughStreams(t *testing.T) {
	next := make(chan struct{})
	upstream, _ := fakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-next
		_, _ = io.WriteString(w, "data: two\n\n")
	})
	front := httptest.NewServer(backendFor(t, upstream.URL))
	t.Cleanup(front.Close)
	resp, err := http.Get(front.URL + "/backend-api/ps/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(next)
	rest, _ := io.ReadAll(r)
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest: %q", rest)
	}
}

// TestOtherCodexPathsPointAtTheBackendPrefix: the /api/codex/ style is
// answered for usage only; anything else says which base URL to use.
func TestOtherCodexPathsPointAtTheBackendPrefix(t *testing.T) {
	rec := httptest.NewRecorder()
	backendFor(t, "http://127.0.0.1:1").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/codex/accounts/check", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `chatgpt_base_url`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
