package test_test

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

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/test"
	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/store"
)

// failureModes starts one upstream per way an account can fail (and two
// that pass) and returns the config listing them in that order.
func failureModes(t *testing.T) string {
	t.Helper()
	api := cmdtest.Serve(t, fakeupstream.New("api", fakeupstream.WithAPIKey(cmdtest.TestAPIKey)))
	chat := cmdtest.Serve(t, fakeupstream.New("chat", fakeupstream.WithChatGPT(cmdtest.TestAccessToken, cmdtest.TestAccountID), fakeupstream.WithClock(cmdtest.FixedNow), fakeupstream.WithWebSocket()))

	limited := fakeupstream.New("limited", fakeupstream.WithChatGPT(cmdtest.TestAccessToken, cmdtest.TestAccountID), fakeupstream.WithClock(cmdtest.FixedNow))
	limited.Script(fakeupstream.QuotaExceeded(cmdtest.TestClock.Add(10*time.Hour + 10*time.Minute)))
	limitedSrv := cmdtest.Serve(t, limited)

	v1Only := http.NewServeMux()
	v1Only.Handle("/v1/", fakeupstream.New("v1", fakeupstream.WithAPIKey(cmdtest.TestAPIKey)))
	noV1 := cmdtest.Serve(t, v1Only)

	tlsSrv := httptest.NewUnstartedServer(fakeupstream.New("tls", fakeupstream.WithAPIKey(cmdtest.TestAPIKey)))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	cut := fakeupstream.New("cut", fakeupstream.WithAPIKey(cmdtest.TestAPIKey))
	cut.Script(fakeupstream.Fault{CutAfter: 2})
	cutSrv := cmdtest.Serve(t, cut)

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
`, api.URL, chat.URL, cmdtest.TestAccountID, api.URL, noV1.URL, limitedSrv.URL, cmdtest.TestAccountID,
		cmdtest.ClosedAddr(t), tlsSrv.URL, cutSrv.URL, api.URL)
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
			path := cmdtest.WriteFile(t, dir, "proxy.yaml", failureModes(t), 0o600)
			ios, out, errOut := cmdtest.IO(cmdtest.TestEnv, tt.tty)
			err := test.RunAccountsTest(context.Background(), &test.AccountsTestOptions{IO: ios, ConfigPath: path, JSON: tt.json,
				Timeout: 10 * time.Second, Now: cmdtest.FixedNow, Location: time.UTC})
			if code := cmdtest.ExitCode(ios.ErrOut, err); code != cmdutil.ExitFailure {
				t.Errorf("exit code %d, want %d", code, cmdutil.ExitFailure)
			}
			cmdtest.AssertGolden(t, tt.golden, cmdtest.Stable(out.String(), dir))
			if !strings.Contains(errOut.String(), "6 of 8 account(s) failed") || !strings.Contains(errOut.String(), "skipping 1 disabled") {
				t.Errorf("stderr = %q", errOut.String())
			}
			for _, secret := range cmdtest.TestEnv {
				if strings.Contains(out.String()+errOut.String(), secret) {
					t.Errorf("output reveals a secret")
				}
			}
		})
	}
}

func TestAccountsTestJSONShape(t *testing.T) {
	dir := t.TempDir()
	path := cmdtest.WriteFile(t, dir, "proxy.yaml", failureModes(t), 0o600)
	code, stdout, stderr := cmdtest.RunWith(t, cmdtest.TestEnv, "accounts", "test", "--config", path, "--json", "api", "chatgpt", "refused")
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
	api := cmdtest.Serve(t, fakeupstream.New("api", fakeupstream.WithAPIKey(cmdtest.TestAPIKey)))
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
		{name: "named account fails", config: good + fmt.Sprintf("  - {name: down, type: openai, base_url: http://%s, api_key: x}\n", cmdtest.ClosedAddr(t)),
			args: []string{"down"}, want: cmdutil.ExitFailure, wantNote: "1 of 1 account(s) failed"},
		{name: "unknown name", config: good, args: []string{"nope"}, want: cmdutil.ExitConfigError, wantErr: `no account named "nope"`},
		{name: "bad config", config: "accounts:\n  - {name: x, type: opnai}\n", want: cmdutil.ExitConfigError, wantErr: "config has"},
		{name: "bad timeout", config: good, args: []string{"--timeout", "0s"}, want: cmdutil.ExitFailure, wantErr: "--timeout"},
		{name: "update without redis", config: good, args: []string{"--update"}, want: cmdutil.ExitOK, wantNote: "redis.url is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := cmdtest.WriteFile(t, t.TempDir(), "proxy.yaml", tt.config, 0o600)
			code, _, stderr := cmdtest.RunWith(t, cmdtest.TestEnv, append([]string{"accounts", "test", "-c", path}, tt.args...)...)
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
	api := cmdtest.Serve(t, fakeupstream.New("api", fakeupstream.WithAPIKey(cmdtest.TestAPIKey)))
	cfg := fmt.Sprintf(`redis:
  url: redis://%s
accounts:
  - {name: api, type: openai, base_url: %s/v1, api_key: "${API_KEY}"}
  - {name: bad-key, type: openai, base_url: %s/v1, api_key: "${WRONG_KEY}"}
  - {name: refused, type: openai, base_url: http://%s, api_key: x}
`, mr.Addr(), api.URL, api.URL, cmdtest.ClosedAddr(t))
	path := cmdtest.WriteFile(t, t.TempDir(), "proxy.yaml", cfg, 0o600)

	st, err := store.Open(context.Background(), store.Options{URL: "redis://" + mr.Addr(), KeyPrefix: "proxy:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A stale cooldown of an account that now passes must end.
	if err := st.SetCooldown(context.Background(), store.Cooldown{Account: "api", Reason: "network", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := cmdtest.RunWith(t, cmdtest.TestEnv, "accounts", "test", "-c", path, "--update")
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

// TestAccountsTestSuggestsName offers the closest account name for a typo.
func TestAccountsTestSuggestsName(t *testing.T) {
	path := cmdtest.WriteFile(t, t.TempDir(), "proxy.yaml", cmdtest.ListConfig, 0o600)
	code, _, stderr := cmdtest.RunWith(t, cmdtest.TestEnv, "accounts", "test", "-c", path, "chatgtp")
	want := `no account named "chatgtp" in ` + path + `; did you mean "chatgpt"? (accounts: api, chatgpt, spare)`
	if code != cmdutil.ExitConfigError || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}
