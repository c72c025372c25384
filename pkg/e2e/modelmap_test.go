package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// TestModelMap: one client model name, served under another name on the
// account whose model_map says so and as itself on the other; the log shows
// both names, and /v1/models lists the names a client may ask for.
func TestModelMap(t *testing.T) {
	mapped := startUpstream(t, "mapped", fakeupstream.WithAPIKey(keyA), fakeupstream.WithModels("deepseek-chat", "deepseek-reasoner"))
	plain := startUpstream(t, "plain", fakeupstream.WithAPIKey(keyB), fakeupstream.WithModels("gpt-5.5"))
	p := startProxy(t, "accounts:\n"+
		openaiAccount("mapped", mapped, "KEY_A", 1)+"    model_map: {\"gpt-5.5\": deepseek-chat, \"*\": deepseek-reasoner}\n"+
		openaiAccount("plain", plain, "KEY_B", 1), env)

	seen := map[string]string{} // account -> model it received
	for i := 0; len(seen) < 2 && i < 40; i++ {
		body := postSession(t, p.URL+"/v1/responses", fmt.Sprintf("conv-%d", i), `{"model":"gpt-5.5","stream":false,"input":"hi"}`)
		if !strings.Contains(body, `"object":"response"`) {
			t.Fatalf("answer is not a response: %s", body)
		}
		for _, s := range []*fakeupstream.Server{mapped, plain} {
			if reqs := s.Requests(); len(reqs) > 0 {
				seen[s.Name()] = modelOf(t, reqs[len(reqs)-1].Body)
			}
		}
	}
	if seen["mapped"] != "deepseek-chat" || seen["plain"] != "gpt-5.5" {
		t.Fatalf("models received: %v; want mapped: deepseek-chat, plain: gpt-5.5\n%s", seen, p.Logs)
	}
	relay.Settle()
	logs := p.Logs.String()
	if !strings.Contains(logs, "account=mapped") || !strings.Contains(logs, "model=gpt-5.5") || !strings.Contains(logs, "upstream_model=deepseek-chat") {
		t.Errorf("the log does not show both names:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "account=plain") && strings.Contains(line, "upstream_model=") {
			t.Errorf("an unmapped request logs an upstream model: %s", line)
		}
	}

	// "*" sends every other name to one model: a client asks by the map's
	// names, or the other account's.
	_, _, b := getJSON(t, p.URL+"/v1/models", "")
	var list struct{ Data []struct{ ID string } }
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []string{"gpt-5.5"}) {
		t.Errorf("/v1/models lists %v; want the client's names only, [gpt-5.5]", ids)
	}
	if code, _, _ := getJSON(t, p.URL+"/v1/models", ""); code != http.StatusOK {
		t.Errorf("/v1/models = %d", code)
	}
}

// postSession posts body to url as conversation session and returns the
// answer, failing unless it is a 200.
func postSession(t *testing.T, url, session, body string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Session_id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s answered %d:\n%s", url, resp.StatusCode, b)
	}
	return string(b)
}

// modelOf is the model of a request body.
func modelOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct{ Model string }
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("request body is not JSON: %v", err)
	}
	return v.Model
}
