package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/viper"
)

func TestCheckPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix mode bits")
	}
	const (
		secret = "sk-literal-0123456789"
		acct   = "accounts:\n  - {name: a, type: openai, base_url: https://x.example/v1, api_key: %s}\n"
	)
	chatgpt := "accounts:\n  - {name: c, type: openai-responses, auth_file: auth.json}\n"
	tests := []struct {
		name     string
		config   string
		mode     os.FileMode
		authMode os.FileMode // 0: no auth file written
		want     []string    // substrings, one entry per expected warning
	}{
		{name: "0600 with a literal key", config: strings.Replace(acct, "%s", secret, 1), mode: 0o600},
		{name: "0644 with a literal key", config: strings.Replace(acct, "%s", secret, 1), mode: 0o644,
			want: []string{"holds secrets (accounts[0].api_key) and is readable by its group and all other users (mode 0644): run chmod 600 DIR/proxy.yaml"}},
		{name: "0640 with a literal key", config: strings.Replace(acct, "%s", secret, 1), mode: 0o640,
			want: []string{"readable by its group (mode 0640): run chmod 600 DIR/proxy.yaml"}},
		{name: "0604 with a literal key", config: strings.Replace(acct, "%s", secret, 1), mode: 0o604,
			want: []string{"readable by all other users (mode 0604)"}},
		{name: "0644 with only ${VAR}", config: strings.Replace(acct, "%s", `"${KEY}"`, 1), mode: 0o644},
		{name: "0644 with two ${VAR}s", config: strings.Replace(acct, "%s", `"${KEY}${KEY}"`, 1), mode: 0o644},
		{name: "0644 with a key partly literal", config: strings.Replace(acct, "%s", `"sk-${KEY}"`, 1), mode: 0o644,
			want: []string{"(accounts[0].api_key)"}},
		{name: "0644 without secrets", config: "listen: 127.0.0.1:9000\n", mode: 0o644},
		{name: "0644 with a literal client key", config: "client_keys:\n  - {name: laptop, key: " + secret + "}\n", mode: 0o644,
			want: []string{"(client_keys[0].key)"}},
		{name: "0644 with ${VAR} client key", config: "client_keys:\n  - {name: laptop, key: \"${KEY}\"}\n", mode: 0o644},
		{name: "0644 with a redis password", config: "redis:\n  url: redis://:" + secret + "@127.0.0.1:6379/0\n", mode: 0o644,
			want: []string{"(redis.url)"}},
		{name: "0644 with a redis password from ${VAR}", config: "redis:\n  url: redis://:${KEY}@127.0.0.1:6379/0\n", mode: 0o644},
		{name: "0644 with a redis url without password", config: "redis:\n  url: redis://127.0.0.1:6379/0\n", mode: 0o644},
		{name: "0644 with a proxy_url password", config: strings.Replace(acct, "%s", `"${KEY}", proxy_url: "socks5://u:`+secret+`@127.0.0.1:1080"`, 1), mode: 0o644,
			want: []string{"(accounts[0].proxy_url)"}},
		{name: "0644 with a proxy_url password from ${VAR}", config: strings.Replace(acct, "%s", `"${KEY}", proxy_url: "http://u:${KEY}@127.0.0.1:3128"`, 1), mode: 0o644},
		{name: "0644 with a proxy_url without password", config: strings.Replace(acct, "%s", `"${KEY}", proxy_url: "socks5://127.0.0.1:1080"`, 1), mode: 0o644},
		{name: "0644 with inline tokens", config: "accounts:\n  - name: c\n    type: openai-responses\n    access_token: " + secret + "\n    refresh_token: " + secret + "\n    account_id: acct\n", mode: 0o644,
			want: []string{"(accounts[0].access_token, accounts[0].refresh_token)"}},
		{name: "0644 with a literal key in an anchor", config: "x-common: &common\n  type: openai\n  api_key: " + secret + "\naccounts:\n  - <<: *common\n    name: a\n    base_url: https://x.example/v1\n", mode: 0o644,
			want: []string{"(x-common.api_key)"}},
		{name: "auth file 0644", config: chatgpt, mode: 0o600, authMode: 0o644,
			want: []string{"auth file DIR/auth.json of account c holds its tokens and is readable by its group and all other users (mode 0644): run chmod 600 DIR/auth.json"}},
		{name: "auth file 0600", config: chatgpt, mode: 0o644, authMode: 0o600},
		{name: "auth file and config both open", config: strings.Replace(acct, "%s", secret, 1) + "  - {name: c, type: openai-responses, auth_file: auth.json}\n", mode: 0o644, authMode: 0o640,
			want: []string{"config DIR/proxy.yaml holds secrets", "auth file DIR/auth.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, filepath.Join(dir, "proxy.yaml"), tt.config)
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			if tt.authMode != 0 {
				auth := writeFile(t, filepath.Join(dir, "auth.json"), chatGPTAuth)
				if err := os.Chmod(auth, tt.authMode); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(viper.New(), path, env{"KEY": "sk-from-env-0123456789"}.get)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			ws := CheckPermissions(cfg)
			if len(ws) != len(tt.want) {
				t.Fatalf("got %d warnings, want %d: %v", len(ws), len(tt.want), ws)
			}
			for i, w := range ws {
				want := strings.ReplaceAll(tt.want[i], "DIR", dir)
				if !strings.Contains(w.Message, want) {
					t.Errorf("warning %q\nwant it to contain %q", w.Message, want)
				}
				if !strings.HasPrefix(w.Message, "config "+w.Path) && !strings.HasPrefix(w.Message, "auth file "+w.Path) {
					t.Errorf("warning %q does not start with its file %s", w.Message, w.Path)
				}
				if strings.Contains(w.Message, secret) || strings.Contains(w.Message, "sk-from-env") {
					t.Errorf("warning reveals a secret: %q", w.Message)
				}
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "plain", in: "/home/me/.config/proxy/config.yaml", want: "/home/me/.config/proxy/config.yaml"},
		{name: "space", in: "/home/me/my proxy/config.yaml", want: "'/home/me/my proxy/config.yaml'"},
		{name: "quote", in: "/tmp/it's.yaml", want: `'/tmp/it'\''s.yaml'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shellQuote(tt.in); got != tt.want {
				t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
