package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
)

// modelsUpstream is an account's GET /models: it records every request and
// answers body (with etag), or status when that is set. When gate is set
// each request first reports on arrived and then waits for gate to close.
type modelsUpstream struct {
	srv *httptest.Server

	mu       sync.Mutex
	status   int
	body     string
	etag     string
	queries  []string
	headers  []http.Header
	canceled []bool // whether each request's context had ended when it was answered

	gate    chan struct{}
	arrived chan struct{}
	once    sync.Once
}

func newModelsUpstream(t *testing.T, body, etag string) *modelsUpstream {
	t.Helper()
	u := &modelsUpstream{body: body, etag: etag}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *modelsUpstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	gate, arrived := u.gate, u.arrived
	u.mu.Unlock()
	if gate != nil {
		arrived <- struct{}{}
		<-gate
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.queries = append(u.queries, r.URL.RawQuery)
	u.headers = append(u.headers, r.Header.Clone())
	u.canceled = append(u.canceled, r.Context().Err() != nil)
	if u.status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(u.status)
		_, _ = io.WriteString(w, `{"error":{"message":"boom","type":"server_error","param":null,"code":null}}`)
		return
	}
	if u.etag != "" {
		w.Header().Set("ETag", u.etag)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, u.body)
}

func (u *modelsUpstream) setStatus(s int) {
	u.mu.Lock()
	u.status = s
	u.mu.Unlock()
}

// hold makes requests wait for release; the test's end releases them, so a
// failed test does not hang in the server's Close.
func (u *modelsUpstream) hold(t *testing.T) {
	u.mu.Lock()
	u.gate, u.arrived = make(chan struct{}), make(chan struct{}, 16)
	u.mu.Unlock()
	t.Cleanup(u.release)
}

func (u *modelsUpstream) release() { u.once.Do(func() { close(u.gate) }) }

func (u *modelsUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.queries...)
}

const (
	modelsToken  = "chatgpt-access-token-models-0123456789"
	modelsAPIKey = "sk-models-api-key-0123456789abcdef"
)

