package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/codex/config"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// codexLoginJSON is a Codex auth.json after `codex login` (fake tokens).
const codexLoginJSON = `{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token":"ID","access_token":"ACCESS","refresh_token":"rt-fake","account_id":"acct-1"},"last_refresh":"2026-03-04T12:00:00Z"}`

// TestCodexConfigPrints: the block for this proxy's address, authenticated
// the way that loses least: the Codex login when there are no client_keys
// or when that login is one of the proxy's accounts, else a client key
// from PROXY_API_KEY, else nothing; a note says what the user must do.
func TestCodexConfigPrints(t *testing.T) {
	const keys = "client_keys:\n  - name: laptop\n    key: ${K1}\n  - name: ci\n    key: ${K2}\n"
	tests := []struct {
		name     string
		config   string
		login    bool // CODEX_HOME has a ChatGPT login
		golden   string
		wantNote string
	}{
		{name: "no client keys, Codex signed in", config: "listen: 127.0.0.1:8787\n", login: true, golden: "codex-config.golden"},
		{name: "no client keys, no Codex login", config: "listen: 127.0.0.1:8787\n", golden: "codex-config-nologin.golden",
			wantNote: "note: no ChatGPT login in TMP/codex/auth.json: after `codex login`, run this again"},
		{name: "client keys on every interface", config: "listen: 0.0.0.0:9000\n" + keys, login: true, golden: "codex-config-keys.golden",
			wantNote: "note: export PROXY_API_KEY=<the key of one of the proxy's client_keys: laptop, ci> in the shell that runs codex"},
		{name: "client keys, Codex's login is an account", login: true, golden: "codex-config.golden",
			config:   "listen: 127.0.0.1:8787\n" + keys + "accounts:\n  - name: mine\n    type: openai-responses\n    auth_file: ${CODEX_HOME}/auth.json\n",
			wantNote: "note: Codex's login (TMP/codex/auth.json) is the proxy's account mine: the proxy accepts its token, no client key needed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := cmdtest.WriteFile(t, dir, "proxy.yaml", tc.config, 0o600)
			if tc.login {
				cmdtest.WriteFile(t, dir, "codex/auth.json", codexLoginJSON, 0o600)
			}
			env := map[string]string{"K1": "key-one-0123456789", "K2": "key-two-0123456789", "CODEX_HOME": filepath.Join(dir, "codex")}
			code, stdout, stderr := cmdtest.RunWith(t, env, "codex", "config", "-c", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			cmdtest.AssertGolden(t, tc.golden, stdout)
			if got := strings.TrimSuffix(cmdtest.Stable(stderr, dir), "\n"); !strings.HasPrefix(got, tc.wantNote) || (tc.wantNote == "" && got != "") {
				t.Errorf("stderr %q, want the note %q", got, tc.wantNote)
			}
			if strings.Contains(stdout+stderr, "key-one") {
				t.Errorf("a client key was printed")
			}
			if _, err := os.Stat(filepath.Join(dir, "codex", "config.toml")); err == nil {
				t.Errorf("printing wrote config.toml")
			}
		})
	}
}

// TestReadmeCodexBlockIsTheCommandsOutput: the README's provider block (the
// one the e2e test runs the real Codex CLI with) is what `proxy codex
// config` prints for the default listen address, so neither drifts.
func TestReadmeCodexBlockIsTheCommandsOutput(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- codex-provider:start -->", "<!-- codex-provider:end -->"
	s := string(readme)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %s ... %s section", start, end)
	}
	section := s[i+len(start) : j]
	a, b := strings.Index(section, "```toml\n"), strings.LastIndex(section, "```")
	if a < 0 || b <= a {
		t.Fatalf("the README section has no ```toml block:\n%s", section)
	}
	got := section[a+len("```toml\n") : b]
	if want := config.CodexProviderBlock("http://127.0.0.1:8787/v1", cmdutil.CodexAuthLogin); got != want {
		t.Errorf("README block differs from `proxy codex config`:\n got:\n%s\nwant:\n%s", got, want)
	}
}

// commentedCodexConfig is a user's config.toml with comments everywhere, a
// multi-line array whose lines start with "[", a multi-line string, tables
// before and after, and a profile with its own model_provider.
const commentedCodexConfig = `# my Codex settings
model = "gpt-5.5"   # the default model
notify = [
  ["notify-send", "codex"], # a nested array: not a table header
]
developer_instructions = """
[not a header] inside a string
"""

# projects I trust
[projects."/home/me/src"]
trust_level = "trusted"

[profiles.fast]
model_provider = "openai"  # this profile keeps its own provider
model = "gpt-5-mini"

# MCP servers
[mcp_servers.docs]
command = "docs-mcp"
`

