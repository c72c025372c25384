package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

// chatGPTAuth is a minimal auth.json from a ChatGPT login; the tokens are
// placeholders since config only checks that they are there.
const chatGPTAuth = `{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token":"x","access_token":"fake-access","refresh_token":"fake-refresh","account_id":"acct"},"last_refresh":"2025-08-06T20:41:36Z"}`

const apiKeyAuth = `{"auth_mode":"apikey","OPENAI_API_KEY":"not-a-real-key","tokens":null}`

// env is a fake environment for Load's getenv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// inTempDir makes a temporary directory the working directory, so the
// config can be loaded as "proxy.yaml" and problems read as users see them.
func inTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not Problems", err, err)
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return lines
}

func TestLoadDefaultsWithoutFile(t *testing.T) {
	cfg, err := Load(viper.New(), "", env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen:       DefaultListen,
		Redis:        Redis{KeyPrefix: DefaultKeyPrefix},
		Sessions:     Sessions{TTL: 30 * time.Minute, MoveAfter: DefaultMoveAfter, ItemsTTL: DefaultItemsTTL},
		MaxAttempts:  DefaultMaxAttempts,
		MaxBodyBytes: DefaultMaxBodyBytes,
		Timeouts: Timeouts{Connect: DefaultConnectTimeout, ResponseHeader: DefaultResponseHeaderTimeout, StreamIdle: DefaultStreamIdleTimeout, SlotWait: DefaultSlotWait,
			BodyRead: DefaultBodyReadTimeout, ClientIdle: DefaultClientIdleTimeout, WebSocketIdle: DefaultWebSocketIdle, WebSocketMaxAge: DefaultWebSocketMaxAge},
		Limits: Limits{MaxEventBytes: DefaultMaxEventBytes, BodyMemory: DefaultBodyMemory, WebSocketConnections: DefaultWebSocketConnections,
			WebSocketMessageBytes: DefaultMaxBodyBytes, KeptCompactions: DefaultKeptCompactions},
		OAuth: OAuth{Issuer: DefaultIssuer, TokenURL: DefaultTokenURL, ClientID: DefaultClientID},
	}
	if cfg.Listen != want.Listen || cfg.Redis != want.Redis || cfg.Sessions != want.Sessions ||
		cfg.MaxAttempts != want.MaxAttempts || cfg.MaxBodyBytes != want.MaxBodyBytes || cfg.Timeouts != want.Timeouts || cfg.Limits != want.Limits || cfg.OAuth != want.OAuth ||
		len(cfg.Accounts) != 0 || len(cfg.ClientKeys) != 0 || cfg.Path != "" {
		t.Errorf("Load(\"\") = %+v, want %+v", cfg, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(viper.New(), filepath.Join(t.TempDir(), "absent.yaml"), env{}.get)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want one wrapping os.ErrNotExist", err)
	}
	var ps Problems
	if errors.As(err, &ps) {
		t.Errorf("a missing file is not a validation problem: %v", err)
	}
}

func TestLoadFullFile(t *testing.T) {
	dir := inTempDir(t)
	home := filepath.Join(dir, "home")
	writeFile(t, filepath.Join(home, ".codex", "auth.json"), chatGPTAuth)
	writeFile(t, filepath.Join(dir, "team", "auth.json"), chatGPTAuth)
	path := writeFile(t, filepath.Join(dir, "proxy.yaml"), `
listen: 0.0.0.0:9000
allowed_hosts: [Proxy.Internal., "*.example.com"]
redis:
  url: redis://:pw@localhost:6379/2
  key_prefix: "p2:"
sessions:
  ttl: 1h
client_keys:
  - name: laptop
    key: ${LAPTOP_KEY}
accounts:
  - name: chatgpt-main
    type: openai-responses
    auth_file: ~/.codex/auth.json
    weight: 2
  - name: team
    type: openai-responses
    auth_file: team/auth.json
    base_url: https://example.com/codex/
    weight: 0
    enabled: false
  - name: inline
    type: openai-responses
    access_token: ${INLINE_TOKEN}
    account_id: acct-inline
  - name: coordcode
    type: openai
    base_url: https://coordcode.com/openai
    api_key: ${COORDCODE_KEY}
    models: ["gpt-5*", "o?"]
    enabled: true
`)
	cfg, err := Load(viper.New(), path, env{
		"HOME": home, "LAPTOP_KEY": "lk", "INLINE_TOKEN": "it", "COORDCODE_KEY": "ck",
	}.get)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != path || cfg.Listen != "0.0.0.0:9000" || cfg.Sessions.TTL != time.Hour ||
		cfg.Redis != (Redis{URL: "redis://:pw@localhost:6379/2", KeyPrefix: "p2:"}) {
		t.Errorf("top level: %+v", cfg)
	}
	if !reflect.DeepEqual(cfg.AllowedHosts, []string{"proxy.internal", "*.example.com"}) {
		t.Errorf("AllowedHosts = %q", cfg.AllowedHosts)
	}
	if len(cfg.ClientKeys) != 1 || !reflect.DeepEqual(cfg.ClientKeys[0], ClientKey{Name: "laptop", Key: "lk"}) {
		t.Errorf("ClientKeys = %+v", cfg.ClientKeys)
	}
	want := []Account{
		{Name: "chatgpt-main", Type: TypeOpenAIResponses, BaseURL: DefaultChatGPTBaseURL,
			AuthFile: filepath.Join(home, ".codex", "auth.json"), Weight: 2, Enabled: true, API: APIResponses},
		{Name: "team", Type: TypeOpenAIResponses, BaseURL: "https://example.com/codex",
			AuthFile: filepath.Join(dir, "team", "auth.json"), Weight: 0, Enabled: false, API: APIResponses},
		{Name: "inline", Type: TypeOpenAIResponses, BaseURL: DefaultChatGPTBaseURL,
			AccessToken: "it", AccountID: "acct-inline", Weight: 1, Enabled: true, API: APIResponses},
		{Name: "coordcode", Type: TypeOpenAI, BaseURL: "https://coordcode.com/openai",
			APIKey: "ck", Models: []string{"gpt-5*", "o?"}, Weight: 1, Enabled: true, API: APIResponses},
	}
	if len(cfg.Accounts) != len(want) {
		t.Fatalf("got %d accounts, want %d", len(cfg.Accounts), len(want))
	}
	for i := range want {
		got := cfg.Accounts[i]
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("accounts[%d] =\n %+v\nwant\n %+v", i, got, want[i])
		}
	}
}

