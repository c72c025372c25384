package account_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeproxy"
)

const proxyPassword = "proxy-pa55word-egress"

// startProxy starts a fakeproxy of kind "http" or "socks5" until the test
// ends.
func startProxy(t *testing.T, kind, user, password string) *fakeproxy.Server {
	t.Helper()
	start := fakeproxy.StartHTTP
	if kind == "socks5" {
		start = fakeproxy.StartSOCKS5
	}
	p, err := start(user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// recorder is a loopback upstream that keeps the paths it was asked for.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newRecorder(t *testing.T, tls bool) *recorder {
	t.Helper()
	r := &recorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.paths = append(r.paths, req.URL.Path)
		r.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	})
	if tls {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.paths)
}

// withPassword replaces the password in a proxy URL.
func withPassword(raw, password string) string {
	return strings.Replace(raw, ":"+proxyPassword+"@", ":"+password+"@", 1)
}

func TestEgress(t *testing.T) {
	tests := []struct {
		name     string
		kind     string // proxy kind; "" for an account without proxy_url
		tls      bool   // the upstream is https
		user     string // the proxy's user; "" for no authentication
		password string // the account's password; "" for the right one
		wantSeen func(up string) []string
		wantErr  string // the request fails with this
		wantCode int    // else answers this
		refused  int
	}{
		{name: "no proxy_url goes direct", wantCode: 200},
		{name: "http proxy with user and password", kind: "http", user: "u", wantCode: 200,
			wantSeen: func(up string) []string { return []string{"GET " + up + "/v1/models"} }},
		{name: "http proxy without authentication", kind: "http", wantCode: 200,
			wantSeen: func(up string) []string { return []string{"GET " + up + "/v1/models"} }},
		{name: "https upstream through an http proxy's CONNECT", kind: "http", user: "u", tls: true, wantCode: 200,
			wantSeen: func(up string) []string { return []string{"CONNECT " + strings.TrimPrefix(up, "https://")} }},
		{name: "http proxy refuses a wrong password", kind: "http", user: "u", password: "wrong", wantCode: http.StatusProxyAuthRequired, refused: 1},
		{name: "socks5 without authentication", kind: "socks5", wantCode: 200,
			wantSeen: func(up string) []string { return []string{"CONNECT " + strings.TrimPrefix(up, "http://")} }},
		{name: "socks5 with user and password", kind: "socks5", user: "u", wantCode: 200,
			wantSeen: func(up string) []string { return []string{"CONNECT " + strings.TrimPrefix(up, "http://")} }},
		{name: "socks5 refuses a wrong password", kind: "socks5", user: "u", password: "wrong", wantErr: "authentication failed", refused: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRecorder(t, tt.tls)
			cfg := config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: up.URL + "/v1", APIKey: "sk-egress-test-0123456789", Enabled: true}
			var p *fakeproxy.Server
			if tt.kind != "" {
				p = startProxy(t, tt.kind, tt.user, proxyPassword)
				cfg.ProxyURL = p.URL()
				if tt.password != "" {
					cfg.ProxyURL = withPassword(cfg.ProxyURL, tt.password)
				}
			}
			a := mustNew(t, cfg)
			base := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 7 * time.Second}}
			if tt.tls {
				base.Transport.(*http.Transport).TLSClientConfig = up.Client().Transport.(*http.Transport).TLSClientConfig
			}
			e := account.NewEgress(base)
			c := e.Client(a)
			if (c == base) != (tt.kind == "") {
				t.Fatalf("Client is the base client: %v, want %v", c == base, tt.kind == "")
			}
			if tt.kind != "" {
				if rt, ok := c.Transport.(*http.Transport); !ok || rt.ResponseHeaderTimeout != 7*time.Second {
					t.Errorf("the proxied transport is not a clone of the base one: %#v", c.Transport)
				}
			}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.Target("/models", ""), nil)
			resp, err := c.Do(req)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), proxyPassword) || strings.Contains(err.Error(), tt.password) {
					t.Errorf("the error quotes the proxy password: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			default:
				_ = resp.Body.Close()
				if resp.StatusCode != tt.wantCode {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantCode)
				}
			}
			var want []string
			if tt.wantSeen != nil {
				want = tt.wantSeen(up.URL)
			}
			if p != nil {
				if got := p.Seen(); !slices.Equal(got, want) {
					t.Errorf("the proxy carried %q, want %q", got, want)
				}
				if got := p.Refused(); got != tt.refused {
					t.Errorf("the proxy refused %d clients, want %d", got, tt.refused)
				}
			}
			reached := tt.wantCode == http.StatusOK
			if got := up.seen(); reached != slices.Equal(got, []string{"/v1/models"}) || !reached && len(got) != 0 {
				t.Errorf("the upstream saw %q (reached: want %v)", got, reached)
			}
		})
	}
}

