package list_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/list"
	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/store"
)

// urlPassword is a base_url's password, which no listing shows.
const urlPassword = "base-url-pa55word"

// statusServer serves a /_proxy/status document and records the bearer key
// it was asked with.
func statusServer(t *testing.T, gotKey *string) *httptest.Server {
	until := cmdtest.TestClock.Add(10*time.Hour + 10*time.Minute)
	doc := status.Document{Accounts: []status.Account{
		{Name: "api", State: status.StateCoolingDown, Reason: "quota", Until: &until, InFlight: 1,
			Today: status.Usage{Requests: 12, InputTokens: 3000, OutputTokens: 400},
			Limits: &health.Limits{Primary: &health.Window{UsedPercent: 90, ResetsAt: cmdtest.TestClock.Add(6 * time.Minute)},
				Secondary: &health.Window{UsedPercent: 25}, Observed: cmdtest.TestClock}},
		{Name: "chatgpt", State: status.StateInvalid, Reason: "invalid", Message: "the ChatGPT login was refused; run `codex login`",
			Limits: &health.Limits{Primary: &health.Window{UsedPercent: 97, WindowMinutes: 300, ResetsAt: cmdtest.TestClock.Add(2 * time.Hour)},
				Secondary: &health.Window{UsedPercent: 40, WindowMinutes: 10080, ResetsAt: cmdtest.TestClock.Add(72 * time.Hour)}, Observed: cmdtest.TestClock}},
		{Name: "spare", State: status.StateDisabled},
	}}
	return cmdtest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*gotKey = r.Header.Get("Authorization")
		if r.URL.Path != "/_proxy/status" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
}

