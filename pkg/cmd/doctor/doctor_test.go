package doctor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/doctor"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/status"
)

const doctorClientKey = "client-key-0123456789abcdef"

// runningProxy answers /_proxy/status as a running proxy with pid 4242
// does, and returns its listen address.
func runningProxy(t *testing.T) string {
	t.Helper()
	doc := status.Document{Version: "v1.2.3", PID: 4242, Accounts: []status.Account{{Name: "api"}, {Name: "chatgpt"}}}
	s := cmdtest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_proxy/status" || r.Header.Get("Authorization") != "Bearer "+doctorClientKey {
			http.Error(w, `{"error":{"message":"no"}}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
	return strings.TrimPrefix(s.URL, "http://")
}

// codexConfigTOML is a Codex config.toml whose provider is the given one.
func codexConfigTOML(name, baseURL, envKey string) string {
	return fmt.Sprintf(`model = "gpt-5-codex"
model_provider = "proxy"

[model_providers.proxy]
name = %q
base_url = %q
wire_api = "responses"
env_key = %q
`, name, baseURL, envKey)
}

// doctorHealthy is a setup with nothing wrong: two accounts that answer, a
// Redis that answers, a proxy running, and Codex pointed at it with a
// client key.
func doctorHealthy(t *testing.T, dir string) (cfgPath string, env map[string]string) {
	api := cmdtest.Serve(t, fakeupstream.New("api", fakeupstream.WithAPIKey(cmdtest.TestAPIKey)))
	chat := cmdtest.Serve(t, fakeupstream.New("chat", fakeupstream.WithChatGPT(cmdtest.TestAccessToken, cmdtest.TestAccountID), fakeupstream.WithClock(cmdtest.FixedNow)))
	mr := miniredis.RunT(t)
	listen := runningProxy(t)
	cfgPath = cmdtest.WriteFile(t, dir, "proxy.yaml", fmt.Sprintf(`listen: %s
redis:
  url: redis://%s/0
client_keys:
  - {name: laptop, key: "${PROXY_CLIENT_KEY}"}
accounts:
  - {name: api, type: openai, base_url: %s/v1, api_key: "${API_KEY}"}
  - {name: chatgpt, type: openai-responses, base_url: %s/backend-api/codex, access_token: "${ACCESS_TOKEN}", account_id: %s}
`, listen, mr.Addr(), api.URL, chat.URL, cmdtest.TestAccountID), 0o600)
	cmdtest.WriteFile(t, dir, "codex/config.toml", codexConfigTOML("OpenAI", "http://"+listen+"/v1", "PROXY_API_KEY"), 0o600)
	env = map[string]string{"PROXY_CLIENT_KEY": doctorClientKey, "PROXY_API_KEY": doctorClientKey,
		"CODEX_HOME": filepath.Join(dir, "codex"), "HOME": dir}
	for k, v := range cmdtest.TestEnv {
		env[k] = v
	}
	return cfgPath, env
}

// doctorBroken is a setup with one of each problem: a key refused, an
// upstream down, a ChatGPT login expired with nothing to renew it, a
// readable config holding a literal key, a Redis refusing its password,
// no proxy running, and a Codex provider with the wrong name, no /v1 and
// its key variable unset.
func doctorBroken(t *testing.T, dir string) (cfgPath string, env map[string]string) {
	api := cmdtest.Serve(t, fakeupstream.New("api", fakeupstream.WithAPIKey(cmdtest.TestAPIKey)))
	mr := miniredis.RunT(t)
	mr.RequireAuth("right-password")
	listen := cmdtest.ClosedAddr(t)
	expired := codexauthtest.JWT(map[string]any{"exp": cmdtest.TestClock.Add(-time.Hour).Unix()})
	cfgPath = cmdtest.WriteFile(t, dir, "proxy.yaml", fmt.Sprintf(`listen: %s
redis:
  url: redis://:wrong-password@%s/0
client_keys:
  - {name: laptop, key: "${PROXY_CLIENT_KEY}"}
accounts:
  - {name: api, type: openai, base_url: %s/v1, api_key: "${API_KEY}"}
  - {name: bad-key, type: openai, base_url: %s/v1, api_key: sk-literal-0123456789abcdef}
  - {name: down, type: openai, base_url: http://%s/v1, api_key: "${API_KEY}"}
  - {name: chatgpt, type: openai-responses, access_token: %s, account_id: %s}
  - {name: off, type: openai, base_url: %s/v1, api_key: "${API_KEY}", enabled: false}
`, listen, mr.Addr(), api.URL, api.URL, cmdtest.ClosedAddr(t), expired, cmdtest.TestAccountID, api.URL), 0o644)
	cmdtest.WriteFile(t, dir, "codex/config.toml", codexConfigTOML("proxy", "http://"+listen, "PROXY_API_KEY"), 0o600)
	env = map[string]string{"PROXY_CLIENT_KEY": doctorClientKey, "CODEX_HOME": filepath.Join(dir, "codex"), "HOME": dir}
	for k, v := range cmdtest.TestEnv {
		env[k] = v
	}
	return cfgPath, env
}

func TestDoctorGolden(t *testing.T) {
	tests := []struct {
		name, golden string
		setup        func(t *testing.T, dir string) (string, map[string]string)
		want         int
	}{
		{"healthy", "doctor-healthy.golden", doctorHealthy, cmdutil.ExitOK},
		{"broken", "doctor-broken.golden", doctorBroken, cmdutil.ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfgPath, env := tt.setup(t, dir)
			ios, out, errOut := cmdtest.IO(env, false)
			err := doctor.RunDoctor(context.Background(), &doctor.DoctorOptions{IO: ios, ConfigPath: cfgPath, Timeout: 10 * time.Second, Now: cmdtest.FixedNow})
			if code := cmdtest.ExitCode(ios.ErrOut, err); code != tt.want {
				t.Errorf("exit code %d, want %d; stderr %s", code, tt.want, errOut)
			}
			cmdtest.AssertGolden(t, tt.golden, cmdtest.Stable(out.String(), dir))
			for _, secret := range []string{cmdtest.TestAPIKey, cmdtest.TestAccessToken, doctorClientKey, "wrong-password", "sk-literal-0123456789abcdef"} {
				if strings.Contains(out.String()+errOut.String(), secret) {
					t.Errorf("output reveals a secret (%.6s...)", secret)
				}
			}
		})
	}
}

func TestDoctorConfigErrors(t *testing.T) {
	tests := []struct {
		name, config string
		want         string
	}{
		{"no config file", "", "FAIL  config   no config file found"},
		{"invalid config", "accounts:\n  - {name: x, type: opnai}\n", "FAIL  config   TMP/proxy.yaml:2: accounts[0].type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"HOME": dir, "XDG_CONFIG_HOME": dir}
			args := []string{"doctor"}
			if tt.config != "" {
				args = append(args, "--config", cmdtest.WriteFile(t, dir, "proxy.yaml", tt.config, 0o600))
			}
			code, stdout, _ := cmdtest.RunWith(t, env, args...)
			if code != cmdutil.ExitConfigError || !strings.Contains(cmdtest.Stable(stdout, dir), tt.want) {
				t.Errorf("exit %d, stdout %q; want exit %d and %q", code, stdout, cmdutil.ExitConfigError, tt.want)
			}
		})
	}
}

func TestPointsAt(t *testing.T) {
	tests := []struct {
		name, baseURL, listen, want string
	}{
		{"exact", "http://127.0.0.1:8787/v1", "127.0.0.1:8787", ""},
		{"trailing slash", "http://127.0.0.1:8787/v1/", "127.0.0.1:8787", ""},
		{"localhost for loopback", "http://localhost:8787/v1", "127.0.0.1:8787", ""},
		{"loopback for a wildcard listen", "http://127.0.0.1:8787/v1", "0.0.0.0:8787", ""},
		{"no /v1", "http://127.0.0.1:8787", "127.0.0.1:8787", "the path must be /v1"},
		{"other port", "http://127.0.0.1:9000/v1", "127.0.0.1:8787", "not this proxy's port"},
		{"https", "https://127.0.0.1:8787/v1", "127.0.0.1:8787", "the proxy speaks plain http"},
		{"other host", "http://10.0.0.2:8787/v1", "10.0.0.1:8787", "not this proxy's host"},
		{"not a URL", "127.0.0.1:8787", "127.0.0.1:8787", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := doctor.PointsAt(tt.baseURL, tt.listen); got != tt.want {
				t.Errorf("pointsAt(%q, %q) = %q, want %q", tt.baseURL, tt.listen, got, tt.want)
			}
		})
	}
}
