package test_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/test"
	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// loginJWT is an access token that expires at exp, tagged so tokens differ.
func loginJWT(exp time.Time, tag string) string {
	return codexauthtest.JWT(map[string]any{"exp": exp.Unix(), "jti": tag})
}

// loginFile writes a Codex auth.json to dir and returns its path.
func loginFile(t *testing.T, dir, access, refresh string) string {
	t.Helper()
	doc, _ := json.Marshal(map[string]any{"auth_mode": "chatgpt",
		"tokens": map[string]any{"access_token": access, "refresh_token": refresh, "account_id": cmdtest.TestAccountID}})
	return cmdtest.WriteFile(t, dir, "auth.json", string(doc), 0o600)
}

// tokenEndpoint answers every refresh with status and body.
func tokenEndpoint(t *testing.T, status int, body string) string {
	t.Helper()
	return cmdtest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	expired := loginJWT(cmdtest.TestClock.Add(-time.Hour), "expired")
	renewed := loginJWT(cmdtest.TestClock.Add(time.Hour), "renewed")
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
			up := cmdtest.Serve(t, fakeupstream.New("chat", fakeupstream.WithChatGPT(renewed, cmdtest.TestAccountID), fakeupstream.WithClock(cmdtest.FixedNow)))
			auth := loginFile(t, dir, expired, oldRefresh)
			cfg := fmt.Sprintf(`oauth: {token_url: %s}
accounts:
  - {name: chatgpt, type: openai-responses, base_url: %s/backend-api/codex, auth_file: %s}
`, tokenEndpoint(t, tt.tokenStatus, tt.tokenBody), up.URL, auth)
			path := cmdtest.WriteFile(t, dir, "proxy.yaml", cfg, 0o600)
			ios, out, errOut := cmdtest.IO(nil, true)
			err := test.RunAccountsTest(context.Background(), &test.AccountsTestOptions{IO: ios, ConfigPath: path,
				Timeout: 10 * time.Second, Now: cmdtest.FixedNow, Location: time.UTC})
			if code := cmdtest.ExitCode(ios.ErrOut, err); code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr %s", code, tt.wantCode, errOut)
			}
			cmdtest.AssertGolden(t, tt.golden, cmdtest.Stable(out.String(), dir))
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
