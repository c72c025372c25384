package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/login/logintest"
)

// reloginConfig has a ChatGPT account with an inline login that died, and
// settings a re-login must keep.
const reloginConfig = `listen: 127.0.0.1:8787
accounts:
  # my main ChatGPT login
  - name: chatgpt   # the good one
    type: openai-responses
    access_token: expired-inline-token
    refresh_token: rt-dead-inline
    account_id: acct-fake-0001
    weight: 3
    models: ["gpt-5*"]
    # max_concurrency: 3

  - name: work
    type: openai
    base_url: https://api.example.com/v1
    api_key: sk-inline-0123456789abcdef
`

// loginRun is one `proxy accounts login` in a test: the fake issuer, a
// fake clock, and a browser played by the test.
type loginRun struct {
	issuer *logintest.Issuer
	clock  *logintest.Clock
	// browser, when set, is called with the authorize URL in place of a
	// real browser (in its own goroutine, as a browser would be).
	browser func(authURL string)
	// realSleep leaves the clock real, for the browser flow: a fake
	// Sleep would end its wait at once.
	realSleep bool
}

func (r *loginRun) run(t *testing.T, env map[string]string, args ...string) (code int, stderr string) {
	t.Helper()
	ios, out, errOut := testIO(env, false)
	cmd := NewCmdAccountsLogin(ios, func(ctx context.Context, o *AccountsLoginOptions) error {
		o.Ports = []int{0}
		o.Now = r.clock.Now
		if !r.realSleep {
			o.Sleep = r.clock.Sleep
		}
		o.OpenBrowser = func(u string) error {
			if r.browser != nil {
				go r.browser(u)
			}
			return errors.New("no browser on this machine") // must not matter
		}
		return runAccountsLogin(ctx, o)
	})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	code = ExitCode(errOut, cmd.ExecuteContext(context.Background()))
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing (messages go to stderr)", out.String())
	}
	return code, errOut.String()
}

