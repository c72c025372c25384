package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/relay"
)

func TestHostRuleAdmits(t *testing.T) {
	rule := NewHostRule("proxy.lan:8787", []string{"proxy.internal", "*.example.com"})
	tests := []struct {
		name string
		host string
		want bool
	}{
		{name: "localhost with a port", host: "localhost:8787", want: true},
		{name: "localhost without a port", host: "localhost", want: true},
		{name: "localhost in capitals with the root's dot", host: "LocalHost.:1", want: true},
		{name: "IPv4 loopback", host: "127.0.0.1:8787", want: true},
		{name: "IPv6 loopback", host: "[::1]:8787", want: true},
		{name: "IPv6 loopback without a port", host: "[::1]", want: true},
		{name: "any IP address: rebinding needs a name", host: "192.168.1.20:8787", want: true},
		{name: "no Host at all (HTTP/1.0)", host: "", want: true},
		{name: "the listen address's host, any port", host: "proxy.lan:9999", want: true},
		{name: "an allowed name", host: "proxy.internal:8787", want: true},
		{name: "an allowed name in capitals", host: "PROXY.INTERNAL", want: true},
		{name: "a name under an allowed wildcard", host: "a.b.example.com:443", want: true},
		{name: "the wildcard's own domain is not under it", host: "example.com", want: false},
		{name: "a look-alike of the wildcard", host: "evil-example.com", want: false},
		{name: "a rebinding name", host: "rebind.example:8787", want: false},
		{name: "localhost as a subdomain of another name", host: "localhost.evil.example", want: false},
		{name: "an allowed name as a prefix", host: "proxy.internal.evil.example", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rule.Admits(tc.host); got != tc.want {
				t.Errorf("Admits(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
	t.Run("a wildcard listen address adds no name", func(t *testing.T) {
		r := NewHostRule("0.0.0.0:8787", nil)
		if r.Admits("rebind.example") || !r.Admits("10.0.0.5:8787") {
			t.Error("0.0.0.0 should admit addresses only")
		}
	})
}

// TestOwnClientsOnly runs the whole handler: what a web page sends is
// refused before any route (the relay, the admin endpoints, the client key
// check), what programs send reaches them.
func TestOwnClientsOnly(t *testing.T) {
	var reached []string
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	})
	rl := relay.New(nil, nil, relay.Options{})
	srv := httptest.NewServer(New(Options{Relay: rl, Admin: admin, Hosts: NewHostRule("127.0.0.1:8787", []string{"proxy.internal"})}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		method   string
		path     string
		host     string
		header   map[string]string
		body     string
		want     int
		wantCode string
		wantMsg  string
	}{
		{name: "a page's simple POST", method: "POST", path: "/_proxy/sessions", header: map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, body: `{"model":"gpt-5"}`,
			want: 403, wantCode: "cross_origin_refused", wantMsg: `"Origin: https://evil.example"`},
		{name: "Origin: null (a sandboxed frame)", method: "DELETE", path: "/_proxy/sessions", header: map[string]string{"Origin": "null"}, want: 403, wantCode: "cross_origin_refused"},
		{name: "an empty Origin", method: "GET", path: "/_proxy/status", header: map[string]string{"Origin": ""}, want: 403, wantCode: "cross_origin_refused"},
		{name: "the proxy's own origin is still a page", method: "GET", path: "/_proxy/status", header: map[string]string{"Origin": "http://127.0.0.1:8787"}, want: 403, wantCode: "cross_origin_refused"},
		{name: "a page's image (no Origin, cross-site)", method: "GET", path: "/_proxy/status", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: 403, wantCode: "cross_origin_refused"},
		{name: "another port of localhost (same-site)", method: "GET", path: "/_proxy/status", header: map[string]string{"Sec-Fetch-Site": "same-site"}, want: 403, wantCode: "cross_origin_refused"},
		{name: "a WebSocket from a page", method: "GET", path: "/v1/responses", header: map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-Websocket-Version": "13", "Sec-Websocket-Key": "LdJZFBJTpnmuz0AbfxzlaQ==", "Origin": "http://127.0.0.1:8787"},
			want: 403, wantCode: "cross_origin_refused"},
		{name: "a rebinding Host", method: "DELETE", path: "/_proxy/sessions", host: "rebind.example:8787", want: 403, wantCode: "host_not_allowed", wantMsg: `add "rebind.example" to allowed_hosts`},
		{name: "a rebinding Host on the metrics", method: "GET", path: "/metrics", host: "rebind.example", want: 403, wantCode: "host_not_allowed"},
		{name: "the address typed in the browser's bar", method: "GET", path: "/_proxy/status", header: map[string]string{"Sec-Fetch-Site": "none"}, want: 204},
		{name: "curl's default form POST", method: "POST", path: "/_proxy/sessions", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: `{"model":"gpt-5"}`, want: 204},
		{name: "an SDK's JSON POST", method: "POST", path: "/_proxy/sessions", header: map[string]string{"Content-Type": "application/json", "User-Agent": "OpenAI/JS 6.9.1"}, body: `{}`, want: 204},
		{name: "Node's fetch (Sec-Fetch-Mode: cors)", method: "POST", path: "/_proxy/sessions", header: map[string]string{"Sec-Fetch-Mode": "cors", "Accept-Language": "*", "User-Agent": "OpenAI/JS 6.49.0"}, body: `{}`, want: 204},
		{name: "localhost", method: "GET", path: "/_proxy/status", host: "localhost:8787", want: 204},
		{name: "an allowed name", method: "GET", path: "/_proxy/status", host: "proxy.internal:443", want: 204},
		{name: "health by any name", method: "GET", path: "/healthz", host: "lb-probe.svc", want: 200},
		{name: "health from a page", method: "GET", path: "/healthz", header: map[string]string{"Origin": "https://evil.example"}, want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reached = nil
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.body == "" {
				req.Body = http.NoBody
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.header {
				req.Header[http.CanonicalHeaderKey(k)] = []string{v}
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want != 403 {
				return
			}
			if len(reached) != 0 {
				t.Errorf("a refused request reached %v", reached)
			}
			e := decodeAPIError(t, resp)
			if str(e.Error["type"]) != "permission_error" || str(e.Error["code"]) != tc.wantCode {
				t.Errorf("error = %v, want permission_error %s", e.Error, tc.wantCode)
			}
			if msg := str(e.Error["message"]); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message %q lacks %q", msg, tc.wantMsg)
			}
			if tc.body != "" && !resp.Close {
				t.Error("a refused request with a body should close the connection rather than drain it")
			}
		})
	}
}

func TestRefusalShowsLittleOfTheClientsWords(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/_proxy/status", nil)
	req.Host = "127.0.0.1:8787"
	req.Header.Set("Origin", "https://"+strings.Repeat("a", 10000))
	var log strings.Builder
	logger := slog.New(slog.NewTextHandler(&log, nil))
	New(Options{Relay: relay.New(nil, nil, relay.Options{}), Logger: logger}).ServeHTTP(rec, req)
	if rec.Code != 403 || rec.Body.Len() > 1000 {
		t.Errorf("status %d, %d bytes of body", rec.Code, rec.Body.Len())
	}
	if !strings.Contains(log.String(), `why="Origin: https://aaa`) || log.Len() > 400 {
		t.Errorf("log line of %d bytes: %.300s", log.Len(), log.String())
	}
}
