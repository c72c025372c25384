package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/store"
)

const (
	testAPIKey      = "sk-test-key-0123456789abcdef"
	testAccessToken = "chatgpt-access-token-0123456789"
	testAccountID   = "acct-0123456789abcdef"
)

// testEnv holds the secrets the test configs refer to as ${VAR}.
var testEnv = map[string]string{"API_KEY": testAPIKey, "ACCESS_TOKEN": testAccessToken, "WRONG_KEY": "sk-wrong-0123456789abcdef"}

// failureModes starts one upstream per way an account can fail (and two
// that pass) and returns the config listing them in that order.
func failureModes(t *testing.T) string {
	t.Helper()
	api := serve(t, fakeupstream.New("api", fakeupstream.WithAPIKey(testAPIKey)))
	chat := serve(t, fakeupstream.New("chat", fakeupstream.WithChatGPT(testAccessToken, testAccountID), fakeupstream.WithClock(fixedNow), fakeupstream.WithWebSocket()))

	limited := fakeupstream.New("limited", fakeupstream.WithChatGPT(testAccessToken, testAccountID), fakeupstream.WithClock(fixedNow))
	limited.Script(fakeupstream.QuotaExceeded(testClock.Add(10*time.Hour + 10*time.Minute)))
	limitedSrv := serve(t, limited)

	v1Only := http.NewServeMux()
	v1Only.Handle("/v1/", fakeupstream.New("v1", fakeupstream.WithAPIKey(testAPIKey)))
	noV1 := serve(t, v1Only)

	tlsSrv := httptest.NewUnstartedServer(fakeupstream.New("tls", fakeupstream.WithAPIKey(testAPIKey)))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	cut := fakeupstream.New("cut", fakeupstream.WithAPIKey(testAPIKey))
	cut.Script(fakeupstream.Fault{CutAfter: 2})
	cutSrv := serve(t, cut)

	return fmt.Sprintf(`# every way an account can fail
accounts:
  - {name: api, type: openai, base_url: %s/v1, api_key: "${API_KEY}"}
  - {name: chatgpt, type: openai-responses, base_url: %s/backend-api/codex, access_token: "${ACCESS_TOKEN}", account_id: %s}
  - {name: bad-key, type: openai, base_url: %s/v1, api_key: "${WRONG_KEY}"}
  - {name: no-v1, type: openai, base_url: %s, api_key: "${API_KEY}"}
  - {name: limited, type: openai-responses, base_url: %s/backend-api/codex, access_token: "${ACCESS_TOKEN}", account_id: %s}
  - {name: refused, type: openai, base_url: http://%s/v1, api_key: "${API_KEY}"}
  - {name: tls, type: openai, base_url: %s/v1, api_key: "${API_KEY}"}
  - {name: cut, type: openai, base_url: %s/v1, api_key: "${API_KEY}"}
  - {name: off, type: openai, base_url: %s/v1, api_key: "${API_KEY}", enabled: false}
`, api.URL, chat.URL, testAccountID, api.URL, noV1.URL, limitedSrv.URL, testAccountID,
		closedAddr(t), tlsSrv.URL, cutSrv.URL, api.URL)
}

func TestAccountsTestGolden(t *testing.T) {
	for _, tt := range []struct {
		name, golden string
		tty, json    bool
	}{
		{name: "terminal", golden: "accounts-test-tty.golden", tty: true},
		{name: "piped", golden: "accounts-test-piped.golden"},
		{name: "json", golden: "accounts-test-json.golden", json: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "proxy.yaml", failureModes(t), 0o600)
			ios, out, errOut := testIO(testEnv, tt.tty)
			err := runAccountsTest(context.Background(), &AccountsTestOptions{IO: ios, ConfigPath: path, JSON: tt.json,
				Timeout: 10 * time.Second, Now: fixedNow, Location: time.UTC})
			if code := ExitCode(ios.ErrOut, err); code != cmdutil.ExitFailure {
				t.Errorf("exit code %d, want %d", code, cmdutil.ExitFailure)
			}
			assertGolden(t, tt.golden, stable(out.String(), dir))
			if !strings.Contains(errOut.String(), "6 of 8 account(s) failed") || !strings.Contains(errOut.String(), "skipping 1 disabled") {
				t.Errorf("stderr = %q", errOut.String())
			}
			for _, secret := range testEnv {
				if strings.Contains(out.String()+errOut.String(), secret) {
					t.Errorf("output reveals a secret")
				}
			}
		})
	}
}