func chatgptModels(t *testing.T, name string, u *modelsUpstream, allow ...string) *account.Account {
	t.Helper()
	a, err := account.New(config.Account{Name: name, Type: config.TypeOpenAIResponses, BaseURL: u.srv.URL + "/backend-api/codex",
		AccessToken: modelsToken, AccountID: "acct-" + name, Enabled: true, Weight: 1, Models: allow})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func apiModels(t *testing.T, name string, u *modelsUpstream, allow ...string) *account.Account {
	t.Helper()
	a, err := account.New(config.Account{Name: name, Type: config.TypeOpenAI, BaseURL: u.srv.URL + "/v1",
		APIKey: modelsAPIKey, Enabled: true, Weight: 1, Models: allow})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// codexEntry is a ChatGPT backend model entry; tag makes the bytes of two
// accounts' entries for one slug differ, so a test sees whose won.
func codexEntry(slug, tag string) string {
	return `{"slug":"` + slug + `", "display_name":"` + tag + `","priority":1,"extra":{"kept":[1, 2]}}`
}

func codexBody(entries ...string) string {
	return `{"models":[` + strings.Join(entries, ",") + `]}`
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// modelsUnder builds the handler over accounts with a test clock and a log
// kept for the secret check.
func modelsUnder(accounts ...*account.Account) (*Models, *fakeClock, *bytes.Buffer) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	logs := &bytes.Buffer{}
	m := newModels(func() []*account.Account { return accounts }, account.NewEgress(&http.Client{}), clock.now,
		slog.New(slog.NewTextHandler(&syncWriter{w: logs}, nil)))
	return m, clock, logs
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// getModels asks m for path and returns the status, headers and body.
func getModels(t *testing.T, ctx context.Context, m *Models, path string) (int, http.Header, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil))
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

// codexSlugs decodes a Codex-shaped answer into its entries' raw bytes by
// slug, and the slugs in order.
func codexSlugs(t *testing.T, body []byte) ([]string, map[string]string) {
	t.Helper()
	var list struct {
		Models []json.RawMessage `json:"models"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Models == nil {
		t.Fatalf("not a Codex model list (%v): %s", err, body)
	}
	var slugs []string
	raw := map[string]string{}
	for _, m := range list.Models {
		var e struct {
			Slug string `json:"slug"`
		}
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatal(err)
		}
		slugs = append(slugs, e.Slug)
		raw[e.Slug] = string(m)
	}
	return slugs, raw
}

func TestModelsCodexShape(t *testing.T) {
	type setup struct {
		a, b, api *modelsUpstream
	}
	tests := []struct {
		name      string
		accounts  func(t *testing.T, s setup) []*account.Account
		prepare   func(s setup)
		wantCode  int
		wantSlugs []string
		wantFrom  map[string]string // slug -> display_name tag of the account whose entry won
		wantETag  string
		wantAsked map[string]int // upstream -> requests
	}{
		{
			name: "overlapping slugs: the first account in config order wins",
			accounts: func(t *testing.T, s setup) []*account.Account {
				return []*account.Account{chatgptModels(t, "a", s.a), chatgptModels(t, "b", s.b)}
			},
			wantCode:  200,
			wantSlugs: []string{"gpt-5.5", "gpt-5", "o3"},
			wantFrom:  map[string]string{"gpt-5.5": "a", "gpt-5": "a", "o3": "b"},
			wantETag:  `"same"`,
			wantAsked: map[string]int{"a": 1, "b": 1},
		},
		{
			name: "config order decides, not arrival",
			accounts: func(t *testing.T, s setup) []*account.Account {
				return []*account.Account{chatgptModels(t, "b", s.b), chatgptModels(t, "a", s.a)}
			},
			wantCode:  200,
			wantSlugs: []string{"gpt-5.5", "o3", "gpt-5"},
			wantFrom:  map[string]string{"gpt-5.5": "b", "gpt-5": "a", "o3": "b"},
			wantETag:  `"same"`,
		},
		{
			name: "allow-lists filter each account's entries",
			accounts: func(t *testing.T, s setup) []*account.Account {
				return []*account.Account{chatgptModels(t, "a", s.a, "gpt-5"), chatgptModels(t, "b", s.b)}
			},
			wantCode:  200,
			wantSlugs: []string{"gpt-5", "gpt-5.5", "o3"},
			wantFrom:  map[string]string{"gpt-5.5": "b", "gpt-5": "a", "o3": "b"},
			wantETag:  `"same"`,
		},
		{
			name: "one account failing: the others are still listed, without an ETag",
			accounts: func(t *testing.T, s setup) []*account.Account {
				return []*account.Account{chatgptModels(t, "a", s.a), chatgptModels(t, "b", s.b)}
			},
			prepare:   func(s setup) { s.a.setStatus(http.StatusInternalServerError) },
			wantCode:  200,
			wantSlugs: []string{"gpt-5.5", "o3"},
			wantFrom:  map[string]string{"gpt-5.5": "b", "o3": "b"},
		},
		{
			name: "accounts disagreeing on the ETag: none is passed on",
			accounts: func(t *testing.T, s setup) []*account.Account {
				return []*account.Account{chatgptModels(t, "a", s.a), chatgptModels(t, "b", s.b)}
			},
			prepare:   func(s setup) { s.b.etag = `"other"` },
			wantCode:  200,
			wantSlugs: []string{"gpt-5.5", "gpt-5", "o3"},
		},
		{
			name: "every account failing: 502, not an empty list",
			accounts: func(t *testing.T, s setup) []*account.Account {
				return []*account.Account{chatgptModels(t, "a", s.a), chatgptModels(t, "b", s.b)}
			},
			prepare: func(s setup) {
				s.a.setStatus(http.StatusInternalServerError)
				s.b.setStatus(http.StatusUnauthorized)
			},
			wantCode: 502,
		},
		{
			name: "API accounts are left out of the Codex shape and not asked",
			accounts: func(t *testing.T, s setup) []*account.Account {
				return []*account.Account{apiModels(t, "api", s.api), chatgptModels(t, "b", s.b)}
			},
			wantCode:  200,
			wantSlugs: []string{"gpt-5.5", "o3"},
			wantETag:  `"same"`,
			wantAsked: map[string]int{"api": 0, "b": 1},
		},
		{
			name: "disabled accounts are not asked",
			accounts: func(t *testing.T, s setup) []*account.Account {
				a := chatgptModels(t, "a", s.a)
				a.Enabled = false
				return []*account.Account{a, chatgptModels(t, "b", s.b)}
			},
			wantCode:  200,
			wantSlugs: []string{"gpt-5.5", "o3"},
			wantAsked: map[string]int{"a": 0, "b": 1},
			wantETag:  `"same"`,
		},
		{
			name: "no ChatGPT account: an empty list Codex can decode",
			accounts: func(t *testing.T, s setup) []*account.Account {
				return []*account.Account{apiModels(t, "api", s.api)}
			},
			wantCode:  200,
			wantSlugs: nil,
			wantAsked: map[string]int{"api": 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := setup{
				a:   newModelsUpstream(t, codexBody(codexEntry("gpt-5.5", "a"), codexEntry("gpt-5", "a")), `"same"`),
				b:   newModelsUpstream(t, codexBody(codexEntry("gpt-5.5", "b"), codexEntry("o3", "b")), `"same"`),
				api: newModelsUpstream(t, `{"object":"list","data":[{"id":"gpt-4.1","object":"model"}]}`, ""),
			}
			if tc.prepare != nil {
				tc.prepare(s)
			}
			m, _, logs := modelsUnder(tc.accounts(t, s)...)
			code, h, body := getModels(t, t.Context(), m, "/v1/models?client_version=0.169.0")
			if code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", code, tc.wantCode, body)
			}
			if code != 200 {
				var e struct {
					Error struct{ Message, Type string } `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Type != "upstream_error" || e.Error.Message == "" {
					t.Errorf("error is not OpenAI-shaped: %s", body)
				}
			} else {
				slugs, raw := codexSlugs(t, body)
				if strings.Join(slugs, ",") != strings.Join(tc.wantSlugs, ",") {
					t.Errorf("slugs %v, want %v", slugs, tc.wantSlugs)
				}
				for slug, from := range tc.wantFrom {
					// Byte for byte: the spacing inside the upstream's entry survives.
					if want := codexEntry(slug, from); raw[slug] != want {
						t.Errorf("%s entry %s, want account %s's %s", slug, raw[slug], from, want)
					}
				}
				if got := h.Get("ETag"); got != tc.wantETag {
					t.Errorf("ETag %q, want %q", got, tc.wantETag)
				}
			}
			ups := map[string]*modelsUpstream{"a": s.a, "b": s.b, "api": s.api}
			for name, want := range tc.wantAsked {
				if got := len(ups[name].requests()); got != want {
					t.Errorf("%s asked %d times, want %d", name, got, want)
				}
			}
			// Every ChatGPT account is asked with the client's version and its
			// own credentials.
			for _, u := range []*modelsUpstream{s.a, s.b} {
				u.mu.Lock()
				for i, q := range u.queries {
					if q != "client_version=0.169.0" {
						t.Errorf("upstream asked with query %q, want client_version=0.169.0", q)
					}
					if u.headers[i].Get("Authorization") != "Bearer "+modelsToken || !strings.HasPrefix(u.headers[i].Get("Chatgpt-Account-Id"), "acct-") {
						t.Errorf("upstream asked without the account's credentials")
					}
				}
				u.mu.Unlock()
			}
			assertNoSecret(t, "logs", logs.String()+string(body), modelsToken, modelsAPIKey)
		})
	}
}

