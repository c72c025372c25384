package cli

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/status"
)

// TestUnknownSubcommand: a typo in a subcommand fails, with the closest
// name, instead of printing the help and exiting 0.
func TestUnknownSubcommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"accounts lst", []string{"accounts", "lst"}, cmdutil.ExitFailure, `unknown command "lst" for "proxy accounts"; did you mean "list"`},
		{"config valdate", []string{"config", "valdate"}, cmdutil.ExitFailure, `unknown command "valdate" for "proxy config"; did you mean "validate"?`},
		{"sessions clr", []string{"sessions", "clr"}, cmdutil.ExitFailure, `unknown command "clr" for "proxy sessions"`},
		{"proxy serv", []string{"serv"}, cmdutil.ExitFailure, `unknown command "serv" for "proxy"; did you mean "serve"?`},
		{"nothing close", []string{"accounts", "frobnicate"}, cmdutil.ExitFailure, "(see `proxy accounts --help`)"},
		{"a group alone shows its help", []string{"accounts"}, cmdutil.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runWith(t, nil, tt.args...)
			if code != tt.want || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.want, tt.wantErr)
			}
			if tt.want == cmdutil.ExitOK && !strings.Contains(stdout, "Available Commands") {
				t.Errorf("no help on stdout: %q", stdout)
			}
		})
	}
}

// TestAccountsTestSuggestsName offers the closest account name for a typo.
func TestAccountsTestSuggestsName(t *testing.T) {
	path := writeFile(t, t.TempDir(), "proxy.yaml", listConfig, 0o600)
	code, _, stderr := runWith(t, testEnv, "accounts", "test", "-c", path, "chatgtp")
	want := `no account named "chatgtp" in ` + path + `; did you mean "chatgpt"? (accounts: api, chatgpt, spare)`
	if code != cmdutil.ExitConfigError || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}

// TestImportCodexWithoutLogin names the missing file once and the ways on.
func TestImportCodexWithoutLogin(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runWith(t, map[string]string{"HOME": dir}, "accounts", "import-codex", "--name", "c", "-c", filepath.Join(dir, "proxy.yaml"))
	want := "error: no Codex login at ~/.codex/auth.json: run `codex login`, set CODEX_HOME, or use `proxy accounts login NAME`\n"
	if code != cmdutil.ExitFailure || stderr != want {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}

// TestAccountsListDemo lists a --demo proxy's own accounts, with or without
// a config of its own, and says they are the demo's.
func TestAccountsListDemo(t *testing.T) {
	url, _ := demoServer(t, "127.0.0.1:0")
	dir := t.TempDir()
	unrelated := writeFile(t, dir, "proxy.yaml", listConfig, 0o600)
	tests := []struct {
		name, config, golden, wantNote string
	}{
		{"no config", "", "accounts-list-demo-piped.golden", "the proxy at " + url + " runs --demo: these are its demo accounts\n"},
		{"an unrelated config", unrelated, "accounts-list-demo-piped.golden", "runs --demo: these are its demo accounts, not the 3 in " + unrelated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": dir, "XDG_CONFIG_HOME": dir}
			for k, v := range testEnv {
				env[k] = v
			}
			args := []string{"accounts", "list", "--addr", url}
			if tt.config != "" {
				args = append(args, "--config", tt.config)
			}
			code, stdout, stderr := runWith(t, env, args...)
			if code != cmdutil.ExitOK || !strings.Contains(stderr, tt.wantNote) {
				t.Errorf("exit %d, stderr %q; want %q", code, stderr, tt.wantNote)
			}
			if strings.Contains(stdout+stderr, "not loaded") || strings.Contains(stderr, "no accounts configured") {
				t.Errorf("the demo's accounts were taken for missing ones:\n%s%s", stdout, stderr)
			}
			assertGolden(t, tt.golden, stable(stdout, dir))
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
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(doc) }))
	path := writeFile(t, t.TempDir(), "proxy.yaml", listConfig, 0o600)
	code, stdout, stderr := runWith(t, testEnv, "accounts", "list", "-c", path, "--addr", srv.URL)
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
