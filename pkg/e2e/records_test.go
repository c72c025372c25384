package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/bound"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

const keyedConfig = "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"

// postRaw sends body to /v1/responses with the client key and the extra
// headers, and returns the status and the body of the answer.
func postRaw(t *testing.T, base, body string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/responses", strings.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+clientKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An absurd model is refused with a 400 naming the model, over HTTP and
// the WebSocket, and no account is tried.
func TestAbsurdModelIs400(t *testing.T) {
	huge := strings.Repeat("m", 8<<20)
	tests := []struct {
		name, model, code string
		ws                bool
	}{
		{"8 MiB", huge, "model_too_long", false},
		{"one byte over the limit", strings.Repeat("m", bound.Model+1), "model_too_long", false},
		{"escape sequence", `gpt-5\u001b[2J`, "invalid_model", false},
		{"8 MiB over the WebSocket", huge, "model_too_long", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
			p := startProxy(t, keyedConfig+openaiAccount("a", a, "KEY_A", 1), env)
			body := `{"model":"` + tt.model + `","stream":true,"input":"hi"}`
			var status int
			var e struct{ Message, Type, Param, Code string }
			if tt.ws {
				c := wsDial(t, p.URL, clientKey, "s1")
				ans := wsSend(t, c, `{"type":"response.create",`+body[1:])
				last := ans.last()
				status, e.Code, e.Message = last.Status, last.Error.Code, last.Error.Message
				e.Param = "model" // the WebSocket's error event does not carry param
			} else {
				var raw string
				status, raw = postRaw(t, p.URL, body, nil)
				var doc struct {
					Error *struct{ Message, Type, Param, Code string }
				}
				if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc.Error == nil {
					t.Fatalf("answer %d is not an OpenAI-shaped error: %.200s", status, raw)
				}
				e = *doc.Error
			}
			if status != http.StatusBadRequest || e.Param != "model" || e.Code != tt.code || !strings.Contains(e.Message, "model") {
				t.Errorf("got %d %+v, want 400 param model code %s", status, e, tt.code)
			}
			if n := len(a.Requests()); n != 0 {
				t.Errorf("the upstream got %d requests, want none", n)
			}
		})
	}
}

// A burst of requests with large client strings, some legal (session id,
// user agent, originator, metadata, prompt_cache_key, a model at the
// limit) and some not (an 8 MiB model), leaves every record small: the
// events backlog, the sessions listing and the log lines.
func TestBurstOfLargeStringsKeepsRecordsSmall(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, keyedConfig+openaiAccount("a", a, "KEY_A", 1), env)
	const n = 8
	big := strings.Repeat("s", 16<<10)
	meta := strings.Repeat("x", 1<<20)
	model := strings.Repeat("m", bound.Model)
	for i := range n {
		h := http.Header{
			"Session_id": {fmt.Sprintf("%d-%s", i, big)}, "User-Agent": {big},
			"Originator": {big}, "Version": {big},
		}
		legal := `{"model":"` + model + `","stream":true,"input":"hi","metadata":{"note":"` + meta + `"},"prompt_cache_key":"` + meta + `"}`
		if status, body := postRaw(t, p.URL, legal, h); status != http.StatusOK {
			t.Fatalf("legal request %d: %d %.300s", i, status, body)
		}
		absurd := `{"model":"` + strings.Repeat("m", 8<<20) + `","stream":true,"input":"hi"}`
		if status, body := postRaw(t, p.URL, absurd, h); status != http.StatusBadRequest {
			t.Fatalf("absurd request %d: %d %.300s", i, status, body)
		}
	}
	if got := len(a.Requests()); got != n {
		t.Errorf("the upstream got %d requests, want the %d legal ones", got, n)
	}

	// 2n decisions; each is a few hundred bytes and at most its bounds.
	es := openEvents(t, p.URL)
	for range 2 * n {
		if d := es.next(t); len(d.Model) > bound.Model {
			t.Errorf("decision %s keeps a %d-byte model", d.RequestID, len(d.Model))
		}
	}
	select {
	case <-es.Live:
	case <-time.After(adminWait):
		t.Fatal("the backlog did not end")
	}
	if size, limit := len(es.raw.String()), 2*n<<12; size > limit {
		t.Errorf("the events backlog is %d bytes, want at most %d", size, limit)
	}

	status, listing := adminGet(t, p.URL, "/_proxy/sessions", clientKey)
	var doc struct{ Data []struct{ Model string } }
	if err := json.Unmarshal([]byte(listing), &doc); status != http.StatusOK || err != nil {
		t.Fatalf("sessions: %d %v %.300s", status, err, listing)
	}
	if len(doc.Data) != n {
		t.Errorf("sessions lists %d bindings, want %d", len(doc.Data), n)
	}
	if limit := n << 10; len(listing) > limit {
		t.Errorf("the sessions listing is %d bytes, want at most %d", len(listing), limit)
	}

	for _, line := range strings.Split(p.Logs.String(), "\n") {
		if len(line) > 4<<10 {
			t.Errorf("a log line of %d bytes: %.200s...", len(line), line)
		}
	}
}

// An upstream that fails with a 1 MiB message has it cut to bound.Text in
// the decision event and the log line (the client's own error is another
// matter: it is the upstream's to pass on).
func TestUpstreamTextIsCutInRecords(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, keyedConfig+openaiAccount("a", a, "KEY_A", 1), env)
	a.Script(fakeupstream.Fault{FirstEventFailed: true, FailCode: "server_error", FailMessage: "overloaded " + strings.Repeat("w", 1<<20)})
	postRaw(t, p.URL, `{"model":"gpt-5","stream":true,"input":"hi"}`, http.Header{"Session_id": {"s1"}})
	d := openEvents(t, p.URL).next(t)
	texts := map[string]string{"error": d.Error, "detail": d.Detail}
	for i, at := range d.Attempts {
		texts[fmt.Sprintf("attempt %d", i+1)] = at.Error
	}
	for what, s := range texts {
		if len(s) > bound.Text {
			t.Errorf("the decision's %s is %d bytes, want at most %d", what, len(s), bound.Text)
		}
	}
	if !strings.Contains(d.Attempts[0].Error, "overloaded www") {
		t.Errorf("the attempt's error lost the upstream's words: %.100s", d.Attempts[0].Error)
	}
	for _, line := range strings.Split(p.Logs.String(), "\n") {
		if len(line) > 8<<10 {
			t.Errorf("a log line of %d bytes: %.200s...", len(line), line)
		}
	}
}
