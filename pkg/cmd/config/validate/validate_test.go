package validate_test

import (
	"os"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		config string // "" : no file at all
		mode   os.FileMode
		env    map[string]string
		want   int
		golden string // stdout+stderr
	}{
		{name: "valid", config: "accounts:\n  - {name: a, type: openai, base_url: https://x.example/v1, api_key: k}\n  - {name: b, type: openai, base_url: https://y.example/v1, api_key: k}\n",
			golden: "config-validate-ok.golden"},
		{name: "every problem with its line", config: "listen: nowhere\naccounts:\n  - name: a\n    type: opnai\n    wieght: 2\n  - name: a\n    type: openai\n    api_key: ${UNSET_KEY}\n",
			want: cmdutil.ExitConfigError, golden: "config-validate-broken.golden"},
		{name: "no config file", want: cmdutil.ExitConfigError, golden: "config-validate-none.golden"},
		{name: "literal secrets readable by others", config: "client_keys:\n  - {name: laptop, key: pk-literal-0123456789}\naccounts:\n  - {name: a, type: openai, base_url: https://x.example/v1, api_key: sk-literal-0123456789}\n  - {name: b, type: openai, base_url: https://y.example/v1, api_key: \"${KEY_B}\"}\n",
			mode: 0o644, env: map[string]string{"KEY_B": "sk-env-0123456789"}, golden: "config-validate-readable.golden"},
		{name: "only ${VAR} secrets readable by others", config: "accounts:\n  - {name: a, type: openai, base_url: https://x.example/v1, api_key: \"${KEY_A}\"}\n  - {name: b, type: openai, base_url: https://y.example/v1, api_key: \"${KEY_A}\"}\n",
			mode: 0o644, env: map[string]string{"KEY_A": "sk-env-0123456789"}, golden: "config-validate-ok.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// HOME without a config and no PROXY_CONFIG: only --config
			// finds a file (the package directory has no proxy.yaml).
			env := map[string]string{"HOME": dir}
			for k, v := range tt.env {
				env[k] = v
			}
			args := []string{"config", "validate"}
			if tt.config != "" {
				path := cmdtest.WriteFile(t, dir, "proxy.yaml", tt.config, 0o600)
				if tt.mode != 0 {
					// Chmod, not the create mode: the umask would mask it.
					if err := os.Chmod(path, tt.mode); err != nil {
						t.Fatal(err)
					}
				}
				args = append(args, "--config", path)
			}
			code, stdout, stderr := cmdtest.RunWith(t, env, args...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d", code, tt.want)
			}
			cmdtest.AssertGolden(t, tt.golden, cmdtest.Stable("stdout:\n"+stdout+"stderr:\n"+stderr, dir))
			if strings.Contains(stdout+stderr, "-literal-") || strings.Contains(stdout+stderr, "sk-env-") {
				t.Errorf("output reveals a secret:\n%s%s", stdout, stderr)
			}
		})
	}
}
