package login_test

import (
	"context"
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

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/login"
	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
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
	ios, out, errOut := cmdtest.IO(env, false)
	cmd := login.NewCmdAccountsLogin(ios, func(ctx context.Context, o *login.AccountsLoginOptions) error {
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
		return login.RunAccountsLogin(ctx, o)
	})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	code = cmdtest.ExitCode(errOut, cmd.ExecuteContext(context.Background()))
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
		{name: "device code", config: cmdtest.CommentedConfig, args: []string{"chatgpt", "--device"},
			golden: "login-device.golden", output: "login-device-output.golden", wantPolls: 1},
		{name: "device code pending then signed in", config: cmdtest.CommentedConfig, args: []string{"chatgpt", "--device"},
			setup:  func(_ *testing.T, f *logintest.Issuer, _ string) string { f.Pending = 2; return "" },
			golden: "login-device.golden", wantPolls: 3, wantSlept: []time.Duration{5 * time.Second, 5 * time.Second}},
		{name: "creates the config", args: []string{"chatgpt", "--device", "--weight", "2"},
			golden: "login-created.golden", wantPolls: 1},
		{name: "re-login keeps the account's settings", config: reloginConfig, args: []string{"chatgpt", "--device"},
			golden: "login-relogin.golden", output: "login-relogin-output.golden", wantPolls: 1},
		{name: "re-login into the same file", args: []string{"chatgpt", "--device"},
			setup: func(t *testing.T, f *logintest.Issuer, dir string) string {
				f.AccountID = "acct-from-claim-0001"
				cmdtest.WriteFile(t, dir, "chatgpt.auth.json", cmdtest.ChatGPTAuthJSON(t), 0o644)
				return "accounts:\n  - name: chatgpt # renewed in place\n    type: openai-responses\n    auth_file: chatgpt.auth.json\n"
			},
			golden: "login-relogin-same.golden", wantErr: []string{"renewed the login of account chatgpt\n"}, wantPolls: 1},
		{name: "denied", config: cmdtest.CommentedConfig, args: []string{"chatgpt", "--device"},
			setup: func(_ *testing.T, f *logintest.Issuer, _ string) string { f.Deny = true; return "" },
			want:  cmdutil.ExitFailure, wantErr: []string{"sign-in was denied: access_denied: The user declined the sign-in.", "approve the sign-in"}, wantPolls: 1},
		{name: "timeout", config: cmdtest.CommentedConfig, args: []string{"chatgpt", "--device", "--timeout", "12s"},
			setup: func(_ *testing.T, f *logintest.Issuer, _ string) string { f.Pending = 1000; return "" },
			want:  cmdutil.ExitFailure, wantErr: []string{"sign-in timed out: the code was not entered within 12s", "for a new code"},
			wantPolls: 4, wantSlept: []time.Duration{5 * time.Second, 5 * time.Second, 2 * time.Second}},
		{name: "same ChatGPT account under another name", args: []string{"second", "--device"},
			setup: func(t *testing.T, f *logintest.Issuer, dir string) string {
				f.AccountID = "acct-from-claim-0001"
				p := cmdtest.WriteFile(t, dir, "codex/auth.json", cmdtest.ChatGPTAuthJSON(t), 0o600)
				return fmt.Sprintf("accounts:\n  - name: first\n    type: openai-responses\n    auth_file: %s\n", p)
			},
			want: cmdutil.ExitFailure, wantErr: []string{`ChatGPT account acct...0001 is already signed in as account "first"`, "proxy accounts login first"}, wantPolls: 1},
		{name: "an API-key account's name", config: cmdtest.CommentedConfig, args: []string{"work", "--device"},
			want: cmdutil.ExitFailure, wantErr: []string{`already has account "work" of type openai`}},
		{name: "a name that is no file name", config: cmdtest.CommentedConfig, args: []string{"my/acct", "--device"},
			want: cmdutil.ExitFailure, wantErr: []string{"may hold only letters"}},
		{name: "a hidden file name", config: cmdtest.CommentedConfig, args: []string{".x", "--device"},
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
				cmdtest.WriteFile(t, dir, "proxy.yaml", config, 0o640)
			}
			env := map[string]string{"HOME": filepath.Join(dir, "home"), "PROXY_OAUTH_ISSUER": f.URL}
			r := &loginRun{issuer: f, clock: logintest.NewClock(cmdtest.TestClock)}
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
			cmdtest.AssertGolden(t, tt.golden, string(got))
			if tt.output != "" {
				cmdtest.AssertGolden(t, tt.output, cmdtest.Stable(stderr, dir))
			}
			assertLoginAuthFile(t, authPath, f.AccountID, r.clock.Now())
			if code, _, stderr := cmdtest.RunWith(t, env, "config", "validate", "-c", cfgPath); code != 0 {
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
	cfgPath := cmdtest.WriteFile(t, dir, "proxy.yaml", cmdtest.CommentedConfig, 0o600)
	env := map[string]string{"HOME": filepath.Join(dir, "home"), "PROXY_OAUTH_ISSUER": f.URL}
	forged := make(chan int, 1)
	r := &loginRun{issuer: f, clock: logintest.NewClock(cmdtest.TestClock), realSleep: true}
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
	cmdtest.AssertGolden(t, "login-device.golden", string(got)) // the same edit as the device flow
	assertLoginAuthFile(t, filepath.Join(dir, "chatgpt.auth.json"), f.AccountID, cmdtest.TestClock)
}

func TestAccountsLoginUnreachableIssuer(t *testing.T) {
	dir := t.TempDir()
	dead := "http://" + cmdtest.ClosedAddr(t)
	cfgPath := cmdtest.WriteFile(t, dir, "proxy.yaml", cmdtest.CommentedConfig+"oauth:\n  issuer: "+dead+"\n", 0o600)
	r := &loginRun{clock: logintest.NewClock(cmdtest.TestClock)}
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