// TestEgressClients checks that accounts share a client exactly when they
// share a proxy_url, so connections through one proxy are pooled.
func TestEgressClients(t *testing.T) {
	mk := func(name, proxy string) *account.Account {
		return mustNew(t, config.Account{Name: name, Type: config.TypeOpenAI, BaseURL: "http://127.0.0.1:1/v1", APIKey: "k", ProxyURL: proxy})
	}
	a1, a2 := mk("a1", "socks5://127.0.0.1:1080"), mk("a2", "socks5://127.0.0.1:1080")
	b, direct := mk("b", "http://u:p@127.0.0.1:3128"), mk("direct", "")
	base := &http.Client{}
	e := account.NewEgress(base)
	if e.Client(a1) != e.Client(a2) {
		t.Error("two accounts on one proxy_url got different clients")
	}
	if e.Client(a1) == e.Client(b) || e.Client(b) == base {
		t.Error("accounts on different proxies share a client")
	}
	if e.Client(direct) != base || e.Client(nil) != base {
		t.Error("an account without proxy_url does not get the base client")
	}
	e.CloseIdleConnections()
}

func TestNewRejectsBadProxyURL(t *testing.T) {
	tests := []struct {
		name, proxy, want string
	}{
		{"another scheme", "ftp://u:" + proxyPassword + "@127.0.0.1:21", "must start with http://, https:// or socks5://"},
		{"no host", "socks5://u:" + proxyPassword + "@", "has no host"},
		{"unparsable", "http://u:" + proxyPassword + "@[::1", "is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := account.New(config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "k", ProxyURL: tt.proxy})
			if err == nil || !strings.Contains(err.Error(), "account a: proxy_url "+tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), proxyPassword) {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

// TestRefreshThroughProxy checks that a ChatGPT account's token refresh
// goes through its proxy_url, and another's without one does not.
func TestRefreshThroughProxy(t *testing.T) {
	for _, kind := range []string{"http", "socks5"} {
		t.Run(kind, func(t *testing.T) {
			p := startProxy(t, kind, "u", proxyPassword)
			newAccess := fakeJWT(t, testNow.Add(24*time.Hour), "", "new-access")
			ts := newTokenServer(t, http.StatusOK, tokenAnswer(t, newAccess, "", "rt-rotated"))
			// The refresher's own client: a proxied account must get a
			// copy of it sent through the proxy, not it.
			r := account.NewRefresher(account.RefresherOptions{
				TokenURL: ts.url(), ClientID: testClientID, Client: &http.Client{Timeout: 10 * time.Second},
				Now: func() time.Time { return testNow }, Logger: quietLogger(),
			})
			proxied, direct := newLogin(t, "proxied"), newLogin(t, "direct")
			proxied.account = mustNew(t, config.Account{Name: "proxied", Type: config.TypeOpenAIResponses, AuthFile: proxied.path, ProxyURL: p.URL(), Enabled: true})

			if err := r.Refresh(context.Background(), direct.account, direct.account.AccessTag()); err != nil {
				t.Fatalf("direct refresh: %v", err)
			}
			if got := p.Seen(); len(got) != 0 {
				t.Fatalf("the direct account's refresh went through the proxy: %q", got)
			}
			if err := r.Refresh(context.Background(), proxied.account, proxied.account.AccessTag()); err != nil {
				t.Fatalf("proxied refresh: %v", err)
			}
			want := "POST " + ts.url()
			if kind == "socks5" {
				want = "CONNECT " + strings.TrimPrefix(ts.URL, "http://")
			}
			if got := p.Seen(); !slices.Equal(got, []string{want}) {
				t.Errorf("the proxy carried %q, want %q", got, want)
			}
			if ts.calls.Load() != 2 || authorized(proxied.account, nil).Get("Authorization") != "Bearer "+newAccess {
				t.Errorf("token requests %d, want 2; the proxied account did not get the new token", ts.calls.Load())
			}
		})
	}
}