// TestLoadWebSocketMessageBytes: the WebSocket's message bound follows
// max_body_bytes unless set; 0 is the default too.
func TestLoadWebSocketMessageBytes(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       int64
	}{
		{"absent", "max_body_bytes: 1048576\n", 1 << 20},
		{"0", "max_body_bytes: 1048576\nlimits:\n  websocket_message_bytes: 0\n", 1 << 20},
		{"set", "max_body_bytes: 1048576\nlimits:\n  websocket_message_bytes: 65536\n", 64 << 10},
		{"equal to max_body_bytes", "max_body_bytes: 1048576\nlimits:\n  websocket_message_bytes: 1048576\n", 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "proxy.yaml"), tt.yaml)
			cfg, err := Load(viper.New(), path, env{}.get)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Limits.WebSocketMessageBytes; got != tt.want {
				t.Errorf("WebSocketMessageBytes = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLoadWeightAndEnabledPresence(t *testing.T) {
	tests := []struct {
		name        string
		fields      string
		wantWeight  int
		wantEnabled bool
	}{
		{name: "both absent", fields: "", wantWeight: 1, wantEnabled: true},
		{name: "weight 0 is standby", fields: "\n    weight: 0", wantWeight: 0, wantEnabled: true},
		{name: "weight 3", fields: "\n    weight: 3", wantWeight: 3, wantEnabled: true},
		{name: "null weight is absent", fields: "\n    weight: ~", wantWeight: 1, wantEnabled: true},
		{name: "enabled false", fields: "\n    enabled: false", wantWeight: 1, wantEnabled: false},
		{name: "enabled true", fields: "\n    enabled: true", wantWeight: 1, wantEnabled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "proxy.yaml"), `
accounts:
  - name: a
    type: openai
    base_url: https://api.openai.com/v1
    api_key: k`+tt.fields+"\n")
			cfg, err := Load(viper.New(), path, env{}.get)
			if err != nil {
				t.Fatal(err)
			}
			if a := cfg.Accounts[0]; a.Weight != tt.wantWeight || a.Enabled != tt.wantEnabled {
				t.Errorf("weight %d enabled %v, want %d %v", a.Weight, a.Enabled, tt.wantWeight, tt.wantEnabled)
			}
		})
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	inTempDir(t)
	path := writeFile(t, "proxy.yaml", "listen: 127.0.0.1:1111\nredis:\n  key_prefix: \"file:\"\nsessions:\n  ttl: 5m\n")
	tests := []struct {
		name string
		env  env
		want Config
	}{
		{
			name: "file only",
			env:  env{},
			want: Config{Listen: "127.0.0.1:1111", Redis: Redis{KeyPrefix: "file:"}, Sessions: Sessions{TTL: 5 * time.Minute, MoveAfter: DefaultMoveAfter, ItemsTTL: DefaultItemsTTL}},
		},
		{
			name: "every key from env",
			env: env{
				"PROXY_LISTEN": "127.0.0.1:2222", "PROXY_REDIS_URL": "redis://localhost:6379",
				"PROXY_REDIS_KEY_PREFIX": "env:", "PROXY_SESSIONS_TTL": "2h",
			},
			want: Config{Listen: "127.0.0.1:2222", Redis: Redis{URL: "redis://localhost:6379", KeyPrefix: "env:"}, Sessions: Sessions{TTL: 2 * time.Hour, MoveAfter: DefaultMoveAfter, ItemsTTL: DefaultItemsTTL}},
		},
		{
			name: "env value is expanded too",
			env:  env{"PROXY_REDIS_URL": "redis://${REDIS_HOST}:6379", "REDIS_HOST": "cache"},
			want: Config{Listen: "127.0.0.1:1111", Redis: Redis{URL: "redis://cache:6379", KeyPrefix: "file:"}, Sessions: Sessions{TTL: 5 * time.Minute, MoveAfter: DefaultMoveAfter, ItemsTTL: DefaultItemsTTL}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(viper.New(), path, tt.env.get)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen != tt.want.Listen || cfg.Redis != tt.want.Redis || cfg.Sessions != tt.want.Sessions {
				t.Errorf("got %+v %+v %+v, want %+v %+v %+v", cfg.Listen, cfg.Redis, cfg.Sessions, tt.want.Listen, tt.want.Redis, tt.want.Sessions)
			}
		})
	}
}

