package relay

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeproxy"
	"github.com/proxy-dev/proxy/pkg/health"
)

// TestRelayUsesAccountProxy sends one request that fails over from an
// account with a proxy_url to one without, then lists models: the proxy
// carries exactly the first account's requests, and the second account's
// go direct.
func TestRelayUsesAccountProxy(t *testing.T) {
	const password = "relay-proxy-pa55word"
	tests := []struct {
		name      string
		kind      string
		down      bool   // the proxy is closed before the request
		password  string // the account's proxy password; "" for the right one
		wantClass health.Class
		wantSeen  func(up string) []string
		tunnels   bool // Seen lists one or more tunnels to each target wanted
		refused   int  // clients the proxy turned away during the request
	}{
		{name: "http proxy", kind: "http", wantClass: health.RateLimit,
			wantSeen: func(up string) []string { return []string{"POST " + up + "/responses", "GET " + up + "/models"} }},
		{name: "socks5 proxy", kind: "socks5", wantClass: health.RateLimit,
			// Tunnels to the first account only; the models request may
			// reuse the first's connection or open its own.
			tunnels: true, wantSeen: func(up string) []string { return []string{"CONNECT " + strings.TrimPrefix(up, "http://")} }},
		{name: "http proxy down", kind: "http", down: true, wantClass: health.Network},
		{name: "http proxy refuses the password", kind: "http", password: "wrong", wantClass: health.Network,
			wantSeen: func(string) []string { return nil }, refused: 1},
		{name: "socks5 proxy refuses the password", kind: "socks5", password: "wrong", wantClass: health.Network,
			wantSeen: func(string) []string { return nil }, refused: 1},
		{name: "socks5 proxy down", kind: "socks5", down: true, wantClass: health.Network},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := fakeproxy.StartHTTP
			if tt.kind == "socks5" {
				start = fakeproxy.StartSOCKS5
			}
			p, err := start("u", password)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			proxyURL := p.URL()
			if tt.password != "" {
				proxyURL = strings.Replace(proxyURL, password, tt.password, 1)
			}
			proxiedUp := newUpstream(t, script{status: 429, body: `{"error":{"type":"rate_limit_exceeded","message":"slow down"}}`})
			directUp := newUpstream(t, healthy("direct"))
			proxied, err := account.New(config.Account{Name: "proxied", Type: config.TypeOpenAI, BaseURL: proxiedUp.srv.URL,
				APIKey: "sk-test-proxied-0123456789abcdef", Weight: 1, Enabled: true, ProxyURL: proxyURL})
			if err != nil {
				t.Fatal(err)
			}
			fp := &fakePool{accounts: []*account.Account{proxied, testAccount(t, "direct", directUp)}}
			if tt.down {
				_ = p.Close()
			}
			rl := New(fp, nil, Options{Transport: NewTransport(time.Second, 10*time.Second)})
			defer rl.CloseIdleConnections()

			resp, body := post(t, rl.Handler("/responses"), "conv-1", nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "hello from direct") {
				t.Fatalf("status %d, body %s", resp.StatusCode, body)
			}
			reports, _, _ := fp.snapshot()
			if want := []report{{"proxied", tt.wantClass}, {"direct", health.OK}}; !slices.Equal(reports, want) {
				t.Fatalf("reports %v, want %v", reports, want)
			}
			srv := httptest.NewServer(rl.Models(func() []*account.Account { return fp.accounts }))
			defer srv.Close()
			mresp, err := http.Get(srv.URL + "/v1/models")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, mresp.Body)
			_ = mresp.Body.Close()

			var want []string
			if tt.wantSeen != nil {
				want = tt.wantSeen(proxiedUp.srv.URL)
			}
			got := p.Seen()
			if tt.tunnels {
				got = slices.Compact(got)
			}
			if !slices.Equal(got, want) {
				t.Errorf("the proxy carried %q, want %q (never %s)", got, want, directUp.srv.URL)
			}
			if tt.refused == 0 && p.Refused() != 0 || tt.refused != 0 && p.Refused() < tt.refused {
				t.Errorf("the proxy refused the account's credentials %d times, want %d", p.Refused(), tt.refused)
			}
			if strings.Contains(body, "Proxy") || strings.Contains(body, password) {
				t.Errorf("the proxy's answer reached the client:\n%s", body)
			}
		})
	}
}
