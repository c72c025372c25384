package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// readmeProviderBlock returns the Codex provider block of README.md, the
// ```toml block between the codex-provider marker comments: the test runs
// Codex with exactly what users copy.
func readmeProviderBlock(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- codex-provider:start -->", "<!-- codex-provider:end -->"
	s := string(data)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %s ... %s section", start, end)
	}
	section := s[i+len(start) : j]
	a, b := strings.Index(section, "```toml\n"), strings.LastIndex(section, "```")
	if a < 0 || b <= a {
		t.Fatalf("the README's codex-provider section has no ```toml block")
	}
	return section[a+len("```toml\n") : b]
}

// readmeAddress is the proxy address the README's block names.
const readmeAddress = "http://127.0.0.1:8787"

// codexHomeFromReadme writes a CODEX_HOME whose config.toml is the README's
// block with the proxy's address put in (its chatgpt_base_url too, so a
// ChatGPT login's side requests stay on loopback), framed by what the test
// needs: before it, a tiny auto-compact limit (so the second turn of a
// conversation compacts); after it, the closed-network settings of
// CODEX.md.
func codexHomeFromReadme(t *testing.T, proxyURL string) string {
	t.Helper()
	block := readmeProviderBlock(t)
	if !strings.Contains(block, readmeAddress+"/v1") || !strings.Contains(block, `chatgpt_base_url = "`+readmeAddress+`/backend-api/"`) {
		t.Fatalf("the README's block does not name %s/v1:\n%s", readmeAddress, block)
	}
	block = strings.ReplaceAll(block, readmeAddress, proxyURL)
	var b strings.Builder
	b.WriteString("model = \"gpt-5\"\ncheck_for_update_on_startup = false\n")
	// Codex compacts before a turn once the conversation's tokens pass this;
	// the fake's first turn alone reports thousands.
	b.WriteString("model_auto_compact_token_limit = 100\n")
	b.WriteString("\n" + block + "\n")
	b.WriteString(`[features]
plugins = false
shell_snapshot = false
unbounded_connection_retries = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
`)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// codexLoginToken is the access token of the fake ChatGPT login
// writeCodexLogin gives Codex: a JWT for ChatGPT account acct-codex-user
// that expires in a century, so Codex never tries to refresh it.
var codexLoginToken = codexauthtest.JWT(map[string]any{
	"exp": time.Now().AddDate(100, 0, 0).Unix(),
	"https://api.openai.com/auth": map[string]any{
		"chatgpt_account_id": "acct-codex-user", "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-1"},
})

// writeCodexLogin puts a ChatGPT login (`codex login`) with fake tokens in
// home.
func writeCodexLogin(t *testing.T, home string) {
	t.Helper()
	claims := map[string]any{"chatgpt_account_id": "acct-codex-user", "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-1"}
	idToken := codexauthtest.JWT(map[string]any{"email": "someone@example.com", "exp": time.Now().AddDate(100, 0, 0).Unix(), "https://api.openai.com/auth": claims})
	doc, _ := json.Marshal(map[string]any{"auth_mode": "chatgpt", "OPENAI_API_KEY": nil,
		"tokens":       map[string]any{"id_token": idToken, "access_token": codexLoginToken, "refresh_token": "rt-fake", "account_id": "acct-codex-user"},
		"last_refresh": time.Now().UTC().Format(time.RFC3339)})
	if err := os.WriteFile(filepath.Join(home, "auth.json"), doc, 0o600); err != nil {
		t.Fatal(err)
	}
}

// seen is one request as it reached the proxy from Codex.
type seen struct {
	Method, Path, Query, Encoding, Auth string
}

// recorder sits between Codex and the proxy and notes what Codex sent
// before the proxy decodes it: the upstream only ever sees decoded bodies.
type recorder struct {
	URL string
	mu  sync.Mutex
	all []seen
}

func startRecorder(t *testing.T, proxyURL string) *recorder {
	t.Helper()
	target, err := url.Parse(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1 // SSE: pass every event on at once
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "none"
		if a := r.Header.Get("Authorization"); a == "Bearer "+codexLoginToken {
			kind = "login"
		} else if a != "" {
			kind = "other"
		}
		rec.mu.Lock()
		rec.all = append(rec.all, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Encoding"), kind})
		rec.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.all...)
}

// postsOf returns the account's POST /responses requests.
func postsOf(s *fakeupstream.Server) []fakeupstream.Request {
	var out []fakeupstream.Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/responses") {
			out = append(out, r)
		}
	}
	return out
}

