package e2e_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/status"
)

// TestNothingEmittedCarriesACredential is the adversarial case of issue
// 10: an upstream that quotes the refused key in its 401 ("Incorrect API
// key provided: ..."), behind a base_url that carries a password
// (http://user:PASSWORD@host). Neither may reach the client's answer, the
// logs (banner and request lines), /_proxy/status or /_proxy/events.
func TestNothingEmittedCarriesACredential(t *testing.T) {
	const (
		password = "url-pa55word-e2e"
		// No known shape: only the proxy's own list of secrets hides it.
		opaqueKey = "leaky-opaque-key-0123456789"
		// Shaped like an OpenAI key: hidden even if the list missed it.
		shapedKey = "sk-leaky-shaped-0123456789abcdef"
	)
	tests := []struct {
		name string
		key  string
		// standby adds a healthy account, so the client gets a 200 after a
		// failover and the refused key can only hide in the decision's
		// detail, the attempts, the logs and the status.
		standby    bool
		wantStatus int
	}{
		{name: "only account refused, opaque key", key: opaqueKey, wantStatus: 401},
		{name: "only account refused, shaped key", key: shapedKey, wantStatus: 401},
		{name: "refused then failover", key: opaqueKey, standby: true, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaky := startUpstream(t, "leaky", fakeupstream.WithAPIKeyEcho("the-right-key-is-another-one"))
			withPassword := strings.Replace(leaky.URL(), "http://", "http://user:"+password+"@", 1)
			cfg := fmt.Sprintf(`client_keys:
  - name: laptop
    key: ${CLIENT_KEY}
accounts:
  - name: leaky
    type: openai
    base_url: %s/v1
    api_key: ${LEAKY_KEY}
    weight: 1
`, withPassword)
			env := map[string]string{"CLIENT_KEY": clientKey, "LEAKY_KEY": tt.key}
			if tt.standby {
				standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
				cfg += openaiAccount("standby", standby, "KEY_B", 0)
				env["KEY_B"] = keyB
			}
			secrets := []string{tt.key, password, clientKey, keyB}
			p := startProxy(t, cfg, env)

			// The client's answer.
			resp := keyedPost(t, p.URL, "conv-leak")
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if len(leaky.Requests()) == 0 {
				t.Fatal("the leaky upstream was never asked: the test proves nothing")
			}
			assertNoSecrets(t, "the client's answer", string(body), secrets...)
			if tt.standby && !strings.Contains(string(body), "response.completed") {
				t.Error("the standby did not serve the turn")
			}

			// /_proxy/status, once the refusal is recorded.
			doc := statusWhen(t, p.URL, func(d status.Document) bool {
				return accountIn(t, d, "leaky").State == status.StateInvalid
			})
			leakyState := accountIn(t, doc, "leaky")
			if leakyState.State != status.StateInvalid {
				t.Errorf("leaky state %q, want %q", leakyState.State, status.StateInvalid)
			}
			if want := strings.TrimPrefix(leaky.URL(), "http://"); !strings.Contains(leakyState.BaseURL, want) || strings.Contains(leakyState.BaseURL, "@") {
				t.Errorf("status base_url is not the URL without user info")
			}
			_, raw := adminGet(t, p.URL, "/_proxy/status", clientKey)
			assertNoSecrets(t, "/_proxy/status", raw, secrets...)

			// /_proxy/events: the decision of that request, from the backlog.
			es := openEvents(t, p.URL)
			d := es.next(t)
			if d.Account == "" || len(d.Attempts) == 0 || d.Attempts[0].Account != "leaky" {
				t.Errorf("decision does not record the refused attempt on leaky")
			}
			select {
			case <-es.Live:
			case <-time.After(adminWait):
				t.Fatal("the backlog did not end")
			}
			assertNoSecrets(t, "/_proxy/events", es.raw.String(), secrets...)

			// The logs: the banner, the request line (its target), the
			// cooldown warning quoting the upstream.
			logs := p.Logs.String()
			if !strings.Contains(logs, "account leaky: openai http://127.0.0.1:") {
				t.Error("the banner does not name leaky's URL without user info")
			}
			if !strings.Contains(logs, "target=") {
				t.Error("no request log line with a target")
			}
			assertNoSecrets(t, "the logs", logs, secrets...)
		})
	}
}
