package probe_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/probe"
)

// jwtAt is an access token that expires at exp, tagged so tokens differ.
func jwtAt(exp time.Time, tag string) string {
	return codexauthtest.JWT(map[string]any{"exp": exp.Unix(), "jti": tag})
}

// tokenEndpoint is a fake OAuth token endpoint on loopback answering every
// refresh with status and body, counting the refreshes.
type tokenEndpoint struct {
	url   string
	calls atomic.Int64
}

func startTokenEndpoint(t *testing.T, status int, body string) *tokenEndpoint {
	t.Helper()
	te := &tokenEndpoint{}
	s := startFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		te.calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	te.url = s.URL + "/oauth/token"
	return te
}

// writeLogin writes a Codex auth.json holding access and refresh tokens
// and returns its path.
func writeLogin(t *testing.T, access, refresh string) string {
	t.Helper()
	doc, _ := json.Marshal(map[string]any{"auth_mode": "chatgpt",
		"tokens": map[string]any{"access_token": access, "refresh_token": refresh, "account_id": accountID}})
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckRefreshesChatGPTLogin(t *testing.T) {
	var (
		expired = jwtAt(clock.Add(-time.Hour), "expired")
		revoked = jwtAt(clock.Add(time.Hour), "revoked") // not expired, but refused
		renewed = jwtAt(clock.Add(time.Hour), "renewed")
		other   = jwtAt(clock.Add(time.Hour), "other")
	)
	const oldRefresh, newRefresh = "rt-old-0123456789", "rt-new-0123456789"
	granted, _ := json.Marshal(map[string]string{"access_token": renewed, "refresh_token": newRefresh})
	const reused = `{"error":{"message":"Your refresh token has already been used to generate a new access token.","type":"invalid_request_error","code":"refresh_token_reused"}}`
	help := account.LoginHelp("chat")

	tests := []struct {
		name string
		// access is the token in the auth file; serves the one the
		// upstream takes.
		access, serves string
		// tokenStatus and tokenBody are the token endpoint's answer;
		// status 0 means nothing listens there.
		tokenStatus int
		tokenBody   string

		wantOK        bool
		wantRefreshed bool
		wantStatus    int
		wantClass     health.Class
		wantError     string   // prefix
		wantContains  []string // in Error
		wantLacks     []string // not in Error
		wantCalls     int64
		wantFile      string // access token in the auth file afterwards
	}{
		{
			name: "expired token renewed then ok", access: expired, serves: renewed,
			tokenStatus: http.StatusOK, tokenBody: string(granted),
			wantOK: true, wantRefreshed: true, wantStatus: http.StatusOK, wantClass: health.OK, wantCalls: 1, wantFile: renewed,
		},
		{
			name: "expired token and refresh token reused", access: expired, serves: renewed,
			tokenStatus: http.StatusUnauthorized, tokenBody: reused,
			wantClass:    health.Unauthorized,
			wantError:    "access token expired; token refresh refused (refresh_token_reused)",
			wantContains: []string{help}, wantCalls: 1, wantFile: expired,
		},
		{
			name: "refused token renewed then ok", access: revoked, serves: renewed,
			tokenStatus: http.StatusOK, tokenBody: string(granted),
			wantOK: true, wantRefreshed: true, wantStatus: http.StatusOK, wantClass: health.OK, wantCalls: 1, wantFile: renewed,
		},
		{
			name: "refused token and refresh token reused", access: revoked, serves: renewed,
			tokenStatus: http.StatusUnauthorized, tokenBody: reused,
			wantStatus: http.StatusUnauthorized, wantClass: health.Unauthorized,
			wantError:    "401 ChatGPT login refused; token refresh refused (refresh_token_reused)",
			wantContains: []string{help}, wantCalls: 1, wantFile: revoked,
		},
		{
			name: "renewed token refused too", access: revoked, serves: other,
			tokenStatus: http.StatusOK, tokenBody: string(granted),
			wantRefreshed: true, wantStatus: http.StatusUnauthorized, wantClass: health.Unauthorized,
			wantError: "401 ChatGPT login refused even with a renewed access token: " + help,
			wantCalls: 1, wantFile: renewed,
		},
		{
			name: "token endpoint unreachable", access: expired, serves: renewed,
			wantClass:    health.Network,
			wantError:    "access token expired; could not renew the token, the token endpoint failed (",
			wantContains: []string{"connection refused", "the login may still be good"},
			wantLacks:    []string{help, "login expired"}, wantFile: expired,
		},
		{
			name: "token endpoint down after a refusal", access: revoked, serves: renewed,
			tokenStatus: http.StatusServiceUnavailable, tokenBody: `{"error":"unavailable"}`,
			wantStatus: http.StatusUnauthorized, wantClass: health.Network,
			wantError:    "401 ChatGPT login refused; could not renew the token, the token endpoint failed (503 Service Unavailable)",
			wantContains: []string{"the login may still be good"},
			wantLacks:    []string{help}, wantCalls: 1, wantFile: revoked,
		},
		{
			name: "valid token not refreshed", access: renewed, serves: renewed,
			tokenStatus: http.StatusOK, tokenBody: string(granted),
			wantOK: true, wantStatus: http.StatusOK, wantClass: health.OK, wantFile: renewed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startFake(t, fakeupstream.New("chat", fakeupstream.WithChatGPT(tt.serves, accountID), fakeupstream.WithClock(fixedNow)))
			te := &tokenEndpoint{url: "http://" + closedPort(t) + "/oauth/token"}
			if tt.tokenStatus != 0 {
				te = startTokenEndpoint(t, tt.tokenStatus, tt.tokenBody)
			}
			path := writeLogin(t, tt.access, oldRefresh)
			a := newAccount(t, config.Account{Name: "chat", Type: config.TypeOpenAIResponses,
				BaseURL: up.URL + "/backend-api/codex", AuthFile: path, Weight: 1})
			refresher := account.NewRefresher(account.RefresherOptions{TokenURL: te.url, ClientID: "client-for-tests",
				Now: fixedNow, Logger: slog.New(slog.DiscardHandler)})

			r := probe.Check(context.Background(), a, probe.Options{Now: fixedNow, Location: time.UTC, Refresher: refresher})
			if err := refresher.Close(); err != nil {
				t.Fatal(err)
			}

			if r.OK != tt.wantOK || r.Refreshed != tt.wantRefreshed || r.Status != tt.wantStatus {
				t.Errorf("OK, Refreshed, Status = %v, %v, %d; want %v, %v, %d (error %q)",
					r.OK, r.Refreshed, r.Status, tt.wantOK, tt.wantRefreshed, tt.wantStatus, r.Error)
			}
			if r.Outcome.Class != tt.wantClass {
				t.Errorf("Outcome.Class = %q, want %q", r.Outcome.Class, tt.wantClass)
			}
			if !strings.HasPrefix(r.Error, tt.wantError) || (tt.wantError == "") != (r.Error == "") {
				t.Errorf("Error = %q, want it to start with %q", r.Error, tt.wantError)
			}
			for _, s := range tt.wantContains {
				if !strings.Contains(r.Error, s) {
					t.Errorf("Error = %q, want it to contain %q", r.Error, s)
				}
			}
			for _, s := range append(tt.wantLacks, expired, revoked, renewed, other, oldRefresh, newRefresh) {
				if strings.Contains(r.Error, s) {
					t.Errorf("Error = %q contains %q", r.Error, s)
				}
			}
			if got := te.calls.Load(); got != tt.wantCalls {
				t.Errorf("token endpoint called %d times, want %d", got, tt.wantCalls)
			}
			f, err := codexauth.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			wantRefresh := oldRefresh
			if tt.wantFile == renewed && tt.access != renewed {
				wantRefresh = newRefresh
			}
			if f.Tokens.AccessToken != tt.wantFile || f.Tokens.RefreshToken != wantRefresh {
				t.Errorf("auth file holds access %q refresh %q; want access %q refresh %q",
					f.Tokens.AccessToken, f.Tokens.RefreshToken, tt.wantFile, wantRefresh)
			}
		})
	}
}

// TestCheckExpiredWithoutRefreshToken checks that a login that cannot be
// renewed says so, and how to log in again.
func TestCheckExpiredWithoutRefreshToken(t *testing.T) {
	expired := jwtAt(clock.Add(-time.Hour), "expired")
	up := startFake(t, fakeupstream.New("chat", fakeupstream.WithChatGPT(accessToken, accountID)))
	a := newAccount(t, config.Account{Name: "chat", Type: config.TypeOpenAIResponses,
		BaseURL: up.URL, AccessToken: expired, AccountID: accountID, Weight: 1})
	refresher := account.NewRefresher(account.RefresherOptions{TokenURL: "http://" + closedPort(t), Now: fixedNow, Logger: slog.New(slog.DiscardHandler)})
	defer refresher.Close()

	r := probe.Check(context.Background(), a, probe.Options{Now: fixedNow, Refresher: refresher})
	want := "401 ChatGPT login refused: the access token has expired and there is no refresh token; " + account.LoginHelp("chat")
	if r.OK || !strings.HasPrefix(r.Error, want) || r.Refreshed {
		t.Errorf("OK %v, Refreshed %v, Error %q; want a failure starting %q", r.OK, r.Refreshed, r.Error, want)
	}
}
