package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// getJSON sends GET url with the client key and returns the status, headers
// and body.
func getJSON(t *testing.T, url, key string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// TestModelsInEachClientsShape: the same proxy answers Codex (client_version
// in the query) with the ChatGPT backend's {"models":[...]}, taken from the
// ChatGPT account byte for byte, and any other client with the OpenAI list
// of every account's models; a failing upstream gives a 502 that is not
// remembered once the upstream recovers.
func TestModelsInEachClientsShape(t *testing.T) {
	chat := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithModels("gpt-5.5", "gpt-5"))
	api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA), fakeupstream.WithModels("gpt-4.1", "gpt-5"))
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+
		chatgptAccount("chatgpt", chat, "ACCESS", "acct-123", 1)+
		openaiAccount("api", api, "KEY_A", 1), env)

	// What the ChatGPT account itself answers, for the byte-for-byte check.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, chat.URL()+"/backend-api/codex/models?client_version=0.169.0", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Chatgpt-Account-Id", "acct-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	directETag := resp.Header.Get("ETag")
	asked := len(chat.Requests())

	for _, prefix := range []string{"/v1", ""} {
		t.Run("codex shape on "+prefix+"/models", func(t *testing.T) {
			code, h, body := getJSON(t, p.URL+prefix+"/models?client_version=0.169.0", clientKey)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if string(body) != string(direct) {
				t.Errorf("the Codex list is not the ChatGPT account's own:\n got %.300s\nwant %.300s", body, direct)
			}
			if h.Get("ETag") != directETag || directETag == "" {
				t.Errorf("ETag %q, want the upstream's %q", h.Get("ETag"), directETag)
			}
		})
		t.Run("OpenAI list on "+prefix+"/models", func(t *testing.T) {
			code, _, body := getJSON(t, p.URL+prefix+"/models", clientKey)
			var list struct {
				Object string `json:"object"`
				Data   []struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil {
				t.Fatalf("status %d (%v): %s", code, err, body)
			}
			var ids []string
			for _, d := range list.Data {
				ids = append(ids, d.ID)
			}
			if list.Object != "list" || strings.Join(ids, ",") != "gpt-4.1,gpt-5,gpt-5.5" {
				t.Errorf("OpenAI list %s", body)
			}
		})
	}

	// Every request to the ChatGPT account carried the client's version (or,
	// for the OpenAI list, the proxy's own), never an empty query; the API
	// account was asked only for the OpenAI list.
	for _, r := range chat.Requests()[asked:] {
		if r.RawQuery != "client_version=0.169.0" {
			t.Errorf("the ChatGPT account was asked %s?%s", r.Path, r.RawQuery)
		}
	}
	for _, r := range api.Requests() {
		if r.RawQuery != "" {
			t.Errorf("the API account was asked %s?%s", r.Path, r.RawQuery)
		}
	}

	// A failing ChatGPT account: Codex gets an OpenAI-shaped 502 (not an
	// empty list), and the next request after the account recovers gets
	// the list.
	const fresh = "/v1/models?client_version=0.170.0" // not cached yet
	chat.FailModels(http.StatusInternalServerError)
	code, _, body := getJSON(t, p.URL+fresh, clientKey)
	var e struct {
		Error struct{ Message, Type string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); code != http.StatusBadGateway || err != nil || e.Error.Type == "" {
		t.Fatalf("with the account failing: %d %s, want an OpenAI-shaped 502", code, body)
	}
	chat.FailModels(0)
	code, _, body = getJSON(t, p.URL+fresh, clientKey)
	if code != http.StatusOK || !strings.Contains(string(body), `"slug":"gpt-5.5"`) {
		t.Fatalf("after recovery: %d %.300s", code, body)
	}

	assertNoSecrets(t, "proxy logs", p.Logs.String(), clientKey, keyA, accessToken)
}

// TestCodexCLIChatGPTLoginListsModels runs the real Codex CLI signed in with a
// ChatGPT login (fake tokens) against a provider with requires_openai_auth,
// which makes it fetch GET {base}/models?client_version=... and decode the
// ChatGPT backend's shape. Through the proxy that must work: Codex logs no
// "failed to refresh available models", and the turn is served.
func TestCodexCLIChatGPTLoginListsModels(t *testing.T) {
	bin := codexBinary(t)
	chat := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithModels("gpt-5.5", "gpt-5"))
	// No client keys: with a ChatGPT login Codex sends its own access token
	// as the bearer, which a client key check would refuse.
	p := startProxy(t, "accounts:\n"+chatgptAccount("chatgpt", chat, "ACCESS", "acct-123", 1), env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
			t.Logf("upstream received %s", describe(chat.Requests()))
		}
	})

	home := codexChatGPTHome(t, p.URL)
	run := runCodex(t, bin, home, t.TempDir(), "", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
	logs := run.String() + codexLogs(t, home)
	if strings.Contains(logs, "failed to refresh available models") || strings.Contains(logs, "failed to decode models response") {
		t.Errorf("Codex could not use the proxy's model list\n%s", logs)
	}
	if got := servedBy(run.Stdout); got != "chatgpt" {
		t.Errorf("the turn was served by %q\n%s", got, run)
	}
	var listed, applied bool
	for _, r := range chat.Requests() {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/models"):
			listed = true
			if r.RawQuery != "client_version="+codexVersion {
				t.Errorf("the account was asked %s?%s, want client_version=%s", r.Path, r.RawQuery, codexVersion)
			}
		case r.Method == http.MethodPost:
			// Codex built the turn from the listed entry: its instructions
			// are the fake's one line, not the prompt bundled in Codex.
			applied = applied || strings.Contains(string(r.Body), "This is a fake upstream")
		}
	}
	if !listed {
		t.Errorf("Codex never asked for the model list (requests: %s)", describe(chat.Requests()))
	}
	if !applied {
		t.Errorf("Codex did not use the listed model's instructions")
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), accessToken)
}

