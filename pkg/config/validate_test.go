package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/viper"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// openaiAccount is a valid openai account to put problems beside.
const openaiAccount = `  - name: ok
    type: openai
    base_url: https://api.openai.com/v1
    api_key: k
`

func TestLoadProblems(t *testing.T) {
	dir := inTempDir(t)
	writeFile(t, filepath.Join(dir, "chatgpt.json"), chatGPTAuth)
	writeFile(t, filepath.Join(dir, "apikey.json"), apiKeyAuth)
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "yaml syntax",
			yaml: "listen: a\n  redis: [\n",
			want: `proxy.yaml:2: invalid YAML: mapping values are not allowed in this context`,
		},
		{
			name: "client key role",
			yaml: "client_keys:\n  - name: a\n    key: ka\n    role: owner\naccounts:\n" + openaiAccount,
			want: `proxy.yaml:4: client_keys[0].role: "owner" is not one of admin (everything), user (the API, its own sessions, events and usage)`,
		},
		{
			name: "client key limits",
			yaml: "client_keys:\n  - name: a\n    key: ka\n    limits:\n      requests_per_minute: -1\n      tokens_per_day: lots\n      usd_per_month: -5\n" +
				"      models: [\"gpt-[\"]\n      accounts: [opnai, openai, tag-x, \"o*\"]\n      burst: 3\naccounts:\n" + openaiAccount + "    tags: [tag-x, \"\"]\n",
			want: `proxy.yaml:5: client_keys[0].limits.requests_per_minute: -1 is negative; leave it out for no limit
proxy.yaml:6: client_keys[0].limits.tokens_per_day: "lots" is not a whole number
proxy.yaml:7: client_keys[0].limits.usd_per_month: -5 is not a budget of zero or more USD; leave it out for no limit
proxy.yaml:8: client_keys[0].limits.models[0]: "gpt-[" is not a valid glob: syntax error in pattern
proxy.yaml:9: client_keys[0].limits.accounts[0]: "opnai" names no account, tag or account type; accounts are ok
proxy.yaml:10: client_keys[0].limits.burst: unknown key
proxy.yaml:16: accounts[0].tags[1]: empty tag`,
		},
		{
			name: "prices and usage retention",
			yaml: "prices:\n  gpt-9:\n    input: 2\n    cached_input: 3\n    output: 8\n  gpt-x:\n    input: 1\n  gpt-y: 5\nusage:\n  retention: 12h\naccounts:\n" + openaiAccount,
			want: `proxy.yaml:2: prices.gpt-9: model "gpt-9": cached_input (3) is above input (2) USD per million tokens; a cached token never costs more than an uncached one (set them equal for a model without a cache discount)
proxy.yaml:6: prices.gpt-x: needs input and output (USD per million tokens; cached_input defaults to input)
proxy.yaml:8: prices.gpt-y: must be a mapping of keys, not a single value
proxy.yaml:10: usage.retention: "12h" is not a retention of a day or more (like 90d or 2160h)`,
		},
		{
			name: "account api and model_map",
			yaml: "accounts:\n" + openaiAccount + "    api: chat\n    model_map:\n      gpt-5: \"\"\n      x: [a]\n" +
				"  - name: c\n    type: openai-responses\n    access_token: t\n    account_id: a\n    api: chat_completions\n",
			want: `proxy.yaml:6: accounts[0].api: "chat" is not one of responses (the default), chat_completions
proxy.yaml:8: accounts[0].model_map.gpt-5: maps "gpt-5" to an empty name; name the account's model
proxy.yaml:9: accounts[0].model_map.x: must be a single name, not a list
proxy.yaml:14: accounts[1].api: openai-responses accounts speak the Responses API only; chat_completions is for openai accounts whose provider serves only /chat/completions`,
		},
		{
			name: "failover settings out of range",
			yaml: "max_attempts: 0\nmax_body_bytes: 10\nsessions:\n  move_after: soon\ntimeouts:\n  stream_idle: -1s\noauth:\n  token_url: ftp://x\naccounts:\n" + openaiAccount + "    max_concurrency: -2\n",
			want: `proxy.yaml:1: max_attempts: must be at least 1, got 0
proxy.yaml:2: max_body_bytes: must be at least 1024, got 10
proxy.yaml:4: sessions.move_after: "soon" is not a duration (like 30s or 5m)
proxy.yaml:6: timeouts.stream_idle: must be positive, got -1s
proxy.yaml:8: oauth.token_url: "ftp://x" is not an http(s) URL
proxy.yaml:14: accounts[0].max_concurrency: -2 is negative; 0 means no limit`,
		},
		{
			name: "websocket message bound above max_body_bytes",
			yaml: "max_body_bytes: 65536\nlimits:\n  websocket_message_bytes: 131072\n",
			want: `proxy.yaml:3: limits.websocket_message_bytes: must be at most max_body_bytes (65536): Codex sends a larger message over HTTP, where max_body_bytes bounds it; got 131072`,
		},
		{
			name: "websocket message bound too small",
			yaml: "limits:\n  websocket_message_bytes: -1\n",
			want: `proxy.yaml:2: limits.websocket_message_bytes: must be at least 1024, or 0 for max_body_bytes, got -1`,
		},
		{
			name: "not a mapping",
			yaml: "- listen\n",
			want: `proxy.yaml:1: the file must be a mapping of keys, not a list`,
		},
		{
			name: "unknown top-level key",
			yaml: "listen: 127.0.0.1:1\nsesions:\n  ttl: 1m\n",
			want: `proxy.yaml:2: sesions: unknown key (did you mean sessions?)`,
		},
		{
			name: "unknown account key with suggestion",
			yaml: "accounts:\n" + openaiAccount + "    wieght: 2\n",
			want: `proxy.yaml:6: accounts[0].wieght: unknown key (did you mean weight?)`,
		},
		{
			name: "unknown key without suggestion",
			yaml: "redis:\n  password: x\n",
			want: `proxy.yaml:2: redis.password: unknown key`,
		},
		{
			name: "wrong case",
			yaml: "Listen: 127.0.0.1:1\n",
			want: `proxy.yaml:1: Listen: unknown key (did you mean listen?)`,
		},
		{
			name: "repeated key",
			yaml: "accounts:\n" + openaiAccount + "    api_key: k2\n",
			want: `proxy.yaml:6: accounts[0].api_key: repeated key (first at line 5)`,
		},
		{
			name: "section of the wrong shape",
			yaml: "redis: redis://localhost\n",
			want: `proxy.yaml:1: redis: must be a mapping of keys, not a single value`,
		},
		{
			name: "accounts not a list",
			yaml: "accounts:\n  name: a\n",
			want: `proxy.yaml:2: accounts: must be a list, not a mapping`,
		},
		{
			name: "weight not a number",
			yaml: "accounts:\n" + openaiAccount + "    weight: lots\n",
			want: `proxy.yaml:6: accounts[0].weight: "lots" is not a whole number`,
		},
		{
			name: "enabled not a boolean",
			yaml: "accounts:\n" + openaiAccount + "    enabled: maybe\n",
			want: `proxy.yaml:6: accounts[0].enabled: "maybe" is not true or false`,
		},
		{
			name: "duplicate account names",
			yaml: "accounts:\n" + openaiAccount + openaiAccount,
			want: `proxy.yaml:6: accounts[1].name: "ok" is already used by accounts[0]`,
		},
		{
			name: "missing name",
			yaml: "accounts:\n  - type: openai\n    base_url: https://x\n    api_key: k\n",
			want: `proxy.yaml:2: accounts[0].name: missing; every account needs a unique name`,
		},
		{
			name: "bad type",
			yaml: "accounts:\n" + openaiAccount + "  - name: b\n    type: opnai\n",
			want: `proxy.yaml:7: accounts[1].type: "opnai" is not one of openai, openai-responses`,
		},
		{
			name: "missing type",
			yaml: "accounts:\n  - name: b\n",
			want: `proxy.yaml:2: accounts[0].type: missing; one of openai, openai-responses`,
		},
		{
			name: "openai without base_url",
			yaml: "accounts:\n  - name: b\n    type: openai\n    api_key: k\n",
			want: `proxy.yaml:2: accounts[0].base_url: missing; openai accounts need the API's base URL (like https://api.openai.com/v1)`,
		},
		{
			name: "openai without api_key",
			yaml: "accounts:\n  - name: b\n    type: openai\n    base_url: https://x\n",
			want: `proxy.yaml:2: accounts[0].api_key: missing; openai accounts need an API key`,
		},
		{
			name: "base_url not http",
			yaml: "accounts:\n  - name: b\n    type: openai\n    base_url: ftp://x\n    api_key: k\n",
			want: `proxy.yaml:4: accounts[0].base_url: "ftp://x" is not an http(s) URL`,
		},
		{
			name: "proxy_url of another scheme",
			yaml: "accounts:\n" + openaiAccount + "    proxy_url: ftp://user:hunter2@127.0.0.1:21\n",
			want: `proxy.yaml:6: accounts[0].proxy_url: must start with http://, https:// or socks5://`,
		},
		{
			name: "proxy_url without host",
			yaml: "accounts:\n" + openaiAccount + "  - name: b\n    type: openai\n    base_url: https://x\n    api_key: k\n    proxy_url: socks5://user:hunter2@\n",
			want: `proxy.yaml:10: accounts[1].proxy_url: has no host (like socks5://127.0.0.1:1080)`,
		},
		{
			name: "proxy_url unparsable",
			yaml: "accounts:\n" + openaiAccount + "    proxy_url: \"http://user:hunter2@[::1\"\n",
			want: `proxy.yaml:6: accounts[0].proxy_url: is not a URL (like socks5://127.0.0.1:1080 or http://user:password@proxy:3128)`,
		},
		{
			name: "proxy_url without scheme",
			yaml: "accounts:\n" + openaiAccount + "    proxy_url: localhost:1080\n",
			want: `proxy.yaml:6: accounts[0].proxy_url: must start with http://, https:// or socks5://`,
		},
		{
			name: "openai with auth_file",
			yaml: "accounts:\n" + openaiAccount + "    auth_file: chatgpt.json\n",
			want: `proxy.yaml:6: accounts[0].auth_file: only openai-responses accounts use auth_file`,
		},
		{
			name: "openai-responses without login",
			yaml: "accounts:\n  - name: c\n    type: openai-responses\n",
			want: `proxy.yaml:2: accounts[0]: openai-responses accounts need auth_file (from ` + "`codex login`" + `) or access_token`,
		},
		{
			name: "openai-responses with api_key",
			yaml: "accounts:\n  - name: c\n    type: openai-responses\n    auth_file: chatgpt.json\n    api_key: k\n",
			want: `proxy.yaml:5: accounts[0].api_key: only openai accounts use api_key`,
		},
		{
			name: "auth_file and inline tokens",
			yaml: "accounts:\n  - name: c\n    type: openai-responses\n    auth_file: chatgpt.json\n    access_token: t\n",
			want: `proxy.yaml:4: accounts[0].auth_file: set auth_file or inline access_token/refresh_token/account_id, not both`,
		},
		{
			name: "auth_file missing",
			yaml: "accounts:\n  - name: c\n    type: openai-responses\n    auth_file: nope.json\n",
			want: `proxy.yaml:4: accounts[0].auth_file: nope.json does not exist: no Codex login there; run ` + "`codex login`" + `, or ` + "`proxy accounts login c`",
		},
		{
			name: "auth_file not ChatGPT",
			yaml: "accounts:\n  - name: c\n    type: openai-responses\n    auth_file: apikey.json\n",
			want: `proxy.yaml:4: accounts[0].auth_file: apikey.json holds no ChatGPT login; run ` + "`codex login`" + ` and sign in with ChatGPT`,
		},
		{
			name: "negative weight",
			yaml: "accounts:\n" + openaiAccount + "    weight: -1\n",
			want: `proxy.yaml:6: accounts[0].weight: -1 is negative; 0 makes a standby account`,
		},
		{
			name: "bad model glob",
			yaml: "accounts:\n" + openaiAccount + "    models:\n      - gpt-5*\n      - gpt-[5\n",
			want: `proxy.yaml:8: accounts[0].models[1]: "gpt-[5" is not a valid glob: syntax error in pattern`,
		},
		{
			name: "unset variable",
			yaml: "accounts:\n  - name: b\n    type: openai\n    base_url: https://x\n    api_key: ${COORDCODE_KEY}\n",
			want: `proxy.yaml:5: accounts[0].api_key: ${COORDCODE_KEY} is not set`,
		},
		{
			name: "bad duration",
			yaml: "sessions:\n  ttl: 30x\n",
			want: `proxy.yaml:2: sessions.ttl: "30x" is not a duration (like 30m or 2h)`,
		},
		{
			name: "duration without unit",
			yaml: "sessions:\n  ttl: 30\n",
			want: `proxy.yaml:2: sessions.ttl: "30" is not a duration (like 30m or 2h)`,
		},
		{
			name: "zero ttl",
			yaml: "sessions:\n  ttl: 0s\n",
			want: `proxy.yaml:2: sessions.ttl: must be positive, got 0s`,
		},
		{
			name: "redis url scheme",
			yaml: "redis:\n  url: http://localhost:6379\n",
			want: `proxy.yaml:2: redis.url: must start with redis://, rediss:// or unix://`,
		},
		{
			name: "redis url without host",
			yaml: "redis:\n  url: redis://\n",
			want: `proxy.yaml:2: redis.url: has no host (like redis://localhost:6379/0)`,
		},
		{
			name: "allowed hosts",
			yaml: "allowed_hosts:\n  - proxy.internal\n  - proxy.internal:8787\n  - https://proxy.example.com\n  - \"*\"\n  - a.*.example.com\n  - \"\"\n  - bad name\n  - \"*.example.com\"\n  - \"[::1]\"\n",
			want: `proxy.yaml:3: allowed_hosts[1]: "proxy.internal:8787" has a port; give the name alone: every port is admitted
proxy.yaml:4: allowed_hosts[2]: "https://proxy.example.com" is not a host name; give the name alone, like proxy.example.com
proxy.yaml:5: allowed_hosts[3]: "*": only a leading "*." is a wildcard (like *.example.com), and no entry admits every host
proxy.yaml:6: allowed_hosts[4]: "a.*.example.com": only a leading "*." is a wildcard (like *.example.com), and no entry admits every host
proxy.yaml:7: allowed_hosts[5]: empty host name
proxy.yaml:8: allowed_hosts[6]: "bad name" is not a host name (letters, digits, - and _ in dot-separated labels)`,
		},
		{
			name: "listen not host:port",
			yaml: "listen: localhost\n",
			want: `proxy.yaml:1: listen: "localhost" is not host:port (like 127.0.0.1:8787)`,
		},
		{
			name: "listen port",
			yaml: "listen: localhost:http-ish\n",
			want: `proxy.yaml:1: listen: port "http-ish" is not a number from 0 to 65535`,
		},
		{
			name: "client key empty",
			yaml: "client_keys:\n  - name: laptop\n    key: \"\"\n",
			want: `proxy.yaml:3: client_keys[0].key: missing; clients send it as Authorization: Bearer <key>`,
		},
		{
			name: "client key without name",
			yaml: "client_keys:\n  - key: k\n",
			want: `proxy.yaml:2: client_keys[0].name: missing; the name stands for the key in logs and metrics`,
		},
		{
			name: "duplicate client key names",
			yaml: "client_keys:\n  - name: a\n    key: k1\n  - name: a\n    key: k2\n",
			want: `proxy.yaml:4: client_keys[1].name: "a" is already used by client_keys[0]`,
		},
		{
			name: "same key twice",
			yaml: "client_keys:\n  - name: a\n    key: k1\n  - name: b\n    key: k1\n",
			want: `proxy.yaml:5: client_keys[1].key: same key as client_keys[0]; each client needs its own`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "proxy.yaml", tt.yaml)
			_, err := Load(viper.New(), path, env{}.get)
			got := problemsOf(t, err)
			if strings.Join(got, "\n") != tt.want {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

func TestLoadProblemsNeverQuoteSecrets(t *testing.T) {
	inTempDir(t)
	path := writeFile(t, "proxy.yaml", `redis:
  url: ftp://user:hunter2@host
client_keys:
  - name: a
    key: hunter2
  - name: b
    key: hunter2
accounts:
  - name: a
    type: openai
    base_url: https://x
    api_key: [hunter2]
  - name: b
    type: openai
    base_url: https://x
    api_key: k
    proxy_url: gopher://user:hunter2@host
  - name: c
    type: openai
    base_url: https://x
    api_key: k
    proxy_url: [hunter2]
`)
	_, err := Load(viper.New(), path, env{}.get)
	if msg := err.Error(); !strings.Contains(msg, "redis.url") || !strings.Contains(msg, "accounts[1].proxy_url") ||
		!strings.Contains(msg, "accounts[2].proxy_url") || strings.Contains(msg, "hunter2") {
		t.Errorf("problems leak a secret or miss one:\n%s", msg)
	}
}

// TestLoadManyProblems checks that one load reports every problem, in file
// order, against testdata/many.golden.
func TestLoadManyProblems(t *testing.T) {
	_, err := Load(viper.New(), filepath.Join("testdata", "many.yaml"), env{"HOME": "testdata"}.get)
	got := strings.Join(problemsOf(t, err), "\n") + "\n"
	golden := filepath.Join("testdata", "many.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("problems:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}