func TestAccountsLogin(t *testing.T) {
	tests := []struct {
		name      string
		config    string // "" : no config file yet
		args      []string
		setup     func(t *testing.T, f *logintest.Issuer, dir string) string // may return a config
		want      int
		golden    string // the config afterwards
		output    string // golden of stderr
		wantErr   []string
		wantPolls int
		wantSlept []time.Duration
	}{
		{name: "device code", config: commentedConfig, args: []string{"chatgpt", "--device"},
			golden: "login-device.golden", output: "login-device-output.golden", wantPolls: 1},
		{name: "device code pending then signed in", config: commentedConfig, args: []string{"chatgpt", "--device"},
			setup:  func(_ *testing.T, f *logintest.Issuer, _ string) string { f.Pending = 2; return "" },
			golden: "login-device.golden", wantPolls: 3, wantSlept: []time.Duration{5 * time.Second, 5 * time.Second}},
		{name: "creates the config", args: []string{"chatgpt", "--device", "--weight", "2"},
			golden: "login-created.golden", wantPolls: 1},
		{name: "re-login keeps the account's settings", config: reloginConfig, args: []string{"chatgpt", "--device"},
			golden: "login-relogin.golden", output: "login-relogin-output.golden", wantPolls: 1},
		{name: "re-login into the same file", args: []string{"chatgpt", "--device"},
			setup: func(t *testing.T, f *logintest.Issuer, dir string) string {
				f.AccountID = "acct-from-claim-0001"
				writeFile(t, dir, "chatgpt.auth.json", chatgptAuthJSON(t), 0o644)
				return "accounts:\n  - name: chatgpt # renewed in place\n    type: openai-responses\n    auth_file: chatgpt.auth.json\n"
			},
			golden: "login-relogin-same.golden", wantErr: []string{"renewed the login of account chatgpt\n"}, wantPolls: 1},
		{name: "denied", config: commentedConfig, args: []string{"chatgpt", "--device"},
			setup: func(_ *testing.T, f *logintest.Issuer, _ string) string { f.Deny = true; return "" },
			want:  cmdutil.ExitFailure, wantErr: []string{"sign-in was denied: access_denied: The user declined the sign-in.", "approve the sign-in"}, wantPolls: 1},
		{name: "timeout", config: commentedConfig, args: []string{"chatgpt", "--device", "--timeout", "12s"},
			setup: func(_ *testing.T, f *logintest.Issuer, _ string) string { f.Pending = 1000; return "" },
			want:  cmdutil.ExitFailure, wantErr: []string{"sign-in timed out: the code was not entered within 12s", "for a new code"},
			wantPolls: 4, wantSlept: []time.Duration{5 * time.Second, 5 * time.Second, 2 * time.Second}},
		{name: "same ChatGPT account under another name", args: []string{"second", "--device"},
			setup: func(t *testing.T, f *logintest.Issuer, dir string) string {
				f.AccountID = "acct-from-claim-0001"
				p := writeFile(t, dir, "codex/auth.json", chatgptAuthJSON(t), 0o600)
				return fmt.Sprintf("accounts:\n  - name: first\n    type: openai-responses\n    auth_file: %s\n", p)
			},
			want: cmdutil.ExitFailure, wantErr: []string{`ChatGPT account acct...0001 is already signed in as account "first"`, "proxy accounts login first"}, wantPolls: 1},
		{name: "an API-key account's name", config: commentedConfig, args: []string{"work", "--device"},
			want: cmdutil.ExitFailure, wantErr: []string{`already has account "work" of type openai`}},
		{name: "a name that is no file name", config: commentedConfig, args: []string{"my/acct", "--device"},
			want: cmdutil.ExitFailure, wantErr: []string{"may hold only letters"}},
		{name: "a hidden file name", config: commentedConfig, args: []string{".x", "--device"},
			want: cmdutil.ExitFailure, wantErr: []string{"must start with a letter or digit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := logintest.NewIssuer(t)
			config := tt.config
			if tt.setup != nil {
				if c := tt.setup(t, f, dir); c != "" {
					config = c
				}
			}
			cfgPath := filepath.Join(dir, "proxy.yaml")
			if config != "" {
				writeFile(t, dir, "proxy.yaml", config, 0o640)
			}
			env := map[string]string{"HOME": filepath.Join(dir, "home"), "PROXY_OAUTH_ISSUER": f.URL}
			r := &loginRun{issuer: f, clock: logintest.NewClock(testClock)}
			code, stderr := r.run(t, env, append(tt.args, "--config", cfgPath)...)
			if code != tt.want {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if f.Polls() != tt.wantPolls {
				t.Errorf("%d device polls, want %d", f.Polls(), tt.wantPolls)
			}
			if got := r.clock.Slept(); !slices.Equal(got, tt.wantSlept) {
				t.Errorf("slept %v, want %v", got, tt.wantSlept)
			}
			for _, secret := range []string{"rt-fake", "rt-dead", "expired-inline-token"} {
				if strings.Contains(stderr, secret) {
					t.Errorf("stderr shows a token: %s", stderr)
				}
			}
			got, _ := os.ReadFile(cfgPath)
			name := tt.args[0]
			authPath := filepath.Join(dir, name+".auth.json")
			if tt.golden == "" {
				if string(got) != config {
					t.Errorf("a refused login changed the config:\n%s", got)
				}
				if _, err := os.Stat(authPath); err == nil {
					t.Errorf("a refused login left %s", authPath)
				}
				return
			}
			assertGolden(t, tt.golden, string(got))
			if tt.output != "" {
				assertGolden(t, tt.output, stable(stderr, dir))
			}
			assertLoginAuthFile(t, authPath, f.AccountID, r.clock.Now())
			if code, _, stderr := runWith(t, env, "config", "validate", "-c", cfgPath); code != 0 {
				t.Errorf("the result does not validate: %s", stderr)
			}
		})
	}
}

// assertLoginAuthFile checks the tokens file: private, in Codex's format,
// naming the account.
func assertLoginAuthFile(t *testing.T, path, accountID string, signedIn time.Time) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", path, info.Mode().Perm())
	}
	auth, err := codexauth.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if auth.AuthMode != codexauth.AuthModeChatGPT || auth.Tokens.AccountID != accountID || auth.Tokens.RefreshToken == "" ||
		!auth.LastRefresh.Equal(signedIn) {
		t.Errorf("auth file: mode %q, account %q, last_refresh %v", auth.AuthMode, auth.Tokens.AccountID, auth.LastRefresh)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "{\n  \"auth_mode\": \"chatgpt\",\n  \"OPENAI_API_KEY\": null,\n  \"tokens\": {\n    \"id_token\"") {
		t.Errorf("auth file is not laid out as Codex's:\n%.120s", data)
	}
}