// codexChatGPTHome is codexHome for a ChatGPT login: an auth.json with fake
// tokens that expire in a century (so Codex never refreshes them), a
// provider named "OpenAI" with requires_openai_auth, and the ChatGPT base URL
// pointed at the proxy too, so nothing leaves loopback.
func codexChatGPTHome(t *testing.T, proxyURL string) string {
	t.Helper()
	home := codexHome(t, proxyURL)
	cfgPath := filepath.Join(home, "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(cfg), `name = "Local proxy"`, `name = "OpenAI"`, 1)
	s = strings.Replace(s, `env_key = "PROXY_API_KEY"`, `requires_openai_auth = true`, 1)
	s = strings.Replace(s, "check_for_update_on_startup = false\n",
		fmt.Sprintf("check_for_update_on_startup = false\nchatgpt_base_url = %q\n", proxyURL+"/backend-api/"), 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().AddDate(100, 0, 0).Unix()
	auth := map[string]any{"https://api.openai.com/auth": map[string]any{
		"chatgpt_account_id": "acct-codex-user", "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-1"}}
	idToken := codexauthtest.JWT(map[string]any{"email": "someone@example.com", "exp": exp, "https://api.openai.com/auth": auth["https://api.openai.com/auth"]})
	access := codexauthtest.JWT(map[string]any{"exp": exp, "https://api.openai.com/auth": auth["https://api.openai.com/auth"]})
	doc, _ := json.Marshal(map[string]any{"auth_mode": "chatgpt", "OPENAI_API_KEY": nil,
		"tokens":       map[string]any{"id_token": idToken, "access_token": access, "refresh_token": "rt-fake", "account_id": "acct-codex-user"},
		"last_refresh": time.Now().UTC().Format(time.RFC3339)})
	if err := os.WriteFile(filepath.Join(home, "auth.json"), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// codexLogs returns what Codex wrote to its log directory, where its
// tracing errors go besides stderr.
func codexLogs(t *testing.T, home string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(filepath.Join(home, "log"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, err := os.ReadFile(path); err == nil {
				b.Write(data)
			}
		}
		return nil
	})
	return b.String()
}
