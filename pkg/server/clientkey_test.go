package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// chatgptToken is a ChatGPT access token in the shape Codex sends: a JWT
// naming its ChatGPT account.
func chatgptToken(accountID, nonce string) string {
	return codexauthtest.JWT(map[string]any{
		"exp": 4102444800, "jti": nonce,
		"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": accountID},
	})
}

func newAccount(t *testing.T, c config.Account) *account.Account {
	t.Helper()
	c.Enabled = true
	a, err := account.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRequireClientKeyAcceptsAConfiguredLogin: with client keys set, the
// current access token of one of the proxy's ChatGPT accounts is admitted
// (Codex signed in with that login sends it), recorded as "login:<account>";
// a forged token naming the same ChatGPT account, an old token after a
// rotation, and an API account's key are refused, each logged at WARN by
// its kind and the client's address, never by its value.
func TestRequireClientKeyAcceptsAConfiguredLogin(t *testing.T) {
	const clientKey = "pk-laptop-0123456789"
	mine := chatgptToken("acct-mine", "1")
	rotated := chatgptToken("acct-mine", "2")
	forged := chatgptToken("acct-mine", "forged") // the right claims, not the token
	other := chatgptToken("acct-stranger", "3")
	const apiKey = "sk-upstream-0123456789abcdef"

	var mu sync.Mutex
	current := mine
	accounts := func() []*account.Account {
		mu.Lock()
		defer mu.Unlock()
		return []*account.Account{
			newAccount(t, config.Account{Name: "api", Type: config.TypeOpenAI, BaseURL: "http://127.0.0.1:1/v1", APIKey: apiKey}),
			newAccount(t, config.Account{Name: "chatgpt-main", Type: config.TypeOpenAIResponses, AccessToken: current, AccountID: "acct-mine"}),
		}
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))

	var gotClient string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotClient = relay.ClientFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	h := requireClientKey(clientAuth{keys: NewKeySet([]ClientKey{{Name: "laptop", Key: clientKey}}), logins: AccountLogins(accounts), logger: logger}, next)

	tests := []struct {
		name       string
		token      string
		rotate     bool // the account's token has rotated to `rotated` first
		wantStatus int
		wantClient string
		wantKind   string // in the WARN line of a refusal
		wantMsg    string
	}{
		{name: "client key", token: clientKey, wantStatus: 204, wantClient: "laptop"},
		{name: "the account's current token", token: mine, wantStatus: 204, wantClient: "login:chatgpt-main"},
		{name: "a forged token with the account's id", token: forged, wantStatus: 401, wantKind: "a ChatGPT token", wantMsg: "not the current token of any of the proxy's ChatGPT accounts"},
		{name: "another login", token: other, wantStatus: 401, wantKind: "a ChatGPT token", wantMsg: "import-codex"},
		{name: "an upstream API key", token: apiKey, wantStatus: 401, wantKind: "an sk- key of 28 chars", wantMsg: "not one of the proxy's client_keys"},
		{name: "some other key", token: "hello", wantStatus: 401, wantKind: "a key of 5 chars", wantMsg: "proxy codex config"},
		{name: "nothing", wantStatus: 401, wantKind: "no credential", wantMsg: "missing client key"},
		{name: "the old token after a rotation", token: mine, rotate: true, wantStatus: 401, wantKind: "a ChatGPT token"},
		{name: "the rotated token", token: rotated, rotate: true, wantStatus: 204, wantClient: "login:chatgpt-main"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			current = mine
			if tc.rotate {
				current = rotated
			}
			mu.Unlock()
			logMu.Lock()
			logs.Reset()
			logMu.Unlock()
			gotClient = ""

			req := httptest.NewRequest(http.MethodPost, "/v1/responses", nil)
			req.RemoteAddr = "127.0.0.1:53124"
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus || gotClient != tc.wantClient {
				t.Fatalf("status %d client %q, want %d %q: %s", rec.Code, gotClient, tc.wantStatus, tc.wantClient, rec.Body)
			}
			logMu.Lock()
			line := logs.String()
			logMu.Unlock()
			for _, secret := range []string{mine, rotated, forged, other, apiKey, clientKey} {
				if strings.Contains(line, secret) || strings.Contains(rec.Body.String(), secret) {
					t.Errorf("a credential leaked into the log or the answer")
				}
			}
			if tc.wantStatus != http.StatusUnauthorized {
				if line != "" {
					t.Errorf("an admitted request was logged: %s", line)
				}
				return
			}
			for _, want := range []string{"level=WARN", `msg="client credential refused"`, `credential="` + tc.wantKind + `"`, "client=127.0.0.1:53124"} {
				if !strings.Contains(line, want) {
					t.Errorf("log lacks %s: %s", want, line)
				}
			}
			if !strings.Contains(rec.Body.String(), "client_keys") || !strings.Contains(rec.Body.String(), tc.wantMsg) {
				t.Errorf("401 %s does not say what was expected (%q)", rec.Body, tc.wantMsg)
			}
		})
	}
}

