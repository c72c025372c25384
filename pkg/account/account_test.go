package account_test

import (
	"bytes"
	"encoding/json"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/session"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeJWT builds an unsigned JWT with the given exp (zero: none) and, when
// accountID is set, the ChatGPT auth claim. tag makes tokens distinct.
func fakeJWT(t testing.TB, exp time.Time, accountID, tag string) string {
	t.Helper()
	claims := map[string]any{"sub": "user-" + tag, "jti": tag}
	if !exp.IsZero() {
		claims["exp"] = exp.Unix()
	}
	if accountID != "" {
		claims["https://api.openai.com/auth"] = map[string]any{"chatgpt_account_id": accountID, "chatgpt_plan_type": "plus"}
	}
	return codexauthtest.JWT(claims)
}

// authJSON is a Codex auth.json as `codex login` writes it, with fields the
// proxy does not know (they must survive a rewrite).
func authJSON(t testing.TB, idToken, access, refresh, accountID string) []byte {
	t.Helper()
	tokens := map[string]any{"id_token": idToken, "access_token": access, "refresh_token": refresh, "future_token_field": "keep-me"}
	if accountID != "" {
		tokens["account_id"] = accountID
	}
	doc := map[string]any{
		"auth_mode":      "chatgpt",
		"OPENAI_API_KEY": nil,
		"tokens":         tokens,
		"last_refresh":   "2026-02-27T08:00:00Z",
		"agent_identity": map[string]any{"keep": true},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeAuthFile(t testing.TB, dir string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustNew(t testing.TB, c config.Account, opts ...account.Option) *account.Account {
	t.Helper()
	a, err := account.New(c, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", c.Name, err)
	}
	return a
}

func authorized(a *account.Account, h http.Header) http.Header {
	if h == nil {
		h = http.Header{}
	}
	a.Authorize(h)
	return h
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	idWithClaim := fakeJWT(t, testNow.Add(time.Hour), "acct-from-claim", "id")
	access := fakeJWT(t, testNow.Add(time.Hour), "", "access")

	fileWithID := writeAuthFile(t, filepath.Join(mkdir(t, dir, "a")), authJSON(t, idWithClaim, access, "rt-file", "acct-file"))
	fileClaimOnly := writeAuthFile(t, filepath.Join(mkdir(t, dir, "b")), authJSON(t, idWithClaim, access, "rt-file", ""))
	apikeyFile := writeAuthFile(t, filepath.Join(mkdir(t, dir, "c")), []byte(`{"auth_mode":"apikey","OPENAI_API_KEY":"sk-xxxxxxxxxxxxxxxxxxxx"}`))

	tests := []struct {
		name        string
		cfg         config.Account
		wantErr     string
		wantBase    string
		wantAuth    string
		wantAcctID  string
		wantVisible bool // Enabled
	}{
		{
			name:     "openai with api key, trailing slash trimmed",
			cfg:      config.Account{Name: "api", Type: config.TypeOpenAI, BaseURL: "https://coordcode.com/openai/", APIKey: "sk-proj-0123456789abcdef", Weight: 1, Enabled: true},
			wantBase: "https://coordcode.com/openai", wantAuth: "Bearer sk-proj-0123456789abcdef", wantVisible: true,
		},
		{
			name:     "chatgpt from auth_file: tokens.account_id",
			cfg:      config.Account{Name: "gpt", Type: config.TypeOpenAIResponses, AuthFile: fileWithID, Enabled: true},
			wantBase: config.DefaultChatGPTBaseURL, wantAuth: "Bearer " + access, wantAcctID: "acct-file", wantVisible: true,
		},
		{
			name:     "chatgpt from auth_file: account id from the id_token claim",
			cfg:      config.Account{Name: "gpt", Type: config.TypeOpenAIResponses, AuthFile: fileClaimOnly},
			wantBase: config.DefaultChatGPTBaseURL, wantAuth: "Bearer " + access, wantAcctID: "acct-from-claim",
		},
		{
			name:     "chatgpt from auth_file: configured account_id wins",
			cfg:      config.Account{Name: "gpt", Type: config.TypeOpenAIResponses, AuthFile: fileWithID, AccountID: "acct-config", BaseURL: "http://127.0.0.1:9/codex"},
			wantBase: "http://127.0.0.1:9/codex", wantAuth: "Bearer " + access, wantAcctID: "acct-config",
		},
		{
			name:     "chatgpt with inline tokens",
			cfg:      config.Account{Name: "inline", Type: config.TypeOpenAIResponses, AccessToken: "at-inline-0123456789", RefreshToken: "rt-inline", AccountID: "acct-inline"},
			wantBase: config.DefaultChatGPTBaseURL, wantAuth: "Bearer at-inline-0123456789", wantAcctID: "acct-inline",
		},
		{
			name:    "chatgpt auth_file missing",
			cfg:     config.Account{Name: "gone", Type: config.TypeOpenAIResponses, AuthFile: filepath.Join(dir, "nope.json")},
			wantErr: "gone",
		},
		{
			name:    "chatgpt auth_file of an API-key login",
			cfg:     config.Account{Name: "apikeylogin", Type: config.TypeOpenAIResponses, AuthFile: apikeyFile},
			wantErr: "apikeylogin",
		},
		{
			name:    "chatgpt without any token",
			cfg:     config.Account{Name: "empty", Type: config.TypeOpenAIResponses},
			wantErr: "no access token",
		},
		{
			name:    "unknown type",
			cfg:     config.Account{Name: "odd", Type: "anthropic", APIKey: "k"},
			wantErr: "unknown type",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := account.New(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Name != tc.cfg.Name || string(a.Type) != tc.cfg.Type || a.Enabled != tc.wantVisible || a.Weight != tc.cfg.Weight {
				t.Errorf("account = %+v, config %+v", a, tc.cfg)
			}
			if a.BaseURL != tc.wantBase {
				t.Errorf("BaseURL = %q, want %q", a.BaseURL, tc.wantBase)
			}
			h := authorized(a, nil)
			if got := h.Get("Authorization"); got != tc.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tc.wantAuth)
			}
			if got := h.Get("Chatgpt-Account-Id"); got != tc.wantAcctID {
				t.Errorf("Chatgpt-Account-Id = %q, want %q", got, tc.wantAcctID)
			}
		})
	}
}

func mkdir(t testing.TB, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewTokenDir(t *testing.T) {
	inline := config.Account{Name: "team/a", Type: config.TypeOpenAIResponses, AccessToken: "at-inline-0123456789", RefreshToken: "rt-inline", AccountID: "acct"}
	t.Run("no token file: inline tokens", func(t *testing.T) {
		a := mustNew(t, inline, account.WithTokenDir(t.TempDir()))
		if got := authorized(a, nil).Get("Authorization"); got != "Bearer at-inline-0123456789" {
			t.Errorf("Authorization = %q", got)
		}
	})
	t.Run("token file beside the config wins", func(t *testing.T) {
		dir := t.TempDir()
		if name := account.TokenFileName("team/a"); strings.ContainsAny(name, `/\`) {
			t.Fatalf("TokenFileName = %q contains a separator", name)
		}
		rotated := fakeJWT(t, testNow.Add(time.Hour), "", "rotated")
		if err := os.WriteFile(filepath.Join(dir, account.TokenFileName("team/a")), authJSON(t, "", rotated, "rt-rotated", "acct"), 0o600); err != nil {
			t.Fatal(err)
		}
		a := mustNew(t, inline, account.WithTokenDir(dir))
		if got := authorized(a, nil).Get("Authorization"); got != "Bearer "+rotated {
			t.Errorf("Authorization = %q, want the rotated token", got)
		}
		stale := mustNew(t, inline)
		if a.CredentialID() == stale.CredentialID() {
			t.Errorf("CredentialID does not follow the rotated refresh token")
		}
	})
	t.Run("auth_file ignores the token dir", func(t *testing.T) {
		dir := t.TempDir()
		fromFile := fakeJWT(t, testNow.Add(time.Hour), "", "file")
		p := writeAuthFile(t, mkdir(t, dir, "codex"), authJSON(t, "", fromFile, "rt", "acct"))
		if err := os.WriteFile(filepath.Join(dir, account.TokenFileName("x")), authJSON(t, "", "at-other-0123456789", "rt2", "acct"), 0o600); err != nil {
			t.Fatal(err)
		}
		a := mustNew(t, config.Account{Name: "x", Type: config.TypeOpenAIResponses, AuthFile: p}, account.WithTokenDir(dir))
		if got := authorized(a, nil).Get("Authorization"); got != "Bearer "+fromFile {
			t.Errorf("Authorization = %q, want the auth_file's token", got)
		}
	})
}

func TestServes(t *testing.T) {
	tests := []struct {
		name   string
		models []string
		model  string
		want   bool
	}{
		{"no allow-list admits anything", nil, "gpt-4.1", true},
		{"glob prefix", []string{"gpt-5*"}, "gpt-5-codex", true},
		{"glob matches the bare name", []string{"gpt-5*"}, "gpt-5", true},
		{"glob rejects another family", []string{"gpt-5*"}, "gpt-4.1", false},
		{"exact name", []string{"gpt-5*", "o3"}, "o3", true},
		{"exact name is not a prefix", []string{"o3"}, "o3-mini", false},
		{"single-character glob", []string{"o?"}, "o3", true},
		{"case matters", []string{"gpt-5*"}, "GPT-5", false},
		{"empty model is admitted", []string{"gpt-5*"}, "", true},
		{"malformed pattern matches nothing", []string{"gpt-[5"}, "gpt-5", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "k", Models: tc.models})
			if got := a.Serves(tc.model); got != tc.want {
				t.Errorf("Serves(%q) with %q = %v, want %v", tc.model, tc.models, got, tc.want)
			}
		})
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		name, base, suffix, query, want string
	}{
		{"v1 base", "https://api.openai.com/v1", "/responses", "", "https://api.openai.com/v1/responses"},
		{"trailing slash", "https://coordcode.com/openai/", "/responses", "", "https://coordcode.com/openai/responses"},
		{"compact", "http://127.0.0.1:8080", "/responses/compact", "", "http://127.0.0.1:8080/responses/compact"},
		{"query kept", "https://api.openai.com/v1", "/models", "client_version=0.169.0", "https://api.openai.com/v1/models?client_version=0.169.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: tc.base, APIKey: "k"})
			if got := a.Target(tc.suffix, tc.query); got != tc.want {
				t.Errorf("Target = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("chatgpt default base", func(t *testing.T) {
		a := mustNew(t, config.Account{Name: "g", Type: config.TypeOpenAIResponses, AccessToken: "at"})
		if got, want := a.Target("/responses", ""), "https://chatgpt.com/backend-api/codex/responses"; got != want {
			t.Errorf("Target = %q, want %q", got, want)
		}
	})
}

func TestAuthorize(t *testing.T) {
	api := mustNew(t, config.Account{Name: "api", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "sk-upstream-0123456789"})
	gpt := mustNew(t, config.Account{Name: "gpt", Type: config.TypeOpenAIResponses, AccessToken: "at-upstream-0123456789", AccountID: "acct-1"})
	gptNoID := mustNew(t, config.Account{Name: "gpt2", Type: config.TypeOpenAIResponses, AccessToken: "at-upstream-0123456789"})

	tests := []struct {
		name string
		a    *account.Account
		in   http.Header
		want map[string]string // "" means absent
	}{
		{
			name: "api key replaces the client's key, adds nothing ChatGPT",
			a:    api,
			in:   http.Header{"Authorization": {"Bearer client-key"}},
			want: map[string]string{"Authorization": "Bearer sk-upstream-0123456789", "Chatgpt-Account-Id": "", "Originator": ""},
		},
		{
			name: "chatgpt sets token, account id and default originator",
			a:    gpt,
			in:   http.Header{"Authorization": {"Bearer client-key"}, "Chatgpt-Account-Id": {"someone-else"}},
			want: map[string]string{"Authorization": "Bearer at-upstream-0123456789", "Chatgpt-Account-Id": "acct-1", "Originator": "codex_cli_rs"},
		},
		{
			name: "chatgpt keeps the client's originator",
			a:    gpt,
			in:   http.Header{"Originator": {"codex_exec"}},
			want: map[string]string{"Authorization": "Bearer at-upstream-0123456789", "Chatgpt-Account-Id": "acct-1", "Originator": "codex_exec"},
		},
		{
			name: "chatgpt without an account id sends none",
			a:    gptNoID,
			in:   http.Header{},
			want: map[string]string{"Authorization": "Bearer at-upstream-0123456789", "Chatgpt-Account-Id": "", "Originator": "codex_cli_rs"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := authorized(tc.a, tc.in)
			for k, want := range tc.want {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
				if want != "" && len(h.Values(k)) != 1 {
					t.Errorf("%s has %d values, want 1", k, len(h.Values(k)))
				}
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	longKey := "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
	longToken := fakeJWT(t, testNow.Add(time.Hour), "", "fp")
	tests := []struct {
		name   string
		cfg    config.Account
		secret string
		want   string
	}{
		{"api key", config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: longKey}, longKey, "sk-...6789"},
		{"short api key shows its kind and length", config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "sk-short123"}, "sk-short123", "sk-...(11 chars)"},
		{"short key without a public prefix shows its length", config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "secret-key"}, "secret-key", "...(10 chars)"},
		{"chatgpt by account id", config.Account{Name: "g", Type: config.TypeOpenAIResponses, AccessToken: longToken, AccountID: "0f1e2d3c-4b5a-6978-8a9b-c0d1e2f3a4b5"},
			"0f1e2d3c-4b5a-6978-8a9b-c0d1e2f3a4b5", "chatgpt:0f1...a4b5"},
		{"chatgpt without account id falls back to the token", config.Account{Name: "g", Type: config.TypeOpenAIResponses, AccessToken: longToken},
			longToken, "chatgpt:" + longToken[:3] + "..." + longToken[len(longToken)-4:]},
		{"chatgpt short account id", config.Account{Name: "g", Type: config.TypeOpenAIResponses, AccessToken: longToken, AccountID: "acct-1"}, "acct-1", "chatgpt:...(6 chars)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, tc.cfg)
			got := a.Fingerprint()
			if got != tc.want {
				t.Errorf("Fingerprint = %q, want %q", got, tc.want)
			}
			if n := revealed(got, tc.secret); n > 7 {
				t.Errorf("Fingerprint %q reveals %d characters of the secret, want at most 3+4", got, n)
			}
			for _, s := range []string{tc.cfg.APIKey, tc.cfg.AccessToken} {
				if len(s) >= 8 && strings.Contains(got, s[:8]) {
					t.Errorf("Fingerprint %q contains the start of a credential", got)
				}
			}
		})
	}
}

// revealed counts the characters of got that come from secret: its
// longest shared prefix plus its longest shared suffix, past any "chatgpt:"
// label.
func revealed(got, secret string) int {
	got = strings.TrimPrefix(got, "chatgpt:")
	n := 0
	for n < len(got) && n < len(secret) && got[n] == secret[n] {
		n++
	}
	m := 0
	for m < len(got)-n && m < len(secret) && got[len(got)-1-m] == secret[len(secret)-1-m] {
		m++
	}
	return n + m
}

func TestCredentialID(t *testing.T) {
	key := func(k string) *account.Account {
		return mustNew(t, config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: k})
	}
	gpt := func(access, refresh string) *account.Account {
		return mustNew(t, config.Account{Name: "g", Type: config.TypeOpenAIResponses, AccessToken: access, RefreshToken: refresh})
	}
	tests := []struct {
		name string
		a, b *account.Account
		same bool
	}{
		{"same key, same id", key("sk-one-0123456789abcdef"), key("sk-one-0123456789abcdef"), true},
		{"key changed, id changed", key("sk-one-0123456789abcdef"), key("sk-two-0123456789abcdef"), false},
		{"chatgpt follows the refresh token across access tokens", gpt("at-1", "rt-1"), gpt("at-2", "rt-1"), true},
		{"chatgpt new login, new id", gpt("at-1", "rt-1"), gpt("at-1", "rt-2"), false},
		{"chatgpt without refresh token follows the access token", gpt("at-1", ""), gpt("at-2", ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ida, idb := tc.a.CredentialID(), tc.b.CredentialID()
			if ida == "" || idb == "" {
				t.Fatal("empty CredentialID")
			}
			if (ida == idb) != tc.same {
				t.Errorf("CredentialIDs %q and %q: same = %v, want %v", ida, idb, ida == idb, tc.same)
			}
		})
	}
	t.Run("the id reveals no part of the key", func(t *testing.T) {
		k := "sk-secret-0123456789abcdef"
		if id := key(k).CredentialID(); strings.Contains(id, k[:6]) || strings.Contains(id, k[len(k)-4:]) {
			t.Errorf("CredentialID %q reveals the key", id)
		}
	})
}

func parseReq(t testing.TB, body string) session.Request {
	t.Helper()
	r, err := session.Parse(http.Header{}, []byte(body))
	if err != nil {
		t.Fatalf("session.Parse(%s): %v", body, err)
	}
	return r
}

func TestPrepare(t *testing.T) {
	api := mustNew(t, config.Account{Name: "api", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "k"})
	gpt := mustNew(t, config.Account{Name: "gpt", Type: config.TypeOpenAIResponses, AccessToken: "at"})

	const input = `"input":[{"role":"user","content":[{"type":"input_text","text":"hi \"there\""}]}]`
	tests := []struct {
		name       string
		a          *account.Account
		suffix     string
		body       string
		wantGather bool
		untouched  bool // the very same bytes come back
		wantStream any  // checked when !untouched
		wantStore  any  // checked when !untouched
	}{
		{"openai non-stream untouched", api, "/responses", `{"model":"gpt-5","stream":false,` + input + `}`, false, true, nil, nil},
		{"openai store true untouched", api, "/responses", `{"model":"gpt-5","store":true,` + input + `}`, false, true, nil, nil},
		{"chatgpt stream and store:false untouched", gpt, "/responses", `{"model":"gpt-5","stream":true,"store":false,` + input + `}`, false, true, nil, nil},
		{"chatgpt compact untouched", gpt, "/responses/compact", `{"model":"gpt-5",` + input + `}`, false, true, nil, nil},
		{"chatgpt no stream, no store", gpt, "/responses", `{"model":"gpt-5",` + input + `}`, true, false, true, false},
		{"chatgpt stream false, store true", gpt, "/responses", `{"model":"gpt-5","stream":false,"store":true,` + input + `}`, true, false, true, false},
		{"chatgpt streaming, store absent", gpt, "/responses", `{"model":"gpt-5","stream":true,` + input + `}`, false, false, true, false},
		{"chatgpt store \"false\" as a string is forced", gpt, "/responses", `{"model":"gpt-5","stream":true,"store":"false",` + input + `}`, false, false, true, false},
		{"chatgpt store null is forced", gpt, "/responses", `{"model":"gpt-5","stream":true,"store":null,` + input + `}`, false, false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			orig := bytes.Clone(body)
			out, gather, err := tc.a.Prepare(tc.suffix, body, parseReq(t, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if gather != tc.wantGather {
				t.Errorf("gather = %v, want %v", gather, tc.wantGather)
			}
			if !bytes.Equal(body, orig) {
				t.Errorf("Prepare modified the caller's body: %s", body)
			}
			if tc.untouched {
				if !bytes.Equal(out, body) {
					t.Errorf("body changed: %s", out)
				}
				if len(out) > 0 && &out[0] != &body[0] {
					t.Errorf("body copied although unchanged")
				}
				return
			}
			var got, want map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("prepared body is not JSON: %v\n%s", err, out)
			}
			if got["stream"] != tc.wantStream {
				t.Errorf("stream = %#v, want %#v", got["stream"], tc.wantStream)
			}
			if got["store"] != tc.wantStore {
				t.Errorf("store = %#v, want %#v", got["store"], tc.wantStore)
			}
			// Everything else is as sent.
			_ = json.Unmarshal(body, &want)
			delete(got, "stream")
			delete(got, "store")
			delete(want, "stream")
			delete(want, "store")
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if !bytes.Equal(gb, wb) {
				t.Errorf("other fields changed:\n got %s\nwant %s", gb, wb)
			}
		})
	}
}

func TestNeedsRefresh(t *testing.T) {
	gpt := func(access, refresh string) *account.Account {
		return mustNew(t, config.Account{Name: "g", Type: config.TypeOpenAIResponses, AccessToken: access, RefreshToken: refresh})
	}
	tests := []struct {
		name string
		a    *account.Account
		want bool
	}{
		{"expired", gpt(fakeJWT(t, testNow.Add(-time.Minute), "", "x"), "rt"), true},
		{"expires in a minute", gpt(fakeJWT(t, testNow.Add(time.Minute), "", "x"), "rt"), true},
		{"expires in an hour", gpt(fakeJWT(t, testNow.Add(time.Hour), "", "x"), "rt"), false},
		{"expired but no refresh token", gpt(fakeJWT(t, testNow.Add(-time.Hour), "", "x"), ""), false},
		{"not a JWT", gpt("opaque-access-token", "rt"), false},
		{"JWT without exp", gpt(fakeJWT(t, time.Time{}, "", "x"), "rt"), false},
		{"api key account", mustNew(t, config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "k"}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.NeedsRefresh(testNow); got != tc.want {
				t.Errorf("NeedsRefresh = %v, want %v", got, tc.want)
			}
		})
	}
}

// The ChatGPT backend refuses an output limit, temperature, top_p and the
// penalties with a 400; an API account takes them.
func TestPrepareLeavesOutWhatChatGPTRefuses(t *testing.T) {
	api := mustNew(t, config.Account{Name: "api", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "k"})
	gpt := mustNew(t, config.Account{Name: "gpt", Type: config.TypeOpenAIResponses, AccessToken: "at"})
	const body = `{"model":"gpt-5","stream":true,"store":false,"max_output_tokens":64,"temperature":0.2,"top_p":1,"frequency_penalty":0,"presence_penalty":0,"input":"hi"}`
	out, _, err := gpt.Prepare("/responses", []byte(body), parseReq(t, body))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"model":"gpt-5","stream":true,"store":false,"input":"hi"}`; string(out) != want {
		t.Errorf("chatgpt body = %s, want %s", out, want)
	}
	out, _, _ = api.Prepare("/responses", []byte(body), parseReq(t, body))
	if string(out) != body {
		t.Errorf("api body = %s, want it as sent", out)
	}
}

func TestMapModel(t *testing.T) {
	tests := []struct {
		name string
		m    map[string]string
		in   string
		want string
	}{
		{"no map", nil, "gpt-5.5", "gpt-5.5"},
		{"exact name", map[string]string{"gpt-5.5": "deepseek-chat"}, "gpt-5.5", "deepseek-chat"},
		{"exact name only", map[string]string{"gpt-5.5": "deepseek-chat"}, "gpt-5", "gpt-5"},
		{"exact before star", map[string]string{"gpt-5.5": "a", "*": "b"}, "gpt-5.5", "a"},
		{"star", map[string]string{"gpt-5.5": "a", "*": "b"}, "o3", "b"},
		{"star names a missing model", map[string]string{"*": "b"}, "", "b"},
		{"case matters", map[string]string{"GPT-5": "a"}, "gpt-5", "gpt-5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, config.Account{Name: "x", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "k", ModelMap: tt.m})
			if got := a.MapModel(tt.in); got != tt.want {
				t.Errorf("MapModel(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