// oldProviderConfig has an older provider table (the wrong name, another
// port, an env_key the proxy no longer wants) with the user's own keys and
// comments in it, and model_provider set elsewhere.
// newNoKeysBlock is what `codex config --write` wrote for a proxy without
// client keys and a Codex signed in.
const newNoKeysBlock = `# Codex CLI through the proxy; ` + "`proxy codex config --write`" + ` keeps this up to date.
model_provider = "proxy"
chatgpt_base_url = "http://127.0.0.1:8787/backend-api/" # with codex login: /status shows what the pool has left

[model_providers.proxy]
name = "OpenAI"
base_url = "http://127.0.0.1:8787/v1"
wire_api = "responses"
supports_websockets = true
requires_openai_auth = true
`

const oldProviderConfig = `model_provider = "openai" # switched back and forth
model = "gpt-5.5"

[model_providers.proxy]
# my local relay
name = "Local proxy"
base_url = "http://127.0.0.1:8080/v1"
env_key = "PROXY_API_KEY"
request_max_retries = 2 # mine
wire_api = "responses"
stream_idle_timeout_ms = 600000

# keep me
[tui]
notifications = true
`

// TestCodexConfigWrite: --write adds or updates the provider and keeps every
// other byte of the file; a second run changes nothing.
func TestCodexConfigWrite(t *testing.T) {
	tests := []struct {
		name     string
		existing *string // nil: no config.toml yet
		crlf     bool
		keys     bool
		golden   string
		wantMsg  string
	}{
		{name: "no file yet", golden: "codex-write-new.golden", wantMsg: "added TMP/codex/config.toml: [model_providers.proxy] added; model_provider = \"proxy\" added"},
		{name: "commented config without the provider", existing: ptr(commentedCodexConfig), golden: "codex-write-commented.golden",
			wantMsg: "added TMP/codex/config.toml: [model_providers.proxy] added; model_provider = \"proxy\" added"},
		{name: "older provider table", existing: ptr(oldProviderConfig), golden: "codex-write-old.golden",
			wantMsg: `updated TMP/codex/config.toml: [model_providers.proxy] name, base_url, env_key, supports_websockets, requires_openai_auth set; model_provider "openai" -> "proxy"`},
		{name: "older provider table, client keys", existing: ptr(oldProviderConfig), keys: true, golden: "codex-write-old-keys.golden",
			wantMsg: `updated TMP/codex/config.toml: [model_providers.proxy] name, base_url, supports_websockets set; model_provider "openai" -> "proxy"`},
		{name: "client keys now: the proxy's chatgpt_base_url is commented out", existing: ptr(newNoKeysBlock), keys: true, golden: "codex-write-keys-after-login.golden",
			wantMsg: `updated TMP/codex/config.toml: [model_providers.proxy] requires_openai_auth, env_key set; chatgpt_base_url set`},
		{name: "CRLF line ends", existing: ptr(strings.ReplaceAll(commentedCodexConfig, "\n", "\r\n")), crlf: true, golden: "codex-write-crlf.golden",
			wantMsg: "added TMP/codex/config.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			proxyYAML := "listen: 127.0.0.1:8787\n"
			if tc.keys {
				proxyYAML += "client_keys:\n  - name: laptop\n    key: key-one-0123456789\n"
			}
			cfg := cmdtest.WriteFile(t, dir, "proxy.yaml", proxyYAML, 0o600)
			target := filepath.Join(dir, "codex", "config.toml")
			if tc.existing != nil {
				cmdtest.WriteFile(t, dir, "codex/config.toml", *tc.existing, 0o640)
			}
			cmdtest.WriteFile(t, dir, "codex/auth.json", codexLoginJSON, 0o600)
			env := map[string]string{"CODEX_HOME": filepath.Join(dir, "codex")}

			code, stdout, stderr := cmdtest.RunWith(t, env, "codex", "config", "--write", "-c", cfg)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if stdout != "" {
				t.Errorf("--write printed to stdout: %s", stdout)
			}
			if first := strings.SplitN(cmdtest.Stable(stderr, dir), "\n", 2)[0]; !strings.HasPrefix(first, tc.wantMsg) {
				t.Errorf("message %q, want %q", first, tc.wantMsg)
			}
			got, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			cmdtest.AssertGolden(t, tc.golden, string(got))
			if tc.crlf && strings.Count(string(got), "\n") != strings.Count(string(got), "\r\n") {
				t.Errorf("a line lost its CRLF end")
			}
			fi, _ := os.Stat(target)
			wantMode := os.FileMode(0o600)
			if tc.existing != nil {
				wantMode = 0o640
			}
			if fi.Mode().Perm() != wantMode {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), wantMode)
			}
			if tc.existing != nil {
				assertKeptOutsideProvider(t, *tc.existing, string(got))
			}

			// Once more: nothing to do, not a byte touched.
			code, _, stderr = cmdtest.RunWith(t, env, "codex", "config", "--write", "-c", cfg)
			again, _ := os.ReadFile(target)
			if code != 0 || !strings.HasPrefix(cmdtest.Stable(stderr, dir), "unchanged TMP/codex/config.toml") || string(again) != string(got) {
				t.Errorf("second --write: exit %d, %q, changed=%v", code, stderr, string(again) != string(got))
			}
		})
	}
}