// TestCredentialKind: what a log line says about a refused credential.
func TestCredentialKind(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "no credential"},
		{"ChatGPT access token", chatgptToken("acct-1", "x"), "a ChatGPT token"},
		{"other JWT", codexauthtest.JWT(map[string]any{"sub": "x"}), "a JWT"},
		{"OpenAI key", "sk-proj-abc", "an sk- key of 11 chars"},
		{"anything", "abc.def", "a key of 7 chars"},
		{"three dots but not a JWT", "a.b.c", "a key of 5 chars"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := credentialKind(tc.in); got != tc.want {
				t.Errorf("credentialKind = %q, want %q", got, tc.want)
			}
		})
	}
}

// lockedWriter serialises writes from concurrent handlers.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestQueryCredentialsDropped: a client key or an accepted login in the
// query string, under any parameter name, as written or escaped, never
// reaches the handlers behind the check (the relay passes the query on to
// the account); other parameters pass as they were.
func TestQueryCredentialsDropped(t *testing.T) {
	const clientKey = "pk-laptop-0123456789"
	login := chatgptToken("acct-mine", "1")
	accounts := func() []*account.Account {
		return []*account.Account{newAccount(t, config.Account{Name: "chatgpt-main", Type: config.TypeOpenAIResponses, AccessToken: login, AccountID: "acct-mine"})}
	}
	tests := []struct {
		name  string
		keys  []ClientKey
		query string
		wantQ string
	}{
		{name: "api_key", query: "api_key=" + clientKey, wantQ: ""},
		{name: "another name, others kept", query: "b=2&key=" + clientKey + "&client_version=0.171.0", wantQ: "b=2&client_version=0.171.0"},
		{name: "escaped", query: "api_key=pk%2Dlaptop%2D0123456789&x=1", wantQ: "x=1"},
		{name: "a login token", query: "a=1&token=" + login + "&b=2", wantQ: "a=1&b=2"},
		{name: "twice", query: "api_key=" + clientKey + "&api_key=" + clientKey, wantQ: ""},
		{name: "nothing to drop", query: "client_version=0.171.0&x=%20y", wantQ: "client_version=0.171.0&x=%20y"},
		{name: "a key name without a key", query: "api_key=something-else", wantQ: "api_key=something-else"},
		{name: "no client keys, a login token", query: "token=" + login, wantQ: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := NewKeySet([]ClientKey{{Name: "laptop", Key: clientKey}})
			if strings.HasPrefix(tc.name, "no client keys") {
				keys = NewKeySet(nil)
			}
			var gotQuery, gotURI string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotQuery, gotURI = r.URL.RawQuery, r.RequestURI
				w.WriteHeader(http.StatusNoContent)
			})
			h := requireClientKey(clientAuth{keys: keys, logins: AccountLogins(accounts)}, next)
			req := httptest.NewRequest(http.MethodPost, "/v1/responses?"+tc.query, nil)
			req.Header.Set("Authorization", "Bearer "+clientKey)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if gotQuery != tc.wantQ {
				t.Errorf("query passed on %q, want %q", redactedQuery(gotQuery, clientKey, login), tc.wantQ)
			}
			for _, s := range []string{clientKey, "pk%2Dlaptop", login} {
				if strings.Contains(gotURI, s) {
					t.Error("the request URI still carries the credential")
				}
			}
			if req.URL.RawQuery != tc.query {
				t.Error("the client's request was modified in place")
			}
		})
	}
}

// redactedQuery keeps a failing test's output free of the credentials.
func redactedQuery(q string, secrets ...string) string {
	for _, s := range secrets {
		q = strings.ReplaceAll(q, s, "[redacted]")
	}
	return q
}

// TestKeyRoles: while no key names a role every key is an admin's (a config
// from before roles keeps today's behaviour); once one does, a key that
// names none is a user's; the proxy's own pinned key says its own.
func TestKeyRoles(t *testing.T) {
	tests := []struct {
		name   string
		keys   []ClientKey
		pinned []ClientKey
		want   map[string]identity.Role
		roles  bool
	}{
		{"no roles named", []ClientKey{{Name: "a", Key: "ka"}, {Name: "b", Key: "kb"}}, nil,
			map[string]identity.Role{"ka": identity.Admin, "kb": identity.Admin}, false},
		{"roles named", []ClientKey{{Name: "a", Key: "ka", Role: identity.Admin}, {Name: "b", Key: "kb", Role: identity.User}, {Name: "c", Key: "kc"}}, nil,
			map[string]identity.Role{"ka": identity.Admin, "kb": identity.User, "kc": identity.User}, true},
		{"the watch screen's pinned key", []ClientKey{{Name: "b", Key: "kb", Role: identity.User}}, []ClientKey{{Name: "watch-screen", Key: "kw", Role: identity.Admin}},
			map[string]identity.Role{"kb": identity.User, "kw": identity.Admin}, true},
		{"a pinned key without a role beside unnamed keys", []ClientKey{{Name: "a", Key: "ka"}}, []ClientKey{{Name: "watch-screen", Key: "kw", Role: identity.Admin}},
			map[string]identity.Role{"ka": identity.Admin, "kw": identity.Admin}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewKeySetPinned(tt.keys, tt.pinned...)
			auth := clientAuth{keys: s}
			for key, want := range tt.want {
				if got := auth.admit(s.load(), key); got.Role != want {
					t.Errorf("key %s: role %q, want %q", key, got.Role, want)
				}
			}
			if s.RolesConfigured() != tt.roles {
				t.Errorf("RolesConfigured = %v, want %v", s.RolesConfigured(), tt.roles)
			}
		})
	}
}
