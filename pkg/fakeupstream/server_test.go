package fakeupstream

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
	apiKey := New("api", WithAPIKey("sk-right"))
	chatgpt := New("chatgpt", WithChatGPT("at-right", "acct-1"), WithClock(clock), WithUsedPercent(42.5, 7))
	start(t, apiKey)
	start(t, chatgpt)
	tests := []struct {
		name       string
		srv        *Server
		header     http.Header
		body       string
		wantStatus int
		wantCode   any
	}{
		{"api key missing", apiKey, nil, streamBody("gpt-5", ""), 401, "invalid_api_key"},
		{"api key wrong", apiKey, http.Header{"Authorization": {"Bearer sk-client-key"}}, streamBody("gpt-5", ""), 401, "invalid_api_key"},
		{"api key not bearer", apiKey, http.Header{"Authorization": {"Basic sk-right"}}, streamBody("gpt-5", ""), 401, "invalid_api_key"},
		{"api key right", apiKey, http.Header{"Authorization": {"Bearer sk-right"}}, streamBody("gpt-5", ""), 200, nil},
		{"api key right, lower-case scheme", apiKey, http.Header{"Authorization": {"bearer sk-right"}}, streamBody("gpt-5", ""), 200, nil},
		{"chatgpt token wrong", chatgpt, http.Header{"Authorization": {"Bearer at-wrong"}, "Chatgpt-Account-Id": {"acct-1"}}, streamBody("gpt-5", ""), 401, "invalid_api_key"},
		{"chatgpt account id missing", chatgpt, http.Header{"Authorization": {"Bearer at-right"}}, streamBody("gpt-5", ""), 401, "invalid_account_id"},
		{"chatgpt account id wrong", chatgpt, http.Header{"Authorization": {"Bearer at-right"}, "Chatgpt-Account-Id": {"acct-2"}}, streamBody("gpt-5", ""), 401, "invalid_account_id"},
		{"chatgpt right", chatgpt, http.Header{"Authorization": {"Bearer at-right"}, "Chatgpt-Account-Id": {"acct-1"}}, streamBody("gpt-5", ""), 200, nil},
		{"chatgpt refuses stream false", chatgpt, http.Header{"Authorization": {"Bearer at-right"}, "Chatgpt-Account-Id": {"acct-1"}}, `{"model":"gpt-5"}`, 400, nil},
		{"chatgpt refuses store true", chatgpt, http.Header{"Authorization": {"Bearer at-right"}, "Chatgpt-Account-Id": {"acct-1"}}, `{"model":"gpt-5","stream":true,"store":true}`, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, testCtx(t), http.MethodPost, tc.srv.URL()+"/v1/responses", tc.body, tc.header)
			body := readBodyBytes(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus != http.StatusOK {
				if e := checkErrorShape(t, body); e["code"] != tc.wantCode {
					t.Errorf("code %v, want %v", e["code"], tc.wantCode)
				}
				if bytes.Contains(body, []byte("sk-")) || bytes.Contains(body, []byte("at-")) {
					t.Errorf("error body echoes a credential: %s", body)
				}
				return
			}
			if tc.srv != chatgpt {
				if resp.Header.Get("X-Codex-Primary-Used-Percent") != "" {
					t.Error("API-key account sent x-codex headers")
				}
				return
			}
			want := map[string]string{
				"X-Codex-Primary-Used-Percent":     "42.5",
				"X-Codex-Primary-Window-Minutes":   "300",
				"X-Codex-Primary-Reset-At":         fmt.Sprint(clock().Add(300 * time.Minute).Unix()),
				"X-Codex-Secondary-Used-Percent":   "7",
				"X-Codex-Secondary-Window-Minutes": "10080",
				"X-Codex-Secondary-Reset-At":       fmt.Sprint(clock().Add(7 * 24 * time.Hour).Unix()),
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	s := start(t, New("alpha", WithModels("gpt-5", "o-test")))
	plain := start(t, New("beta"))
	compactBody := `{"model":"gpt-5","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"yo"}]}]}`
	tests := []struct {
		name       string
		srv        *Server
		method     string
		path       string
		header     http.Header
		body       []byte
		wantStatus int
		check      func(t *testing.T, body []byte)
	}{
		{
			name: "compact", srv: s, method: "POST", path: "/v1/responses/compact", body: []byte(compactBody), wantStatus: 200,
			check: func(t *testing.T, body []byte) {
				m := decode(t, bytes.NewReader(body))
				out, _ := m["output"].([]any)
				var types []string
				for _, it := range out {
					types = append(types, fmt.Sprint(get(it, "type"), "/", get(it, "role")))
				}
				if got := strings.Join(types, ","); got != "message/user,message/user,compaction/<nil>" {
					t.Errorf("compact output %s", got)
				}
				if !strings.Contains(fmt.Sprint(out[1]), "alpha") {
					t.Errorf("summary does not name the account: %v", out[1])
				}
			},
		},
		{
			name: "models configured", srv: s, method: "GET", path: "/v1/models", wantStatus: 200,
			check: func(t *testing.T, body []byte) {
				m := decode(t, bytes.NewReader(body))
				data, _ := m["data"].([]any)
				if m["object"] != "list" || len(data) != 2 || get(data[1], "id") != "o-test" || get(data[0], "object") != "model" {
					t.Errorf("models %v", m)
				}
			},
		},
		{
			name: "models default, with a query", srv: plain, method: "GET", path: "/models?client_version=0.169.0", wantStatus: 200,
			check: func(t *testing.T, body []byte) {
				data, _ := decode(t, bytes.NewReader(body))["data"].([]any)
				if len(data) == 0 || get(data[0], "id") != "gpt-5" {
					t.Errorf("default models %v", data)
				}
			},
		},
		{name: "bad JSON", srv: s, method: "POST", path: "/v1/responses", body: []byte(`{"model":`), wantStatus: 400},
		{name: "JSON that is not an object", srv: s, method: "POST", path: "/v1/responses", body: []byte(`[1,2]`), wantStatus: 400},
		{name: "JSON null", srv: s, method: "POST", path: "/responses", body: []byte(`null`), wantStatus: 400},
		{name: "empty body", srv: s, method: "POST", path: "/responses", wantStatus: 400},
		{name: "bad JSON on compact", srv: s, method: "POST", path: "/v1/responses/compact", body: []byte(`nope`), wantStatus: 400},
		{
			name: "websocket upgrade", srv: s, method: "GET", path: "/v1/responses", wantStatus: 426,
			header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"LdJZFBJTpnmuz0AbfxzlaQ=="}},
		},
		{name: "unknown path", srv: s, method: "POST", path: "/v1/chat/completions", body: []byte(`{}`), wantStatus: 404},
		{name: "wrong method", srv: s, method: "GET", path: "/v1/responses", wantStatus: 405},
		{
			name: "gzip body", srv: s, method: "POST", path: "/v1/responses", header: http.Header{"Content-Encoding": {"gzip"}},
			body: gzipped(t, `{"model":"gpt-5","stream":false}`), wantStatus: 200,
		},
		{
			name: "zstd body is refused plainly", srv: s, method: "POST", path: "/v1/responses", header: http.Header{"Content-Encoding": {"zstd"}},
			body: []byte{0x28, 0xb5, 0x2f, 0xfd}, wantStatus: 415,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, testCtx(t), tc.method, tc.srv.URL()+tc.path, string(tc.body), tc.header)
			body := readBodyBytes(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus >= 400 {
				checkErrorShape(t, body)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

func TestRequestsRecorded(t *testing.T) {
	s := start(t, New("alpha", WithAPIKey("sk-upstream")))
	body := `{"model":"gpt-5","stream":true}`
	h := http.Header{"Authorization": {"Bearer sk-upstream"}, "Content-Encoding": {"gzip"}, "Session-Id": {"conv-9"}}
	resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses?x=1", string(gzipped(t, body)), h)
	readBodyBytes(t, resp)

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/responses" || r.RawQuery != "x=1" || string(r.Body) != body {
		t.Errorf("recorded %+v", r)
	}
	if r.Header.Get("Session-Id") != "conv-9" || r.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("recorded header %v", r.Header)
	}
	// Copies: changing one must not change the server's record.
	r.Header.Set("Session-Id", "changed")
	r.Body[0] = 'X'
	if again := s.Requests()[0]; again.Header.Get("Session-Id") != "conv-9" || again.Body[0] != '{' {
		t.Error("Requests returned shared memory")
	}
}

// TestConcurrent runs many requests at once (meaningful under -race) and checks
// that every response id is unique.
func TestConcurrent(t *testing.T) {
	s := start(t, New("alpha"))
	s.Script(Fault{Status: 500}, Fault{CutAfter: 2})
	const n = 32
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := send(testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", fmt.Sprint("c", i%4)), nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			evs, _ := newSSEReader(resp.Body).readAll()
			if len(evs) == len(wantEvents) {
				ids <- fmt.Sprint(get(evs[len(evs)-1].Data, "response.id"))
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("duplicate id %s", id)
		}
		seen[id] = true
	}
	if len(seen) != n-2 {
		t.Errorf("%d completed streams, want %d", len(seen), n-2)
	}
	if got := len(s.Requests()); got != n {
		t.Errorf("%d recorded requests, want %d", got, n)
	}
}

func TestLifecycle(t *testing.T) {
	s := New("alpha")
	if s.URL() != "" {
		t.Error("URL before Start")
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %q", s.URL())
	}
	if err := s.Start(""); err == nil {
		t.Error("second Start succeeded")
	}
	url := s.URL()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := send(context.Background(), http.MethodGet, url+"/v1/models", "", nil); err == nil {
		t.Error("server still answers after Close")
	}
	if err := s.Start(""); err == nil {
		t.Error("Start after Close succeeded")
	}
	if s.Name() != "alpha" {
		t.Errorf("Name %q", s.Name())
	}
}
