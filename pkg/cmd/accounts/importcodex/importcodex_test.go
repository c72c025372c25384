package importcodex_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

const apiKeyAuthJSON = `{"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-chatgpt", "tokens": null}`

func TestAccountsImportCodex(t *testing.T) {
	tests := []struct {
		name     string
		config   string // "" : no config file yet
		args     []string
		authJSON string
		want     int
		golden   string // the config file afterwards
		wantErr  string
	}{
		{name: "keeps comments and order", config: cmdtest.CommentedConfig, args: []string{"--name", "chatgpt"}, golden: "import-commented.golden"},
		{name: "creates the config", args: []string{"--name", "chatgpt", "--weight", "3"}, golden: "import-created.golden"},
		{name: "empty flow list", config: "listen: 127.0.0.1:8787\naccounts: [] # none yet\n", args: []string{"--name", "chatgpt"}, golden: "import-flow.golden"},
		{name: "no accounts key", config: "# just a listen\nlisten: 127.0.0.1:8787\n", args: []string{"--name", "chatgpt"}, golden: "import-nokey.golden"},
		{name: "copy", config: cmdtest.CommentedConfig, args: []string{"--name", "chatgpt", "--copy"}, golden: "import-copy.golden"},
		{name: "refuses an API-key login", config: cmdtest.CommentedConfig, args: []string{"--name", "chatgpt"}, authJSON: apiKeyAuthJSON,
			want: cmdutil.ExitFailure, wantErr: "is not a ChatGPT login: no ChatGPT tokens"},
		{name: "refuses a duplicate name", config: cmdtest.CommentedConfig, args: []string{"--name", "spare"},
			want: cmdutil.ExitFailure, wantErr: `already has an account named "spare"`},
		{name: "requires a name", config: cmdtest.CommentedConfig, want: cmdutil.ExitFailure, wantErr: "--name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			home := filepath.Join(dir, "home")
			auth := tt.authJSON
			if auth == "" {
				auth = cmdtest.ChatGPTAuthJSON(t)
			}
			cmdtest.WriteFile(t, home, ".codex/auth.json", auth, 0o600)
			cfgPath := filepath.Join(dir, "proxy.yaml")
			if tt.config != "" {
				cmdtest.WriteFile(t, dir, "proxy.yaml", tt.config, 0o640)
			}
			env := map[string]string{"HOME": home}
			code, stdout, stderr := cmdtest.RunWith(t, env, append([]string{"accounts", "import-codex", "--config", cfgPath}, tt.args...)...)
			if code != tt.want {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing (messages go to stderr)", stdout)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.wantErr)
			}
			got, err := os.ReadFile(cfgPath)
			if tt.golden == "" {
				if tt.config != "" && string(got) != tt.config {
					t.Errorf("a refused import changed the config:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cmdtest.AssertGolden(t, tt.golden, string(got))
			if strings.Contains(stderr, "rt-fake") || strings.Contains(string(got), "rt-fake") {
				t.Errorf("a token leaked")
			}
			info, _ := os.Stat(cfgPath)
			wantMode := os.FileMode(0o640)
			if tt.config == "" {
				wantMode = 0o600
			}
			if info.Mode().Perm() != wantMode {
				t.Errorf("config mode %v, want %v", info.Mode().Perm(), wantMode)
			}
			if !strings.Contains(stderr, "acct...0001") || !strings.Contains(stderr, cfgPath) {
				t.Errorf("stderr %q does not name the account id and the file changed", stderr)
			}
			// The result loads, with the new account reading the file.
			if code, _, stderr := cmdtest.RunWith(t, env, "config", "validate", "-c", cfgPath); code != 0 {
				t.Errorf("the result does not validate: %s", stderr)
			}
		})
	}
}

func TestAccountsImportCodexCopyIsPrivate(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	cmdtest.WriteFile(t, home, "codex/auth.json", cmdtest.ChatGPTAuthJSON(t), 0o644)
	cfgPath := cmdtest.WriteFile(t, dir, "proxy.yaml", cmdtest.CommentedConfig, 0o600)
	env := map[string]string{"HOME": home, "CODEX_HOME": filepath.Join(home, "codex")}
	if code, _, stderr := cmdtest.RunWith(t, env, "accounts", "import-codex", "-c", cfgPath, "--name", "c", "--copy"); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	info, err := os.Stat(filepath.Join(dir, "codex-c.auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("copy mode %v, want 0600", info.Mode().Perm())
	}
	// A second import under the same name is refused before the copy is touched.
	if code, _, _ := cmdtest.RunWith(t, env, "accounts", "import-codex", "-c", cfgPath, "--name", "c", "--copy"); code != cmdutil.ExitFailure {
		t.Errorf("second import exit code %d, want %d", code, cmdutil.ExitFailure)
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
		{name: "same ChatGPT account twice", authJSON: cmdtest.ChatGPTAuthJSON,
			config: func(p string) string {
				return "accounts:\n  - name: first\n    type: openai-responses\n    auth_file: " + p + "\n"
			},
			wantErr: `ChatGPT account acct...0001 is already in`},
		{name: "inline account id", authJSON: cmdtest.ChatGPTAuthJSON,
			config: func(string) string {
				return "accounts:\n  - name: first\n    type: openai-responses\n    access_token: x\n    account_id: acct-from-claim-0001\n"
			},
			wantErr: `as account "first"`},
		{name: "opaque access token", authJSON: func(t *testing.T) string {
			var doc map[string]any
			_ = json.Unmarshal([]byte(cmdtest.ChatGPTAuthJSON(t)), &doc)
			doc["tokens"].(map[string]any)["access_token"] = "opaque-access-token"
			b, _ := json.Marshal(doc)
			return string(b)
		}, config: func(string) string { return cmdtest.CommentedConfig }, wantErr: "the access token is not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			authPath := cmdtest.WriteFile(t, dir, "home/.codex/auth.json", tt.authJSON(t), 0o600)
			cfg := tt.config(authPath)
			cfgPath := cmdtest.WriteFile(t, dir, "proxy.yaml", cfg, 0o600)
			code, _, stderr := cmdtest.RunWith(t, map[string]string{"HOME": filepath.Join(dir, "home")}, "accounts", "import-codex", "-c", cfgPath, "--name", "second")
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

// TestImportCodexWithoutLogin names the missing file once and the ways on.
func TestImportCodexWithoutLogin(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := cmdtest.RunWith(t, map[string]string{"HOME": dir}, "accounts", "import-codex", "--name", "c", "-c", filepath.Join(dir, "proxy.yaml"))
	want := "error: no Codex login at ~/.codex/auth.json: run `codex login`, set CODEX_HOME, or use `proxy accounts login NAME`\n"
	if code != cmdutil.ExitFailure || stderr != want {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}
