package probe_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeproxy"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/probe"
)

// TestCheckThroughProxy checks an account with a proxy_url through its
// proxy, an account without one directly, and says which setting to fix
// when the proxy fails.
func TestCheckThroughProxy(t *testing.T) {
	const password = "probe-proxy-pa55word"
	tests := []struct {
		name      string
		kind      string
		password  string // the account's; "" for the right one
		down      bool   // nothing listens at the proxy's address
		wantOK    bool
		wantError string // prefix
		wantClass health.Class
		wantSeen  func(up string) []string
	}{
		{name: "http proxy", kind: "http", wantOK: true, wantClass: health.OK,
			wantSeen: func(up string) []string { return []string{"POST " + up + "/v1/responses"} }},
		{name: "socks5 proxy", kind: "socks5", wantOK: true, wantClass: health.OK,
			wantSeen: func(up string) []string { return []string{"CONNECT " + strings.TrimPrefix(up, "http://")} }},
		{name: "http proxy down", kind: "http", down: true,
			wantError: "connection refused: nothing listens at 127.0.0.1:", wantClass: health.Network},
		{name: "socks5 proxy down", kind: "socks5", down: true,
			wantError: "connection refused: nothing listens at 127.0.0.1:", wantClass: health.Network},
		{name: "http proxy refuses the password", kind: "http", password: "wrong",
			wantError: "407 the proxy refused the user name and password in proxy_url", wantClass: health.Network},
		{name: "socks5 proxy refuses the password", kind: "socks5", password: "wrong",
			wantError: "the proxy refused the user name and password in proxy_url", wantClass: health.Network},
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
			up := startFake(t, fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey)))
			direct := startFake(t, fakeupstream.New("direct", fakeupstream.WithAPIKey(apiKey)))
			accounts := []*account.Account{
				newAccount(t, config.Account{Name: "proxied", Type: config.TypeOpenAI, BaseURL: up.URL + "/v1", APIKey: apiKey, ProxyURL: proxyURL}),
				apiAccount(t, direct.URL+"/v1", apiKey),
			}
			if tt.down {
				_ = p.Close()
			}
			rs := probe.CheckAll(context.Background(), accounts, probe.Options{Now: fixedNow})
			r := rs[0]
			if r.OK != tt.wantOK || !strings.HasPrefix(r.Error, tt.wantError) || r.Outcome.Class != tt.wantClass {
				t.Errorf("result ok=%v class=%v error %q\nwant ok=%v class=%v error starting %q", r.OK, r.Outcome.Class, r.Error, tt.wantOK, tt.wantClass, tt.wantError)
			}
			if tt.down && !strings.HasSuffix(r.Error, "; check proxy_url's host and port") {
				t.Errorf("error %q does not point at proxy_url", r.Error)
			}
			if strings.Contains(r.Error, password) || strings.Contains(r.Outcome.Message, password) {
				t.Errorf("the result quotes the proxy password: %q", r.Error)
			}
			if !rs[1].OK {
				t.Errorf("the direct account failed: %s", rs[1].Error)
			}
			var want []string
			if tt.wantSeen != nil {
				want = tt.wantSeen(up.URL)
			}
			if got := p.Seen(); !slices.Equal(got, want) {
				t.Errorf("the proxy carried %q, want %q (never %s)", got, want, direct.URL)
			}
		})
	}
}

// TestCheckRefreshesThroughProxy checks that the token refresh a check
// makes for a ChatGPT account, and its WebSocket check, go through the
// account's proxy_url.
func TestCheckRefreshesThroughProxy(t *testing.T) {
	p, err := fakeproxy.StartHTTP("", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	expired, renewed := jwtAt(clock.Add(-time.Hour), "expired"), jwtAt(clock.Add(time.Hour), "renewed")
	te := startTokenEndpoint(t, http.StatusOK, `{"access_token":"`+renewed+`","refresh_token":"rt-new"}`)
	up := startFake(t, fakeupstream.New("chat", fakeupstream.WithChatGPT(renewed, accountID)))
	a := newAccount(t, config.Account{Name: "chat", Type: config.TypeOpenAIResponses, BaseURL: up.URL + "/backend-api/codex",
		AuthFile: writeLogin(t, expired, "rt-old"), ProxyURL: p.URL()})
	refresher := account.NewRefresher(account.RefresherOptions{TokenURL: te.url, ClientID: "cid", Now: fixedNow})
	r := probe.Check(context.Background(), a, probe.Options{Now: fixedNow, Refresher: refresher})
	if !r.OK || !r.Refreshed {
		t.Fatalf("result ok=%v refreshed=%v: %s", r.OK, r.Refreshed, r.Error)
	}
	// The WebSocket check goes the same way (refused: this fake takes none).
	want := []string{"POST " + te.url, "POST " + up.URL + "/backend-api/codex/responses", "GET " + up.URL + "/backend-api/codex/responses"}
	if got := p.Seen(); !slices.Equal(got, want) {
		t.Errorf("the proxy carried %q, want %q", got, want)
	}
}