// assertKeptOutsideProvider checks that every line of before outside the
// provider table and the model_provider line is in after, in order.
func assertKeptOutsideProvider(t *testing.T, before, after string) {
	t.Helper()
	afterLines := strings.Split(after, "\n")
	k := 0
	inTable := false
	for _, l := range strings.Split(strings.TrimSuffix(before, "\n"), "\n") {
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "[") {
			inTable = trim == "[model_providers.proxy]"
		}
		managed := strings.HasPrefix(trim, "model_provider =") && !strings.Contains(l, "this profile") || strings.HasPrefix(trim, "chatgpt_base_url =")
		if inTable || managed {
			continue
		}
		for k < len(afterLines) && afterLines[k] != l {
			k++
		}
		if k == len(afterLines) {
			t.Errorf("line %q of the original is gone or out of order", l)
			return
		}
		k++
	}
}

// TestCodexConfigWriteRefuses: a file the line editor cannot safely edit
// is left alone, with a reason and the way out.
func TestCodexConfigWriteRefuses(t *testing.T) {
	tests := []struct {
		name, existing, wantErr string
	}{
		{name: "not TOML", existing: "model = \"gpt-5\n[oops\n", wantErr: "not valid TOML"},
		{name: "provider as an inline table", existing: "model_providers = { proxy = { name = \"x\", base_url = \"http://h/v1\" } }\n", wantErr: "by hand"},
		{name: "provider as dotted keys", existing: "model_providers.proxy.base_url = \"http://h/v1\"\n", wantErr: "by hand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := cmdtest.WriteFile(t, dir, "proxy.yaml", "listen: 127.0.0.1:8787\n", 0o600)
			target := cmdtest.WriteFile(t, dir, "codex/config.toml", tc.existing, 0o600)
			code, _, stderr := cmdtest.RunWith(t, map[string]string{"CODEX_HOME": filepath.Join(dir, "codex")}, "codex", "config", "--write", "-c", cfg)
			if code == 0 || !strings.Contains(stderr, tc.wantErr) || !strings.Contains(stderr, "proxy codex config") {
				t.Errorf("exit %d, stderr %q; want a failure saying %q and how to add the block by hand", code, stderr, tc.wantErr)
			}
			if got, _ := os.ReadFile(target); string(got) != tc.existing {
				t.Errorf("the file was changed:\n%s", got)
			}
		})
	}
}

// TestCodexConfigWriteThroughSymlink: a config.toml kept in a dotfiles
// repository and linked into CODEX_HOME is edited where it lives; the link
// stays a link.
func TestCodexConfigWriteThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	cfg := cmdtest.WriteFile(t, dir, "proxy.yaml", "listen: 127.0.0.1:8787\n", 0o600)
	real := cmdtest.WriteFile(t, dir, "dotfiles/codex.toml", "model = \"gpt-5.5\"\n", 0o600)
	link := filepath.Join(dir, "codex", "config.toml")
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cmdtest.RunWith(t, map[string]string{"CODEX_HOME": filepath.Join(dir, "codex")}, "codex", "config", "--write", "-c", cfg); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("config.toml is no longer a symlink")
	}
	if got, _ := os.ReadFile(real); !strings.Contains(string(got), "[model_providers.proxy]") || !strings.HasPrefix(string(got), "model = \"gpt-5.5\"\n") {
		t.Errorf("the linked file was not edited in place:\n%s", got)
	}
}

func ptr[T any](v T) *T { return &v }