func TestAccountsTestJSONShape(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "proxy.yaml", failureModes(t), 0o600)
	code, stdout, stderr := runWith(t, testEnv, "accounts", "test", "--config", path, "--json", "api", "chatgpt", "refused")
	if code != cmdutil.ExitFailure {
		t.Fatalf("exit code %d, want %d; stderr %s", code, cmdutil.ExitFailure, stderr)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if len(got) != 3 {
		t.Fatalf("%d results, want 3", len(got))
	}
	for _, r := range got {
		for _, k := range []string{"name", "type", "ok", "status", "error", "ttfb_ms", "total_ms"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%v lacks %q", r["name"], k)
			}
		}
	}
	if got[0]["ok"] != true || got[1]["ok"] != true || got[2]["ok"] != false {
		t.Errorf("ok = %v %v %v, want true true false", got[0]["ok"], got[1]["ok"], got[2]["ok"])
	}
	if _, ok := got[1]["limits"].(map[string]any)["primary"]; !ok {
		t.Errorf("chatgpt result has no primary limit: %v", got[1]["limits"])
	}
}

func TestAccountsTestExitCodes(t *testing.T) {
	api := serve(t, fakeupstream.New("api", fakeupstream.WithAPIKey(testAPIKey)))
	good := fmt.Sprintf("accounts:\n  - {name: api, type: openai, base_url: %s/v1, api_key: \"${API_KEY}\"}\n", api.URL)
	tests := []struct {
		name     string
		config   string
		args     []string
		want     int
		wantErr  string
		wantNote string
	}{
		{name: "all pass", config: good, want: cmdutil.ExitOK},
		{name: "named account fails", config: good + fmt.Sprintf("  - {name: down, type: openai, base_url: http://%s, api_key: x}\n", closedAddr(t)),
			args: []string{"down"}, want: cmdutil.ExitFailure, wantNote: "1 of 1 account(s) failed"},
		{name: "unknown name", config: good, args: []string{"nope"}, want: cmdutil.ExitConfigError, wantErr: `no account named "nope"`},
		{name: "bad config", config: "accounts:\n  - {name: x, type: opnai}\n", want: cmdutil.ExitConfigError, wantErr: "config has"},
		{name: "bad timeout", config: good, args: []string{"--timeout", "0s"}, want: cmdutil.ExitFailure, wantErr: "--timeout"},
		{name: "update without redis", config: good, args: []string{"--update"}, want: cmdutil.ExitOK, wantNote: "redis.url is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "proxy.yaml", tt.config, 0o600)
			code, _, stderr := runWith(t, testEnv, append([]string{"accounts", "test", "-c", path}, tt.args...)...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			for _, w := range []string{tt.wantErr, tt.wantNote} {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

func TestAccountsTestUpdateRecordsCooldowns(t *testing.T) {
	mr := miniredis.RunT(t)
	api := serve(t, fakeupstream.New("api", fakeupstream.WithAPIKey(testAPIKey)))
	cfg := fmt.Sprintf(`redis:
  url: redis://%s
accounts:
  - {name: api, type: openai, base_url: %s/v1, api_key: "${API_KEY}"}
  - {name: bad-key, type: openai, base_url: %s/v1, api_key: "${WRONG_KEY}"}
  - {name: refused, type: openai, base_url: http://%s, api_key: x}
`, mr.Addr(), api.URL, api.URL, closedAddr(t))
	path := writeFile(t, t.TempDir(), "proxy.yaml", cfg, 0o600)

	st, err := store.Open(context.Background(), store.Options{URL: "redis://" + mr.Addr(), KeyPrefix: "proxy:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A stale cooldown of an account that now passes must end.
	if err := st.SetCooldown(context.Background(), store.Cooldown{Account: "api", Reason: "network", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := runWith(t, testEnv, "accounts", "test", "-c", path, "--update")
	if code != cmdutil.ExitFailure {
		t.Fatalf("exit code %d, want %d; stderr %s", code, cmdutil.ExitFailure, stderr)
	}
	cds, err := st.Cooldowns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cds["api"]; ok {
		t.Errorf("the passing account's cooldown was kept")
	}
	if c := cds["bad-key"]; c.Reason != "invalid" {
		t.Errorf("bad-key cooldown = %+v, want reason invalid", c)
	}
	if c := cds["refused"]; c.Reason != string(health.Network) || c.Until.IsZero() {
		t.Errorf("refused cooldown = %+v, want a network cooldown with an end", c)
	}
	if !strings.Contains(stderr, "--update: recorded 2 cooldown(s)") {
		t.Errorf("stderr = %q", stderr)
	}
}

// listConfig is three accounts of each kind of live state.
const listConfig = `accounts:
  - name: api
    type: openai
    base_url: https://api.example.com/v1/
    api_key: ${API_KEY}
    weight: 2
    models: ["gpt-5*", "o3"]
  - name: chatgpt
    type: openai-responses
    access_token: ${ACCESS_TOKEN}
    account_id: acct-0123456789abcdef
  - name: spare
    type: openai
    base_url: https://other.example.com/v1
    api_key: ${API_KEY}
    weight: 0
    enabled: false
`

// statusServer serves a /_proxy/status document and records the bearer key
// it was asked with.
func statusServer(t *testing.T, gotKey *string) *httptest.Server {
	until := testClock.Add(10*time.Hour + 10*time.Minute)
	doc := status.Document{Accounts: []status.Account{
		{Name: "api", State: status.StateCoolingDown, Reason: "quota", Until: &until, InFlight: 1,
			Today: status.Usage{Requests: 12, InputTokens: 3000, OutputTokens: 400},
			Limits: &health.Limits{Primary: &health.Window{UsedPercent: 90, ResetsAt: testClock.Add(6 * time.Minute)},
				Secondary: &health.Window{UsedPercent: 25}, Observed: testClock}},
		{Name: "chatgpt", State: status.StateInvalid, Reason: "invalid", Message: "the ChatGPT login was refused; run `codex login`",
			Limits: &health.Limits{Primary: &health.Window{UsedPercent: 97, WindowMinutes: 300, ResetsAt: testClock.Add(2 * time.Hour)},
				Secondary: &health.Window{UsedPercent: 40, WindowMinutes: 10080, ResetsAt: testClock.Add(72 * time.Hour)}, Observed: testClock}},
		{Name: "spare", State: status.StateDisabled},
	}}
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*gotKey = r.Header.Get("Authorization")
		if r.URL.Path != "/_proxy/status" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
}

func TestAccountsListGolden(t *testing.T) {
	for _, tt := range []struct {
		name, golden string
		tty, json    bool
		live         bool
	}{
		{name: "terminal with a server", golden: "accounts-list-live-tty.golden", tty: true, live: true},
		{name: "piped with a server", golden: "accounts-list-live-piped.golden", live: true},
		{name: "terminal without a server", golden: "accounts-list-tty.golden", tty: true},
		{name: "json with a server", golden: "accounts-list-live-json.golden", json: true, live: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "proxy.yaml", listConfig, 0o600)
			env := map[string]string{"PROXY_API_KEY": "client-key"}
			for k, v := range testEnv {
				env[k] = v
			}
			var gotKey string
			addr := "http://" + closedAddr(t)
			if tt.live {
				addr = statusServer(t, &gotKey).URL
			}
			ios, out, errOut := testIO(env, tt.tty)
			err := runAccountsList(context.Background(), &AccountsListOptions{IO: ios, ConfigPath: path, JSON: tt.json,
				Addr: addr, Now: fixedNow, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			assertGolden(t, tt.golden, stable(out.String(), dir))
			if tt.live && gotKey != "Bearer client-key" {
				t.Errorf("server asked with Authorization %q, want the PROXY_API_KEY bearer", gotKey)
			}
			if !tt.live && !strings.Contains(errOut.String(), "server not running at http://127.0.0.1:") {
				t.Errorf("stderr = %q, want the server-not-running note", errOut.String())
			}
			if strings.Contains(out.String(), testAPIKey) || strings.Contains(out.String(), testAccessToken) {
				t.Errorf("output reveals a secret")
			}
		})
	}
}