// await receives from ch, failing the test instead of hanging it when
// nothing comes: what the test waits for did not happen.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting: %s", what)
		panic("unreachable")
	}
}

func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contain a secret (%s...)", what, s[:4])
		}
	}
}

func TestModelsOpenAIShape(t *testing.T) {
	chat := newModelsUpstream(t, codexBody(codexEntry("gpt-5.5", "a"), codexEntry("gpt-5", "a")), `"e"`)
	api := newModelsUpstream(t, `{"object":"list","data":[{"id":"gpt-4.1","object":"model"},{"id":"gpt-5","object":"model"}]}`, "")
	down := newModelsUpstream(t, "", "")
	down.setStatus(http.StatusBadGateway)
	m, _, _ := modelsUnder(chatgptModels(t, "chat", chat), apiModels(t, "api", api), apiModels(t, "down", down, "o3", "gpt-6*"))

	code, h, body := getModels(t, t.Context(), m, "/v1/models")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
		Models any `json:"models"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range list.Data {
		ids = append(ids, d.ID)
	}
	// The down account contributes the literal names of its allow-list.
	if list.Object != "list" || list.Models != nil || strings.Join(ids, ",") != "gpt-4.1,gpt-5,gpt-5.5,o3" {
		t.Errorf("OpenAI list %s", body)
	}
	if h.Get("ETag") != "" {
		t.Errorf("the OpenAI list carries ETag %q", h.Get("ETag"))
	}
	// The ChatGPT backend refuses a request without client_version: the
	// proxy sends its own.
	if q := chat.requests(); len(q) != 1 || q[0] != "client_version="+defaultClientVersion {
		t.Errorf("ChatGPT account asked with %q", q)
	}
	if q := api.requests(); len(q) != 1 || q[0] != "" {
		t.Errorf("API account asked with %q", q)
	}
}

func TestModelsCache(t *testing.T) {
	a := newModelsUpstream(t, codexBody(codexEntry("gpt-5.5", "a")), "")
	b := newModelsUpstream(t, codexBody(codexEntry("o3", "b")), "")
	m, clock, _ := modelsUnder(chatgptModels(t, "a", a), chatgptModels(t, "b", b))
	const codex = "/v1/models?client_version=0.169.0"
	slugsNow := func(path string) (int, string) {
		code, _, body := getModels(t, t.Context(), m, path)
		if code != 200 || !strings.Contains(path, "client_version") {
			return code, string(body)
		}
		slugs, _ := codexSlugs(t, body)
		return code, strings.Join(slugs, ",")
	}
	expect := func(step, path string, wantCode int, wantSlugs string, wantA, wantB int) {
		t.Helper()
		code, slugs := slugsNow(path)
		if code != wantCode || (code == 200 && slugs != wantSlugs) {
			t.Fatalf("%s: %d %s, want %d %s", step, code, slugs, wantCode, wantSlugs)
		}
		if got := len(a.requests()); got != wantA {
			t.Fatalf("%s: a asked %d times in all, want %d", step, got, wantA)
		}
		if got := len(b.requests()); got != wantB {
			t.Fatalf("%s: b asked %d times in all, want %d", step, got, wantB)
		}
	}

	a.setStatus(http.StatusInternalServerError)
	b.setStatus(http.StatusInternalServerError)
	expect("all failing", codex, 502, "", 1, 1)
	a.setStatus(0)
	b.setStatus(0)
	expect("recovered: the failure was not cached", codex, 200, "gpt-5.5,o3", 2, 2)
	expect("a full list is cached", codex, 200, "gpt-5.5,o3", 2, 2)
	expect("another client_version is built on its own", "/v1/models?client_version=0.170.0", 200, "gpt-5.5,o3", 3, 3)
	expect("so is the OpenAI list", "/v1/models", 200, `{"object":"list","data":[{"id":"gpt-5.5","object":"model","created":0,"owned_by":"proxy"},{"id":"o3","object":"model","created":0,"owned_by":"proxy"}]}`, 4, 4)
	if q := a.requests()[2]; q != "client_version=0.170.0" {
		t.Errorf("second version asked with %q", q)
	}

	clock.advance(modelsCacheFor)
	a.setStatus(http.StatusInternalServerError)
	expect("expired, a failing: b's entries", codex, 200, "o3", 5, 5)
	a.setStatus(0)
	expect("a partial list is kept briefly", codex, 200, "o3", 5, 5)
	clock.advance(modelsPartialCacheFor)
	expect("then asked again", codex, 200, "gpt-5.5,o3", 6, 6)
}

func TestModelsBadClientVersion(t *testing.T) {
	a := newModelsUpstream(t, codexBody(), "")
	m, _, _ := modelsUnder(chatgptModels(t, "a", a))
	tests := []struct{ name, query string }{
		{"query syntax", "client_version=0.1%26x%3Dy"},
		{"too long", "client_version=" + strings.Repeat("1", 65)},
		{"space", "client_version=0.1%20beta"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := getModels(t, t.Context(), m, "/v1/models?"+tc.query)
			if code != http.StatusBadRequest || !bytes.Contains(body, []byte(`"param":"client_version"`)) {
				t.Errorf("%d %s, want 400 on client_version", code, body)
			}
		})
	}
	if n := len(a.requests()); n != 0 {
		t.Errorf("the upstream was asked %d times", n)
	}
}

// TestModelsSingleFlight: callers arriving while a list is being built wait
// for that build instead of asking the accounts again.
func TestModelsSingleFlight(t *testing.T) {
	a := newModelsUpstream(t, codexBody(codexEntry("gpt-5.5", "a")), "")
	a.hold(t)
	m, _, _ := modelsUnder(chatgptModels(t, "a", a))
	joined := make(chan struct{}, 8)
	m.joined = func() { joined <- struct{}{} }

	const callers = 5
	results := make(chan int, callers)
	call := func() {
		code, _, _ := getModels(t, context.Background(), m, "/v1/models?client_version=0.169.0")
		results <- code
	}
	go call()
	await(t, a.arrived, "the first caller's build to reach the upstream")
	for range callers - 1 {
		go call()
	}
	for range callers - 1 {
		await(t, joined, "a caller to wait for the build in progress")
	}
	a.release()
	for range callers {
		if code := await(t, results, "a caller's answer"); code != 200 {
			t.Errorf("caller got %d", code)
		}
	}
	if n := len(a.requests()); n != 1 {
		t.Errorf("%d concurrent callers made %d upstream requests, want 1", callers, n)
	}
}

// TestModelsCallerHangsUp: the caller that started a build leaves; the build
// goes on, unaffected, for the callers after it.
func TestModelsCallerHangsUp(t *testing.T) {
	a := newModelsUpstream(t, codexBody(codexEntry("gpt-5.5", "a")), "")
	a.hold(t)
	m, _, _ := modelsUnder(chatgptModels(t, "a", a))

	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan struct{})
	go func() {
		defer close(left)
		getModels(t, ctx, m, "/v1/models?client_version=0.169.0")
	}()
	await(t, a.arrived, "the build to reach the upstream")
	cancel()
	await(t, left, "ServeHTTP to return for the caller that hung up")

	a.release()
	code, _, body := getModels(t, t.Context(), m, "/v1/models?client_version=0.169.0")
	if code != 200 {
		t.Fatalf("the next caller got %d: %s", code, body)
	}
	if slugs, _ := codexSlugs(t, body); len(slugs) != 1 {
		t.Errorf("slugs %v", slugs)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.canceled) != 1 || a.canceled[0] {
		t.Errorf("upstream requests %d, canceled %v: want one, not canceled", len(a.canceled), a.canceled)
	}
}