// endsWithCompactionTrigger reports a remote compaction v2 request: its
// input ends with {"type":"compaction_trigger"}.
func endsWithCompactionTrigger(body []byte) bool {
	var req struct {
		Input []struct {
			Type string `json:"type"`
		} `json:"input"`
	}
	return json.Unmarshal(body, &req) == nil && len(req.Input) > 0 && req.Input[len(req.Input)-1].Type == "compaction_trigger"
}

// checkServerCompaction checks one conversation of two turns on account:
// turn 1, then on turn 2 a compaction_trigger request answered with the
// account's compaction item, then turn 2 itself carrying that item back to
// the same account; the other accounts saw nothing. Codex says "context
// compacted" on stderr.
func checkServerCompaction(t *testing.T, second codexRun, account string, ups map[string]*fakeupstream.Server) {
	t.Helper()
	posts := postsOf(ups[account])
	if len(posts) != 3 {
		t.Fatalf("%s got %d POST /responses, want 3 (turn 1, the compaction, turn 2): %s", account, len(posts), describe(ups[account].Requests()))
	}
	if endsWithCompactionTrigger(posts[0].Body) || !endsWithCompactionTrigger(posts[1].Body) || endsWithCompactionTrigger(posts[2].Body) {
		t.Errorf("the compaction_trigger request is not the second of three")
	}
	if minters := compactionMinters(t, posts[2].Body); len(minters) != 1 || minters[0] != account {
		t.Errorf("turn 2 carries compaction items minted by %q, want %s's own back to it", minters, account)
	}
	for i, r := range posts {
		if r.Header.Get("Session-Id") != posts[0].Header.Get("Session-Id") {
			t.Errorf("request %d has session-id %q, turn 1 %q", i+1, r.Header.Get("Session-Id"), posts[0].Header.Get("Session-Id"))
		}
	}
	for name, s := range ups {
		if name != account && len(s.Requests()) != 0 {
			t.Errorf("%s got requests of a conversation on %s: %s", name, account, describe(s.Requests()))
		}
	}
	if !strings.Contains(second.Stderr, "context compacted") {
		t.Errorf("Codex did not report the compaction\n%s", second)
	}
	if got := servedBy(second.Stdout); got != account {
		t.Errorf("turn 2 was served by %q, want %s\n%s", got, account, second)
	}
	t.Logf("turn 2 on %s, Codex printed: %q", account, strings.TrimSpace(lineWith(second.Stderr, "context compacted")))
}