func TestLoadEnvOverrideProblemsNameTheVariable(t *testing.T) {
	inTempDir(t)
	path := writeFile(t, "proxy.yaml", "listen: 127.0.0.1:1111\n")
	_, err := Load(viper.New(), path, env{"PROXY_LISTEN": "nope", "PROXY_SESSIONS_TTL": "soon"}.get)
	got := problemsOf(t, err)
	want := []string{
		`$PROXY_LISTEN: listen: "nope" is not host:port (like 127.0.0.1:8787)`,
		`$PROXY_SESSIONS_TTL: sessions.ttl: "soon" is not a duration (like 30m or 2h)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadSetValueWinsAndIsNotBlamedOnTheFile(t *testing.T) {
	inTempDir(t)
	path := writeFile(t, "proxy.yaml", "listen: 127.0.0.1:1111\n")
	v := viper.New()
	v.Set("listen", "bad") // as a flag bound by the CLI would
	_, err := Load(v, path, env{"PROXY_LISTEN": "127.0.0.1:2222"}.get)
	got := problemsOf(t, err)
	if want := `listen: "bad" is not host:port (like 127.0.0.1:8787)`; len(got) != 1 || got[0] != want {
		t.Errorf("problems %q, want [%q]", got, want)
	}
}

func TestLoadExpansion(t *testing.T) {
	inTempDir(t)
	tests := []struct {
		name    string
		apiKey  string
		env     env
		want    string
		problem string
	}{
		{name: "whole value", apiKey: "${KEY}", env: env{"KEY": "secret"}, want: "secret"},
		{name: "inside a value", apiKey: "pre-${A}-${B}", env: env{"A": "1", "B": "2"}, want: "pre-1-2"},
		{name: "bare dollar kept", apiKey: "a$b$KEY", env: env{"KEY": "x"}, want: "a$b$KEY"},
		{name: "escaped", apiKey: "$${KEY}", env: env{"KEY": "x"}, want: "${KEY}"},
		{name: "unset", apiKey: "${COORDCODE_KEY}", problem: "proxy.yaml:6: accounts[0].api_key: ${COORDCODE_KEY} is not set"},
		{name: "unclosed", apiKey: "${KEY", env: env{"KEY": "x"}, problem: "proxy.yaml:6: accounts[0].api_key: ${ without a closing }"},
		{name: "bad name", apiKey: "${1X}", problem: "proxy.yaml:6: accounts[0].api_key: ${1X} is not a valid variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "proxy.yaml", `accounts:
  - name: a
    type: openai
    base_url: https://api.openai.com/v1
    # the key comes from the environment
    api_key: "`+tt.apiKey+"\"\n")
			cfg, err := Load(viper.New(), path, tt.env.get)
			if tt.problem != "" {
				if got := problemsOf(t, err); len(got) != 1 || got[0] != tt.problem {
					t.Errorf("problems %q, want [%q]", got, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Accounts[0].APIKey; got != tt.want {
				t.Errorf("api_key = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadAuthFileTilde(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, "codex", "auth.json"), chatGPTAuth)
	path := writeFile(t, filepath.Join(t.TempDir(), "proxy.yaml"), `accounts:
  - name: a
    type: openai-responses
    auth_file: ~/codex/auth.json
`)
	cfg, err := Load(viper.New(), path, env{"HOME": home}.get)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	if want := filepath.Join(home, "codex", "auth.json"); a.AuthFile != want {
		t.Errorf("AuthFile = %q, want %q", a.AuthFile, want)
	}
	if a.AccessToken != "" || a.RefreshToken != "" || a.AccountID != "" {
		t.Errorf("tokens were copied from auth_file: %+v", a)
	}
}

func TestStarterLoadsClean(t *testing.T) {
	dir := inTempDir(t)
	home := filepath.Join(dir, "home")
	writeFile(t, filepath.Join(home, ".codex", "auth.json"), chatGPTAuth)
	path := writeFile(t, "proxy.yaml", Starter())
	cfg, err := Load(viper.New(), path, env{"HOME": home, "OPENAI_API_KEY": "k"}.get)
	if err != nil {
		t.Fatalf("Starter() does not load:\n%v", err)
	}
	if len(cfg.Accounts) == 0 {
		t.Error("Starter() has no accounts")
	}
}

func TestLoadAnchorsAndExtensionKeys(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "proxy.yaml"), `
x-common: &common
  type: openai
  base_url: https://api.openai.com/v1
  api_key: k
accounts:
  - <<: *common
    name: a
  - <<: *common
    name: b
    weight: 0
`)
	cfg, err := Load(viper.New(), path, env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Accounts) != 2 || cfg.Accounts[1].Type != TypeOpenAI || cfg.Accounts[1].Weight != 0 || cfg.Accounts[0].APIKey != "k" {
		t.Errorf("accounts = %+v", cfg.Accounts)
	}
}

// Model names keep their case: viper lower-cases map keys, the map is taken
// as written.
func TestModelMapKeepsCase(t *testing.T) {
	dir := inTempDir(t)
	path := filepath.Join(dir, "proxy.yaml")
	writeFile(t, path, "accounts:\n  - name: ds\n    type: openai\n    api: chat_completions\n    base_url: https://api.deepseek.com/v1\n    api_key: k\n    model_map: {\"GPT-5.5\": DeepSeek-Chat, \"*\": deepseek-chat}\n  - name: plain\n    type: openai\n    base_url: https://api.openai.com/v1\n    api_key: k\n")
	cfg, err := Load(viper.New(), path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ds, plain := cfg.Accounts[0], cfg.Accounts[1]
	if ds.API != APIChatCompletions || ds.ModelMap["GPT-5.5"] != "DeepSeek-Chat" || ds.ModelMap["*"] != "deepseek-chat" || len(ds.ModelMap) != 2 {
		t.Errorf("ds = api %q map %v", ds.API, ds.ModelMap)
	}
	if plain.API != APIResponses || plain.ModelMap != nil {
		t.Errorf("plain = api %q map %v, want responses and no map", plain.API, plain.ModelMap)
	}
}
