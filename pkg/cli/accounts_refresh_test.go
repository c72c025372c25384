package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/store"
)

// loginJWT is an access token that expires at exp, tagged so tokens differ.
func loginJWT(exp time.Time, tag string) string {
	return codexauthtest.JWT(map[string]any{"exp": exp.Unix(), "jti": tag})
}

// loginFile writes a Codex auth.json to dir and returns its path.
func loginFile(t *testing.T, dir, access, refresh string) string {
	t.Helper()
	doc, _ := json.Marshal(map[string]any{"auth_mode": "chatgpt",
		"tokens": map[string]any{"access_token": access, "refresh_token": refresh, "account_id": testAccountID}})
	return writeFile(t, dir, "auth.json", string(doc), 0o600)
}

// tokenEndpoint answers every refresh with status and body.
func tokenEndpoint(t *testing.T, status int, body string) string {
	t.Helper()
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})).URL + "/oauth/token"
}

// TestAccountsTestRefreshesLogin checks that `accounts test` renews an
// expired ChatGPT token before judging the login, saves the renewed one,
// and calls a login dead only when its refresh token is refused.
func TestAccountsTestRefreshesLogin(t *testing.T) {
	expired := loginJWT(testClock.Add(-time.Hour), "expired")
	renewed := loginJWT(testClock.Add(time.Hour), "renewed")
	const oldRefresh, newRefresh = "rt-old-0123456789", "rt-new-0123456789"
	granted, _ := json.Marshal(map[string]string{"access_token": renewed, "refresh_token": newRefresh})
	tests := []struct {
		name        string
		tokenStatus int
		tokenBody   string
		golden      string
		wantCode    int
		wantAccess  string // in the auth file afterwards
		wantRefresh string
	}{
		{name: "renewed", tokenStatus: http.StatusOK, tokenBody: string(granted), golden: "accounts-test-renewed.golden",
			wantCode: cmdutil.ExitOK, wantAccess: renewed, wantRefresh: newRefresh},
		{name: "dead login", tokenStatus: http.StatusUnauthorized, golden: "accounts-test-dead-login.golden",
			tokenBody: `{"error":{"message":"Your refresh token has already been used.","type":"invalid_request_error","code":"refresh_token_reused"}}`,
			wantCode:  cmdutil.ExitFailure, wantAccess: expired, wantRefresh: oldRefresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			up := serve(t, fakeupstream.New("chat", fakeupstream.WithChatGPT(renewed, testAccountID), fakeupstream.WithClock(fixedNow)))
			auth := loginFile(t, dir, expired, oldRefresh)
			cfg := fmt.Sprintf(`oauth: {token_url: %s}
accounts:
  - {name: chatgpt, type: openai-responses, base_url: %s/backend-api/codex, auth_file: %s}
`, tokenEndpoint(t, tt.tokenStatus, tt.tokenBody), up.URL, auth)
			path := writeFile(t, dir, "proxy.yaml", cfg, 0o600)
			ios, out, errOut := testIO(nil, true)
			err := runAccountsTest(context.Background(), &AccountsTestOptions{IO: ios, ConfigPath: path,
				Timeout: 10 * time.Second, Now: fixedNow, Location: time.UTC})
			if code := ExitCode(ios.ErrOut, err); code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr %s", code, tt.wantCode, errOut)
			}
			assertGolden(t, tt.golden, stable(out.String(), dir))
			for _, secret := range []string{expired, renewed, oldRefresh, newRefresh} {
				if strings.Contains(out.String()+errOut.String(), secret) {
					t.Errorf("output reveals a token")
				}
			}
			f, err := codexauth.Read(auth)
			if err != nil {
				t.Fatal(err)
			}
			if f.Tokens.AccessToken != tt.wantAccess || f.Tokens.RefreshToken != tt.wantRefresh {
				t.Errorf("auth file holds the wrong tokens (renewed: %v)", f.Tokens.AccessToken == renewed)
			}
		})
	}
}

// TestAccountsListLoginAttention checks that a ChatGPT login only the user
// can renew shows as such when the state comes from Redis (no proxy
// running): one marked invalid, one whose token expired with no refresh
// token to renew it.
func TestAccountsListLoginAttention(t *testing.T) {
	mr := miniredis.RunT(t)
	dir := t.TempDir()
	expired := loginJWT(testClock.Add(-time.Hour), "expired")
	cfg := fmt.Sprintf(`redis: {url: "redis://%s"}
accounts:
  - {name: dead, type: openai-responses, access_token: "${ACCESS_TOKEN}", refresh_token: rt-0123456789, account_id: %s}
  - {name: stale, type: openai-responses, access_token: %s, account_id: %s}
  - {name: fine, type: openai-responses, access_token: "${ACCESS_TOKEN}", account_id: %s}
`, mr.Addr(), testAccountID, expired, testAccountID, testAccountID)
	path := writeFile(t, dir, "proxy.yaml", cfg, 0o600)

	st, err := store.Open(context.Background(), store.Options{URL: "redis://" + mr.Addr(), KeyPrefix: "proxy:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetCooldown(context.Background(), store.Cooldown{Account: "dead", Reason: "invalid", Since: testClock,
		Message: "account dead: token refresh refused (refresh_token_reused): the ChatGPT login has expired or was revoked"}); err != nil {
		t.Fatal(err)
	}
	// What a stopped proxy last saw of the windows shows too.
	if err := st.SetWindows(context.Background(), "fine", store.Limits{Observed: testClock,
		Primary: &store.Window{UsedPercent: 37, WindowMinutes: 300, ResetsAt: testClock.Add(3 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, golden string
		tty, json    bool
	}{
		{name: "terminal", golden: "accounts-list-login.golden", tty: true},
		{name: "json", golden: "accounts-list-login-json.golden", json: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ios, out, _ := testIO(testEnv, tt.tty)
			err := runAccountsList(context.Background(), &AccountsListOptions{IO: ios, ConfigPath: path, JSON: tt.json,
				Addr: "http://" + closedAddr(t), Now: fixedNow, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			assertGolden(t, tt.golden, stable(out.String(), dir))
			if strings.Contains(out.String(), expired) || strings.Contains(out.String(), testAccessToken) {
				t.Errorf("output reveals a token")
			}
		})
	}
}