// compactionMinters are the accounts that minted the compaction items of a
// request's input, by their blobs.
func compactionMinters(t *testing.T, body []byte) []string {
	t.Helper()
	var req struct {
		Input []struct {
			Type             string `json:"type"`
			EncryptedContent string `json:"encrypted_content"`
		} `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range req.Input {
		if it.Type == "compaction" || it.Type == "compaction_summary" {
			acct, _, _ := fakeupstream.MintedBy(it.EncryptedContent)
			out = append(out, acct)
		}
	}
	return out
}

// lineWith returns the first line of s containing sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestCodexProviderBlockFromReadme runs the real Codex CLI with the README's
// provider block, as users copy it, and checks what the block promises:
//   - without a Codex login, two turns of one conversation: Codex compacts
//     on the server (name = "OpenAI"), and the compaction request and the
//     turn carrying its result both reach the conversation's account;
//   - with a ChatGPT login (requires_openai_auth), also the model list in
//     Codex's shape, over the WebSocket (supports_websockets) and, without
//     that line, over HTTP with zstd request bodies;
//   - with client_keys and that login among the proxy's accounts, the
//     proxy admits Codex by the login's token, no env_key needed.
func TestCodexProviderBlockFromReadme(t *testing.T) {
	bin := codexBinary(t)

	t.Run("no login: server-side compaction on the conversation's account", func(t *testing.T) {
		ups := map[string]*fakeupstream.Server{
			"api":     startUpstream(t, "api", fakeupstream.WithAPIKey(keyA)),
			"chatgpt": startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-123")),
		}
		p := startProxy(t, "accounts:\n"+openaiAccount("api", ups["api"], "KEY_A", 1)+chatgptAccount("chatgpt", ups["chatgpt"], "ACCESS", "acct-123", 1), env)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("proxy logs:\n%s", p.Logs)
			}
		})
		home := codexHomeFromReadme(t, p.URL)
		work := t.TempDir()
		first := runCodex(t, bin, home, work, "", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
		account := servedBy(first.Stdout)
		if _, ok := ups[account]; !ok {
			t.Fatalf("turn 1 was served by %q\n%s", account, first)
		}
		second := runCodex(t, bin, home, work, "", "exec", "resume", "--skip-git-repo-check", "--strict-config", "--last", "again")
		checkServerCompaction(t, second, account, ups)
		assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, accessToken)
	})

	// The block as users copy it goes over the WebSocket; without its
	// supports_websockets line Codex POSTs, zstd-compressed.
	for _, transport := range []string{"WebSocket", "HTTP"} {
		t.Run("ChatGPT login over "+transport+": the model list, compaction", func(t *testing.T) {
			chat := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithModels("gpt-5.5", "gpt-5"))
			ups := map[string]*fakeupstream.Server{"chatgpt": chat}
			p := startProxy(t, "accounts:\n"+chatgptAccount("chatgpt", chat, "ACCESS", "acct-123", 1), env)
			front := startRecorder(t, p.URL)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("proxy logs:\n%s", p.Logs)
					t.Logf("Codex sent %+v", front.requests())
				}
			})
			home := codexHomeFromReadme(t, front.URL)
			if transport == "HTTP" {
				editCodexConfig(t, home, "supports_websockets = true", "")
			}
			writeCodexLogin(t, home)
			work := t.TempDir()
			runCodex(t, bin, home, work, "", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
			second := runCodex(t, bin, home, work, "", "exec", "resume", "--skip-git-repo-check", "--strict-config", "--last", "again")
			checkServerCompaction(t, second, "chatgpt", ups)

			var posts, zstd, upgrades, models int
			for _, r := range front.requests() {
				switch {
				case r.Path == "/v1/responses" && (r.Method == http.MethodPost || r.Method == http.MethodGet):
					if r.Method == http.MethodPost {
						posts++
					} else {
						upgrades++
					}
					if r.Encoding == "zstd" {
						zstd++
					}
					if r.Auth != "login" {
						t.Errorf("Codex sent %s credentials, want its login's token", r.Auth)
					}
				case r.Method == http.MethodGet && r.Path == "/v1/models" && strings.HasPrefix(r.Query, "client_version="):
					models++
				}
			}
			switch {
			case transport == "WebSocket" && (upgrades == 0 || posts != 0):
				t.Errorf("Codex made %d WebSocket connections and %d POSTs, want its requests over WebSockets", upgrades, posts)
			case transport == "HTTP" && (zstd != 3 || upgrades != 0):
				t.Errorf("%d of 3 POST /v1/responses came zstd-compressed (%d WebSocket connections)", zstd, upgrades)
			}
			if models == 0 {
				t.Errorf("Codex never asked for the model list")
			}
			if logs := codexLogs(t, home); strings.Contains(logs, "failed to refresh available models") {
				t.Errorf("Codex could not use the proxy's model list:\n%s", logs)
			}
			assertNoSecrets(t, "proxy logs", p.Logs.String(), accessToken, codexLoginToken)
		})
	}

	t.Run("client keys: the login is a proxy account, its token admits Codex", func(t *testing.T) {
		// The proxy's account is Codex's own login: the same token, as when
		// it was imported with `proxy accounts import-codex`.
		chat := startUpstream(t, "mine", fakeupstream.WithChatGPT(codexLoginToken, "acct-codex-user"))
		loginEnv := map[string]string{"CLIENT_KEY": clientKey, "LOGIN": codexLoginToken}
		own := startUpstream(t, "chatgpt.com", fakeupstream.WithChatGPT(codexLoginToken, "acct-codex-user"))
		p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+chatgptAccount("mine", chat, "LOGIN", "acct-codex-user", 1), loginEnv, withBackend(own))
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("proxy logs:\n%s", p.Logs)
			}
		})
		home := codexHomeFromReadme(t, p.URL)
		writeCodexLogin(t, home)
		run := runCodex(t, bin, home, t.TempDir(), "", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
		if got := servedBy(run.Stdout); got != "mine" {
			t.Fatalf("served by %q\n%s", got, run)
		}
		if !strings.Contains(p.Logs.String(), "client=login:mine") {
			t.Errorf("the proxy did not record the client as login:mine")
		}
		// Admitted by its login, Codex's account check is passed on with
		// that login (a client key's would be refused).
		checked := false
		for _, r := range own.Requests() {
			checked = checked || (strings.HasSuffix(r.Path, "/wham/accounts/check") && r.Header.Get("Authorization") == "Bearer "+codexLoginToken)
		}
		if !checked {
			t.Errorf("Codex's account check did not reach the backend with its login")
		}
		// Only the ChatGPT side requests (chatgpt_base_url, pointed here to
		// keep them on loopback) may be refused; none to the API.
		for _, l := range strings.Split(p.Logs.String(), "\n") {
			if strings.Contains(l, "client credential refused") && strings.Contains(l, "path=/v1/") {
				t.Errorf("a request of Codex to the API was refused: %s", l)
			}
		}
		assertNoSecrets(t, "proxy logs", p.Logs.String(), clientKey, codexLoginToken)
	})
}

// TestCodexBuiltinProviderChatGPTLoginWithClientKeys is the same admission
// for Codex's built-in openai provider (openai_base_url), which sends the
// ChatGPT login's token as its bearer: with client_keys set it used to get
// a 401 and then spend 13.7 s trying to refresh the token at
// auth.openai.com.
func TestCodexBuiltinProviderChatGPTLoginWithClientKeys(t *testing.T) {
	bin := codexBinary(t)
	chat := startUpstream(t, "mine", fakeupstream.WithChatGPT(codexLoginToken, "acct-codex-user"))
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+chatgptAccount("mine", chat, "LOGIN", "acct-codex-user", 1),
		map[string]string{"CLIENT_KEY": clientKey, "LOGIN": codexLoginToken})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
		}
	})
	home := codexHome(t, p.URL) // for the closed-network settings
	cfgPath := filepath.Join(home, "config.toml")
	cfg, _ := os.ReadFile(cfgPath)
	// No custom provider: the built-in one, pointed at the proxy.
	s := strings.Replace(string(cfg), `model_provider = "proxy"`,
		fmt.Sprintf("openai_base_url = %q\nchatgpt_base_url = %q", p.URL+"/v1", p.URL+"/backend-api/"), 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	writeCodexLogin(t, home)
	run := runCodex(t, bin, home, t.TempDir(), "", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
	if got := servedBy(run.Stdout); got != "mine" {
		t.Fatalf("served by %q\n%s", got, run)
	}
	if run.Took > 10*time.Second {
		t.Errorf("the turn took %v: Codex was refused and tried to refresh its login", run.Took)
	}
	if !strings.Contains(p.Logs.String(), "client=login:mine") {
		t.Errorf("the proxy did not record the client as login:mine:\n%s", p.Logs)
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), clientKey, codexLoginToken)
}
