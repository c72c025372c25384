package cmdtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
)

// The secrets the test configs refer to as ${VAR}.
const (
	TestAPIKey      = "sk-test-key-0123456789abcdef"
	TestAccessToken = "chatgpt-access-token-0123456789"
	TestAccountID   = "acct-0123456789abcdef"
)

// TestEnv holds the secrets the test configs refer to as ${VAR}.
var TestEnv = map[string]string{"API_KEY": TestAPIKey, "ACCESS_TOKEN": TestAccessToken, "WRONG_KEY": "sk-wrong-0123456789abcdef"}

// ListConfig is three accounts of each kind of live state.
const ListConfig = `accounts:
  - name: api
    type: openai
    base_url: https://api.example.com/v1/
    api_key: ${API_KEY}
    weight: 2
    models: ["gpt-5*", "o3"]
  - name: chatgpt
    type: openai-responses
    access_token: ${ACCESS_TOKEN}
    account_id: acct-0123456789abcdef
  - name: spare
    type: openai
    base_url: https://other.example.com/v1
    api_key: ${API_KEY}
    weight: 0
    enabled: false
`

// ChatGPTAuthJSON is a Codex auth.json after a ChatGPT login whose account
// id is only in the id_token's claims, as some Codex versions wrote it.
func ChatGPTAuthJSON(t *testing.T) string {
	idToken := codexauthtest.JWT(map[string]any{"email": "someone@example.com",
		"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-from-claim-0001"}})
	b, _ := json.Marshal(map[string]any{"auth_mode": "chatgpt", "OPENAI_API_KEY": nil,
		"tokens":       map[string]any{"id_token": idToken, "access_token": codexauthtest.JWT(map[string]any{"exp": 4102444800}), "refresh_token": "rt-fake"},
		"last_refresh": "2026-03-04T12:00:00Z"})
	return string(b)
}

// CommentedConfig is a user's file: comments everywhere, blank lines, a
// commented-out option under the last account.
const CommentedConfig = `# my proxy
listen: 127.0.0.1:8787   # loopback only

accounts:
  # the work key
  - name: work
    type: openai
    base_url: https://api.example.com/v1
    api_key: sk-inline-0123456789abcdef
    weight: 2

  - name: spare   # rarely used
    type: openai
    base_url: https://api.example.com/v1
    api_key: sk-inline-0123456789abcdef
    # models: ["gpt-5*"]

# sessions last long
sessions:
  ttl: 2h
`

// DemoServer runs `proxy serve --demo` on addr until stop is called.
func DemoServer(t *testing.T, addr string) (url string, stop func()) {
	t.Helper()
	cfg := WriteFile(t, t.TempDir(), "proxy.yaml", "listen: 127.0.0.1:0\n", 0o600)
	ios, _, _ := IO(nil, false)
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.RunServe(ctx, &serve.ServeOptions{IO: ios, ConfigPath: cfg, Listen: addr, Demo: true,
			LogLevel: "error", LogFormat: "text", Ready: func(a string) { ready <- a }})
	}()
	select {
	case a := <-ready:
		stopped := false
		stop = func() {
			if !stopped {
				stopped = true
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}
		}
		t.Cleanup(stop)
		return "http://" + a, stop
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	return "", nil
}

// Turn makes one streamed request in session and fails the test unless it
// is answered 200.
func Turn(t *testing.T, url, session string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
	req.Header.Set("Session_id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