func TestAccountsListGolden(t *testing.T) {
	for _, tt := range []struct {
		name, golden string
		tty, json    bool
		live         bool
	}{
		{name: "terminal with a server", golden: "accounts-list-live-tty.golden", tty: true, live: true},
		{name: "piped with a server", golden: "accounts-list-live-piped.golden", live: true},
		{name: "terminal without a server", golden: "accounts-list-tty.golden", tty: true},
		{name: "json with a server", golden: "accounts-list-live-json.golden", json: true, live: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := cmdtest.WriteFile(t, dir, "proxy.yaml", cmdtest.ListConfig, 0o600)
			env := map[string]string{"PROXY_API_KEY": "client-key"}
			for k, v := range cmdtest.TestEnv {
				env[k] = v
			}
			var gotKey string
			addr := "http://" + cmdtest.ClosedAddr(t)
			if tt.live {
				addr = statusServer(t, &gotKey).URL
			}
			ios, out, errOut := cmdtest.IO(env, tt.tty)
			err := list.RunAccountsList(context.Background(), &list.AccountsListOptions{IO: ios, ConfigPath: path, JSON: tt.json,
				Addr: addr, Now: cmdtest.FixedNow, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			cmdtest.AssertGolden(t, tt.golden, cmdtest.Stable(out.String(), dir))
			if tt.live && gotKey != "Bearer client-key" {
				t.Errorf("server asked with Authorization %q, want the PROXY_API_KEY bearer", gotKey)
			}
			if !tt.live && !strings.Contains(errOut.String(), "server not running at http://127.0.0.1:") {
				t.Errorf("stderr = %q, want the server-not-running note", errOut.String())
			}
			if strings.Contains(out.String(), cmdtest.TestAPIKey) || strings.Contains(out.String(), cmdtest.TestAccessToken) {
				t.Errorf("output reveals a secret")
			}
		})
	}
}

// loginJWT is an access token that expires at exp, tagged so tokens differ.
func loginJWT(exp time.Time, tag string) string {
	return codexauthtest.JWT(map[string]any{"exp": exp.Unix(), "jti": tag})
}

// TestAccountsListLoginAttention checks that a ChatGPT login only the user
// can renew shows as such when the state comes from Redis (no proxy
// running): one marked invalid, one whose token expired with no refresh
// token to renew it.
func TestAccountsListLoginAttention(t *testing.T) {
	mr := miniredis.RunT(t)
	dir := t.TempDir()
	expired := loginJWT(cmdtest.TestClock.Add(-time.Hour), "expired")
	cfg := fmt.Sprintf(`redis: {url: "redis://%s"}
accounts:
  - {name: dead, type: openai-responses, access_token: "${ACCESS_TOKEN}", refresh_token: rt-0123456789, account_id: %s}
  - {name: stale, type: openai-responses, access_token: %s, account_id: %s}
  - {name: fine, type: openai-responses, access_token: "${ACCESS_TOKEN}", account_id: %s}
`, mr.Addr(), cmdtest.TestAccountID, expired, cmdtest.TestAccountID, cmdtest.TestAccountID)
	path := cmdtest.WriteFile(t, dir, "proxy.yaml", cfg, 0o600)

	st, err := store.Open(context.Background(), store.Options{URL: "redis://" + mr.Addr(), KeyPrefix: "proxy:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetCooldown(context.Background(), store.Cooldown{Account: "dead", Reason: "invalid", Since: cmdtest.TestClock,
		Message: "account dead: token refresh refused (refresh_token_reused): the ChatGPT login has expired or was revoked"}); err != nil {
		t.Fatal(err)
	}
	// What a stopped proxy last saw of the windows shows too.
	if err := st.SetWindows(context.Background(), "fine", store.Limits{Observed: cmdtest.TestClock,
		Primary: &store.Window{UsedPercent: 37, WindowMinutes: 300, ResetsAt: cmdtest.TestClock.Add(3 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, golden string
		tty, json    bool
	}{
		{name: "terminal", golden: "accounts-list-login.golden", tty: true},
		{name: "json", golden: "accounts-list-login-json.golden", json: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ios, out, _ := cmdtest.IO(cmdtest.TestEnv, tt.tty)
			err := list.RunAccountsList(context.Background(), &list.AccountsListOptions{IO: ios, ConfigPath: path, JSON: tt.json,
				Addr: "http://" + cmdtest.ClosedAddr(t), Now: cmdtest.FixedNow, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			cmdtest.AssertGolden(t, tt.golden, cmdtest.Stable(out.String(), dir))
			if strings.Contains(out.String(), expired) || strings.Contains(out.String(), cmdtest.TestAccessToken) {
				t.Errorf("output reveals a token")
			}
		})
	}
}

// TestAccountsListDemo lists a --demo proxy's own accounts, with or without
// a config of its own, and says they are the demo's.
func TestAccountsListDemo(t *testing.T) {
	url, _ := cmdtest.DemoServer(t, "127.0.0.1:0")
	dir := t.TempDir()
	unrelated := cmdtest.WriteFile(t, dir, "proxy.yaml", cmdtest.ListConfig, 0o600)
	tests := []struct {
		name, config, golden, wantNote string
	}{
		{"no config", "", "accounts-list-demo-piped.golden", "the proxy at " + url + " runs --demo: these are its demo accounts\n"},
		{"an unrelated config", unrelated, "accounts-list-demo-piped.golden", "runs --demo: these are its demo accounts, not the 3 in " + unrelated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": dir, "XDG_CONFIG_HOME": dir}
			for k, v := range cmdtest.TestEnv {
				env[k] = v
			}
			args := []string{"accounts", "list", "--addr", url}
			if tt.config != "" {
				args = append(args, "--config", tt.config)
			}
			code, stdout, stderr := cmdtest.RunWith(t, env, args...)
			if code != cmdutil.ExitOK || !strings.Contains(stderr, tt.wantNote) {
				t.Errorf("exit %d, stderr %q; want %q", code, stderr, tt.wantNote)
			}
			if strings.Contains(stdout+stderr, "not loaded") || strings.Contains(stderr, "no accounts configured") {
				t.Errorf("the demo's accounts were taken for missing ones:\n%s%s", stdout, stderr)
			}
			cmdtest.AssertGolden(t, tt.golden, cmdtest.Stable(stdout, dir))
		})
	}
}

// TestAccountsListNotLoaded names the running proxy's pid in the reload
// hint, and lists what it serves that the file no longer has.
func TestAccountsListNotLoaded(t *testing.T) {
	doc := status.Document{PID: 4242, Accounts: []status.Account{
		{Name: "api", Type: "openai", State: status.StateHealthy, Enabled: true},
		{Name: "old", Type: "openai", State: status.StateHealthy, Enabled: true, Credential: "sk-...9999"},
	}}
	srv := cmdtest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(doc) }))
	path := cmdtest.WriteFile(t, t.TempDir(), "proxy.yaml", cmdtest.ListConfig, 0o600)
	code, stdout, stderr := cmdtest.RunWith(t, cmdtest.TestEnv, "accounts", "list", "-c", path, "--addr", srv.URL)
	if code != cmdutil.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"chatgpt\topenai-responses", "not loaded (reload the proxy: kill -HUP 4242)", "old\topenai"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if want := "account old: served by the proxy at " + srv.URL + " but not in " + path + " (reload the proxy: kill -HUP 4242 to apply the file)"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// TestAccountsListHidesURLPassword checks `proxy accounts list` shows a
// base_url without its user info (a password, or a user name alone).
func TestAccountsListHidesURLPassword(t *testing.T) {
	cfg := fmt.Sprintf(`accounts:
  - {name: api, type: openai, base_url: "http://user:%s@gw.example/v1", api_key: "${API_KEY}"}
  - {name: spare, type: openai, base_url: "http://%s@gw.example/spare", api_key: "${API_KEY}", enabled: false}
`, urlPassword, urlPassword)
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			dir := t.TempDir()
			path := cmdtest.WriteFile(t, dir, "proxy.yaml", cfg, 0o600)
			ios, out, errOut := cmdtest.IO(cmdtest.TestEnv, false)
			err := list.RunAccountsList(context.Background(), &list.AccountsListOptions{IO: ios, ConfigPath: path, JSON: asJSON,
				Addr: "http://" + cmdtest.ClosedAddr(t), Now: cmdtest.FixedNow, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			all := out.String() + errOut.String()
			if strings.Contains(all, urlPassword) || strings.Contains(all, "user:") {
				t.Error("accounts list shows the base_url's user info")
			}
			if !strings.Contains(out.String(), "http://gw.example/v1") || !strings.Contains(out.String(), "http://gw.example/spare") {
				t.Errorf("accounts list lacks the shown URLs:\n%s", cmdtest.Stable(out.String(), dir))
			}
		})
	}
}
