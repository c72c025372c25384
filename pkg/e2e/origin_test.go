package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/option"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// send makes one request to the proxy as a browser (or curl) would, Host
// and headers as given, and returns the status and the error's code.
func send(t *testing.T, method, rawURL, host string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// Bounded: an upgrade let through answers 101 and a body that never ends.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Type, Code, Message string }
	}
	_ = json.Unmarshal(data, &e)
	if resp.StatusCode == http.StatusForbidden && e.Error.Type != "permission_error" {
		t.Errorf("403 is not OpenAI-shaped: %s", data)
	}
	return resp.StatusCode, e.Error.Code
}

// A page the user visits sends a "simple" cross-origin POST, which needs no
// preflight: the proxy refuses it before any account is spent. curl's
// default form content type, as README's example sends, still works.
func TestWebPageSimplePostRefused(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	body := `{"model":"gpt-5","stream":true,"input":"hi"}`
	tests := []struct {
		name     string
		header   http.Header
		want     int
		wantCode string
	}{
		{name: "a page's text/plain POST", header: http.Header{"Content-Type": {"text/plain;charset=UTF-8"}, "Origin": {"https://evil.example"}}, want: 403, wantCode: "cross_origin_refused"},
		{name: "a page's form POST", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}, want: 403, wantCode: "cross_origin_refused"},
		{name: "a sandboxed page (Origin: null)", header: http.Header{"Content-Type": {"text/plain"}, "Origin": {"null"}}, want: 403, wantCode: "cross_origin_refused"},
		{name: "a dev server's page on another port", header: http.Header{"Content-Type": {"text/plain"}, "Origin": {"http://localhost:3000"}, "Sec-Fetch-Site": {"same-site"}}, want: 403, wantCode: "cross_origin_refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code := send(t, "POST", p.URL+"/v1/responses", "", tc.header, body)
			if status != tc.want || code != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q", status, code, tc.want, tc.wantCode)
			}
		})
	}
	if n := len(a.Requests()); n != 0 {
		t.Fatalf("the upstream received %d requests from web pages", n)
	}
	if !strings.Contains(p.Logs.String(), "request from a web page refused") {
		t.Errorf("no refusal in the log:\n%s", p.Logs)
	}
	status, _ := send(t, "POST", p.URL+"/v1/responses", "",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Session_id": {"my-conversation"}}, body)
	if status != 200 || len(a.Requests()) != 1 {
		t.Fatalf("curl's form POST: %d, upstream saw %d", status, len(a.Requests()))
	}
}

// A DNS-rebinding page is same-origin to the browser, so it sends no
// Origin: only its Host gives it away. Every route refuses it, the
// WebSocket included, and the sessions it tries to clear survive.
func TestRebindingHostRefused(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	streamText(t, sdk(p), params("hello"), option.WithHeader("session-id", "conv-1"))
	port := p.URL[strings.LastIndex(p.URL, ":")+1:]
	rebind := "rebind.example:" + port
	upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"LdJZFBJTpnmuz0AbfxzlaQ=="}, "Openai-Beta": {"responses_websockets=2026-02-06"}}
	tests := []struct {
		name, method, path string
		header             http.Header
		body               string
	}{
		{name: "status", method: "GET", path: "/_proxy/status"},
		{name: "sessions", method: "GET", path: "/_proxy/sessions"},
		{name: "a request", method: "POST", path: "/v1/responses", header: http.Header{"Content-Type": {"text/plain"}}, body: `{"model":"gpt-5","input":"hi"}`},
		{name: "clearing the sessions", method: "DELETE", path: "/_proxy/sessions"},
		{name: "a WebSocket", method: "GET", path: "/v1/responses", header: upgrade},
		{name: "the metrics", method: "GET", path: "/metrics"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code := send(t, tc.method, p.URL+tc.path, rebind, tc.header, tc.body)
			if status != 403 || code != "host_not_allowed" {
				t.Fatalf("got %d %q, want 403 host_not_allowed", status, code)
			}
		})
	}
	if n := len(a.Requests()); n != 1 {
		t.Fatalf("the upstream received %d requests, want only the first turn's", n)
	}
	// A script's empty key clears nothing either.
	if status, code := send(t, "DELETE", p.URL+"/_proxy/sessions/%2F%2F", "", nil, ""); status != 400 || code != "empty_session_key" {
		t.Errorf("DELETE /_proxy/sessions/%%2F%%2F: %d %q, want 400 empty_session_key", status, code)
	}
	if status, code := send(t, "DELETE", p.URL+"/_proxy/sessions/", "", nil, ""); status != 400 || code != "empty_session_key" {
		t.Errorf("DELETE /_proxy/sessions/: %d %q, want 400 empty_session_key", status, code)
	}
	code, stdout, stderr := runCLI(t, nil, "sessions", "list", "--addr", p.URL, "--json")
	if code != 0 || strings.Count(stdout, `"key"`) != 1 {
		t.Fatalf("sessions after the page's attempts: exit %d %s %s, want the one conversation", code, stdout, stderr)
	}
	// The user's own programs reach it by the loopback names, any port.
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "LOCALHOST:" + port} {
		if status, _ := send(t, "GET", p.URL+"/_proxy/status", host, nil, ""); status != 200 {
			t.Errorf("Host %s: %d, want 200", host, status)
		}
	}
	if status, _ := send(t, "GET", p.URL+"/healthz", rebind, nil, ""); status != 200 {
		t.Errorf("/healthz by any name: %d, want 200", status)
	}
}

// A proxy reached by a name answers to it once allowed_hosts lists it,
// wildcards included, and to no other.
func TestAllowedHostsAdmitsConfiguredName(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "allowed_hosts: [proxy.internal, \"*.corp.example\"]\naccounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	u, _ := url.Parse(p.URL)
	tests := []struct {
		host string
		want int
	}{
		{host: "proxy.internal:" + u.Port(), want: 200},
		{host: "proxy.internal", want: 200},
		{host: "codex.corp.example:443", want: 200},
		{host: "corp.example", want: 403},
		{host: "proxy.internal.evil.example", want: 403},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			status, _ := send(t, "POST", p.URL+"/v1/responses", tc.host, http.Header{"Content-Type": {"application/json"}}, `{"model":"gpt-5","input":"hi"}`)
			if status != tc.want {
				t.Fatalf("got %d, want %d", status, tc.want)
			}
		})
	}
	if n := len(a.Requests()); n != 3 {
		t.Errorf("the upstream received %d requests, want the 3 by allowed names", n)
	}
}
