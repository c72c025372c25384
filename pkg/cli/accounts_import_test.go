package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
)

// chatgptAuthJSON is a Codex auth.json after a ChatGPT login whose account
// id is only in the id_token's claims, as some Codex versions wrote it.
func chatgptAuthJSON(t *testing.T) string {
	idToken := codexauthtest.JWT(map[string]any{"email": "someone@example.com",
		"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-from-claim-0001"}})
	b, _ := json.Marshal(map[string]any{"auth_mode": "chatgpt", "OPENAI_API_KEY": nil,
		"tokens":       map[string]any{"id_token": idToken, "access_token": codexauthtest.JWT(map[string]any{"exp": 4102444800}), "refresh_token": "rt-fake"},
		"last_refresh": "2026-03-04T12:00:00Z"})
	return string(b)
}

const apiKeyAuthJSON = `{"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-chatgpt", "tokens": null}`

// commentedConfig is a user's file: comments everywhere, blank lines, a
// commented-out option under the last account.
const commentedConfig = `# my proxy
listen: 127.0.0.1:8787   # loopback only

accounts:
  # the work key
  - name: work
    type: openai
    base_url: https://api.example.com/v1
    api_key: sk-inline-0123456789abcdef
    weight: 2

  - name: spare   # rarely used
    type: openai
    base_url: https://api.example.com/v1
    api_key: sk-inline-0123456789abcdef
    # models: ["gpt-5*"]

# sessions last long
sessions:
  ttl: 2h
`

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
		{name: "keeps comments and order", config: commentedConfig, args: []string{"--name", "chatgpt"}, golden: "import-commented.golden"},
		{name: "creates the config", args: []string{"--name", "chatgpt", "--weight", "3"}, golden: "import-created.golden"},
		{name: "empty flow list", config: "listen: 127.0.0.1:8787\naccounts: [] # none yet\n", args: []string{"--name", "chatgpt"}, golden: "import-flow.golden"},
		{name: "no accounts key", config: "# just a listen\nlisten: 127.0.0.1:8787\n", args: []string{"--name", "chatgpt"}, golden: "import-nokey.golden"},
		{name: "copy", config: commentedConfig, args: []string{"--name", "chatgpt", "--copy"}, golden: "import-copy.golden"},
		{name: "refuses an API-key login", config: commentedConfig, args: []string{"--name", "chatgpt"}, authJSON: apiKeyAuthJSON,
			want: cmdutil.ExitFailure, wantErr: "is not a ChatGPT login: no ChatGPT tokens"},
		{name: "refuses a duplicate name", config: commentedConfig, args: []string{"--name", "spare"},
			want: cmdutil.ExitFailure, wantErr: `already has an account named "spare"`},
		{name: "requires a name", config: commentedConfig, want: cmdutil.ExitFailure, wantErr: "--name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			home := filepath.Join(dir, "home")
			auth := tt.authJSON
			if auth == "" {
				auth = chatgptAuthJSON(t)
			}
			writeFile(t, home, ".codex/auth.json", auth, 0o600)
			cfgPath := filepath.Join(dir, "proxy.yaml")
			if tt.config != "" {
				writeFile(t, dir, "proxy.yaml", tt.config, 0o640)
			}
			env := map[string]string{"HOME": home}
			code, stdout, stderr := runWith(t, env, append([]string{"accounts", "import-codex", "--config", cfgPath}, tt.args...)...)
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
			assertGolden(t, tt.golden, string(got))
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
			if code, _, stderr := runWith(t, env, "config", "validate", "-c", cfgPath); code != 0 {
				t.Errorf("the result does not validate: %s", stderr)
			}
		})
	}
}

func TestAccountsImportCodexCopyIsPrivate(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	writeFile(t, home, "codex/auth.json", chatgptAuthJSON(t), 0o644)
	cfgPath := writeFile(t, dir, "proxy.yaml", commentedConfig, 0o600)
	env := map[string]string{"HOME": home, "CODEX_HOME": filepath.Join(home, "codex")}
	if code, _, stderr := runWith(t, env, "accounts", "import-codex", "-c", cfgPath, "--name", "c", "--copy"); code != 0 {
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
	if code, _, _ := runWith(t, env, "accounts", "import-codex", "-c", cfgPath, "--name", "c", "--copy"); code != cmdutil.ExitFailure {
		t.Errorf("second import exit code %d, want %d", code, cmdutil.ExitFailure)
	}
}