// TestAccountsLoginBrowser plays the browser: it takes the printed
// authorize URL to the fake issuer and follows its redirect to the
// callback server, after a forged callback that must be turned away.
func TestAccountsLoginBrowser(t *testing.T) {
	dir := t.TempDir()
	f := logintest.NewIssuer(t)
	cfgPath := writeFile(t, dir, "proxy.yaml", commentedConfig, 0o600)
	env := map[string]string{"HOME": filepath.Join(dir, "home"), "PROXY_OAUTH_ISSUER": f.URL}
	forged := make(chan int, 1)
	r := &loginRun{issuer: f, clock: logintest.NewClock(testClock), realSleep: true}
	r.browser = func(authURL string) {
		callback, err := f.Authorize(authURL)
		if err != nil {
			t.Error(err)
			return
		}
		u, _ := url.Parse(callback)
		q := u.Query()
		q.Set("state", "from-another-tab")
		u.RawQuery = q.Encode()
		forged <- httpStatus(t, u.String())
		httpStatus(t, callback)
	}
	code, stderr := r.run(t, env, "chatgpt", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	if status := <-forged; status != http.StatusBadRequest {
		t.Errorf("a callback with another state got %d, want 400", status)
	}
	if f.Exchanges() != 1 {
		t.Errorf("%d token exchanges, want 1", f.Exchanges())
	}
	for _, w := range []string{f.URL + "/oauth/authorize?", "waiting up to 15m0s for the browser to come back to http://localhost:", "added account chatgpt"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
	if strings.Contains(stderr, "opened it") {
		t.Errorf("claims to have opened a browser when none opened: %s", stderr)
	}
	got, _ := os.ReadFile(cfgPath)
	assertGolden(t, "login-device.golden", string(got)) // the same edit as the device flow
	assertLoginAuthFile(t, filepath.Join(dir, "chatgpt.auth.json"), f.AccountID, testClock)
}

func TestAccountsLoginUnreachableIssuer(t *testing.T) {
	dir := t.TempDir()
	dead := "http://" + closedAddr(t)
	cfgPath := writeFile(t, dir, "proxy.yaml", commentedConfig+"oauth:\n  issuer: "+dead+"\n", 0o600)
	r := &loginRun{clock: logintest.NewClock(testClock)}
	code, stderr := r.run(t, map[string]string{"HOME": dir}, "chatgpt", "--device", "--config", cfgPath)
	if code != cmdutil.ExitFailure {
		t.Fatalf("exit code %d, want %d: %s", code, cmdutil.ExitFailure, stderr)
	}
	for _, w := range []string{"cannot reach the sign-in server " + dead, "oauth.issuer in the config (now " + dead + ")"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

// TestAccountsImportCodexRefuses covers what import-codex refuses besides
// names: a login already in the config, and tokens that are not JWTs.
func TestAccountsImportCodexRefuses(t *testing.T) {
	tests := []struct {
		name     string
		authJSON func(t *testing.T) string
		config   func(authPath string) string
		wantErr  string
	}{
		{name: "same ChatGPT account twice", authJSON: chatgptAuthJSON,
			config: func(p string) string {
				return "accounts:\n  - name: first\n    type: openai-responses\n    auth_file: " + p + "\n"
			},
			wantErr: `ChatGPT account acct...0001 is already in`},
		{name: "inline account id", authJSON: chatgptAuthJSON,
			config: func(string) string {
				return "accounts:\n  - name: first\n    type: openai-responses\n    access_token: x\n    account_id: acct-from-claim-0001\n"
			},
			wantErr: `as account "first"`},
		{name: "opaque access token", authJSON: func(t *testing.T) string {
			var doc map[string]any
			_ = json.Unmarshal([]byte(chatgptAuthJSON(t)), &doc)
			doc["tokens"].(map[string]any)["access_token"] = "opaque-access-token"
			b, _ := json.Marshal(doc)
			return string(b)
		}, config: func(string) string { return commentedConfig }, wantErr: "the access token is not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			authPath := writeFile(t, dir, "home/.codex/auth.json", tt.authJSON(t), 0o600)
			cfg := tt.config(authPath)
			cfgPath := writeFile(t, dir, "proxy.yaml", cfg, 0o600)
			code, _, stderr := runWith(t, map[string]string{"HOME": filepath.Join(dir, "home")}, "accounts", "import-codex", "-c", cfgPath, "--name", "second")
			if code != cmdutil.ExitFailure || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr, cmdutil.ExitFailure, tt.wantErr)
			}
			if got, _ := os.ReadFile(cfgPath); string(got) != cfg {
				t.Errorf("a refused import changed the config:\n%s", got)
			}
			if strings.Contains(stderr, "opaque-") || strings.Contains(stderr, "rt-fake") {
				t.Errorf("stderr shows a token: %s", stderr)
			}
		})
	}
}

func TestUpdateAccount(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		set    []field
		remove []string
		want   string
	}{
		{name: "replace keeps the comment",
			src:  "accounts:\n  - name: a\n    auth_file: old.json   # mine\n    weight: 2\n",
			set:  []field{{key: "auth_file", value: "a.auth.json"}},
			want: "accounts:\n  - name: a\n    auth_file: a.auth.json # mine\n    weight: 2\n"},
		{name: "add after the last key, before the next item",
			src:  "accounts:\n  - name: a\n    weight: 2\n  - name: b\n",
			set:  []field{{key: "auth_file", value: "a.auth.json"}},
			want: "accounts:\n  - name: a\n    weight: 2\n    auth_file: a.auth.json\n  - name: b\n"},
		{name: "flow style is re-encoded",
			src:    "accounts:\n  - {name: a, access_token: x, weight: 2}\n",
			set:    []field{{key: "auth_file", value: "a.auth.json"}},
			remove: []string{"access_token"},
			want:   "accounts:\n  - {name: a, weight: 2, auth_file: a.auth.json}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := updateAccount([]byte(tt.src), "a", tt.set, tt.remove)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func httpStatus(t *testing.T, u string) int {
	resp, err := http.Get(u)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
