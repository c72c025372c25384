package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeproxy"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// postModel sends one streaming turn for model with the client key and
// returns the status and body.
func postModel(t *testing.T, base, session, model string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/responses", strings.NewReader(`{"model":"`+model+`","stream":true,"input":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+clientKey)
	req.Header.Set("Session_id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// startFakeProxy starts an HTTP or SOCKS5 proxy with a user until the test
// ends.
func startFakeProxy(t *testing.T, start func(user, password string) (*fakeproxy.Server, error), user, password string) *fakeproxy.Server {
	t.Helper()
	p, err := start(user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestAccountProxies runs `proxy serve` with three accounts: an API-key
// account behind an HTTP proxy, one without proxy_url, and a ChatGPT
// account behind a SOCKS5 proxy whose access token has expired. Each
// proxy carries exactly its account's requests, the ChatGPT account's
// token refresh included, and nothing of the direct account; neither
// proxy password appears in the logs, /_proxy/status or /_proxy/events.
func TestAccountProxies(t *testing.T) {
	const httpPassword, socksPassword = "http-proxy-pa55word-e2e", "socks-proxy-pa55word-e2e"
	hp := startFakeProxy(t, fakeproxy.StartHTTP, "hu", httpPassword)
	sp := startFakeProxy(t, fakeproxy.StartSOCKS5, "su", socksPassword)
	proxiedUp := startUpstream(t, "proxied", fakeupstream.WithAPIKey(keyA))
	directUp := startUpstream(t, "direct", fakeupstream.WithAPIKey(keyB))
	fresh := jwt(time.Now().Add(time.Hour), "fresh")
	ts := newTokenServer(t, fresh)
	chatUp := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(fresh, "acct-1"))
	auth := writeAuth(t, t.TempDir(), jwt(time.Now().Add(-time.Hour), "old"))
	cfg := fmt.Sprintf(`client_keys:
  - name: laptop
    key: ${CLIENT_KEY}
oauth:
  token_url: %s
accounts:
  - name: proxied
    type: openai
    base_url: %s/v1
    api_key: ${KEY_A}
    models: [gpt-a]
    proxy_url: %s
  - name: direct
    type: openai
    base_url: %s/v1
    api_key: ${KEY_B}
    models: [gpt-b]
  - name: chatgpt
    type: openai-responses
    base_url: %s/backend-api/codex
    auth_file: %s
    models: [gpt-c]
    proxy_url: %s
`, ts.URL, proxiedUp.URL(), hp.URL(), directUp.URL(), chatUp.URL(), auth, sp.URL())
	p := startProxy(t, cfg, env)

	for _, turn := range []struct{ model, reply string }{
		{"gpt-a", "Hello from proxied."}, {"gpt-b", "Hello from direct."}, {"gpt-c", "Hello from chatgpt."},
	} {
		if status, body := postModel(t, p.URL, "conv-"+turn.model, turn.model); status != 200 || !strings.Contains(body, turn.reply) {
			t.Fatalf("%s: got %d:\n%s", turn.model, status, body)
		}
	}
	for _, up := range []*fakeupstream.Server{proxiedUp, directUp, chatUp} {
		if n := len(up.Requests()); n != 1 {
			t.Errorf("%s got %d requests, want 1", up.Name(), n)
		}
	}
	if n := ts.refreshes.Load(); n != 1 {
		t.Errorf("%d token refreshes, want 1", n)
	}
	if got, want := hp.Seen(), []string{"POST " + proxiedUp.URL() + "/v1/responses"}; !slices.Equal(got, want) {
		t.Errorf("the HTTP proxy carried %q, want %q", got, want)
	}
	// The refresh comes first: the token had expired before the turn.
	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }
	if got, want := sp.Seen(), []string{"CONNECT " + hostOf(ts.URL), "CONNECT " + hostOf(chatUp.URL())}; !slices.Equal(got, want) {
		t.Errorf("the SOCKS5 proxy carried %q, want %q", got, want)
	}
	if hp.Refused()+sp.Refused() != 0 {
		t.Errorf("the proxies refused the accounts' credentials %d times", hp.Refused()+sp.Refused())
	}

	secrets := []string{httpPassword, socksPassword}
	_, status := adminGet(t, p.URL, "/_proxy/status", clientKey)
	assertNoSecrets(t, "/_proxy/status", status, secrets...)
	es := openEvents(t, p.URL)
	for range 3 {
		es.next(t)
	}
	assertNoSecrets(t, "/_proxy/events", es.raw.String(), secrets...)
	assertNoSecrets(t, "the logs", p.Logs.String(), secrets...)
}

// TestAccountProxyDownFailsOver checks that an account whose proxy is
// down counts as down: its turn is served by the other account.
func TestAccountProxyDownFailsOver(t *testing.T) {
	const password = "socks-proxy-pa55word-down"
	sp := startFakeProxy(t, fakeproxy.StartSOCKS5, "su", password)
	proxiedUp := startUpstream(t, "proxied", fakeupstream.WithAPIKey(keyA))
	directUp := startUpstream(t, "direct", fakeupstream.WithAPIKey(keyB))
	cfg := fmt.Sprintf(`client_keys:
  - name: laptop
    key: ${CLIENT_KEY}
accounts:
  - name: proxied
    type: openai
    base_url: %s/v1
    api_key: ${KEY_A}
    weight: 1
    proxy_url: %s
%s`, proxiedUp.URL(), sp.URL(), openaiAccount("direct", directUp, "KEY_B", 0))
	p := startProxy(t, cfg, env)
	_ = sp.Close()

	if status, body := postModel(t, p.URL, "conv-down", "gpt-5"); status != 200 || !strings.Contains(body, "Hello from direct.") {
		t.Fatalf("got %d:\n%s", status, body)
	}
	if len(proxiedUp.Requests()) != 0 {
		t.Error("the proxied account's upstream was reached without its proxy")
	}
	logs := p.Logs.String()
	if !strings.Contains(logs, "proxied") {
		t.Error("the logs do not name the failed account")
	}
	assertNoSecrets(t, "the logs", logs, password)
}
