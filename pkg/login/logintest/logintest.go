// Package logintest is a fake OpenAI OAuth issuer on 127.0.0.1 and a fake
// clock, for tests of sign-in (pkg/login, `proxy accounts login`) that must
// not reach the internet or wait in real time.
package logintest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
)

// ClientID is the client id the fake issuer expects unless told another.
const ClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// UserCode is the device code the fake issuer hands out.
const UserCode = "ABCD-12345"

// Issuer is a fake auth.openai.com: device-code endpoints, token exchange
// with PKCE checked, and Authorize, which plays the issuer's part of the
// browser flow. Set its fields before the flow starts.
type Issuer struct {
	// URL is the issuer's base URL (http://127.0.0.1:PORT).
	URL string
	// ClientID is the client id requests must carry.
	ClientID string
	// AccountID is the chatgpt_account_id in the id tokens it issues.
	AccountID string
	// Pending is how many device polls answer 403 (not yet) before one
	// succeeds.
	Pending int
	// Deny makes device polls answer that the user declined.
	Deny bool
	// NoDevice makes the user-code endpoint answer 404.
	NoDevice bool
	// OpaqueTokens makes the exchange hand out tokens that are not JWTs.
	OpaqueTokens bool

	mu        sync.Mutex
	polls     int
	exchanges int
	codes     map[string]grant // authorization code -> what it was issued for
}

type grant struct{ challenge, redirectURI string }

// NewIssuer starts a fake issuer that closes when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	f := &Issuer{ClientID: ClientID, AccountID: "acct-fake-0001", codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/accounts/deviceauth/usercode", f.userCode)
	mux.HandleFunc("POST /api/accounts/deviceauth/token", f.devicePoll)
	mux.HandleFunc("POST /oauth/token", f.token)
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	f.URL = s.URL
	return f
}

// Polls is how many device polls the issuer has answered.
func (f *Issuer) Polls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls
}

// Exchanges is how many token exchanges succeeded.
func (f *Issuer) Exchanges() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchanges
}

func (f *Issuer) userCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID string `json:"client_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ClientID != f.ClientID {
		answer(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "invalid_client", "message": "unknown client"}})
		return
	}
	if f.NoDevice {
		http.NotFound(w, r)
		return
	}
	// The real issuer sends the interval as a string.
	answer(w, http.StatusOK, map[string]string{"device_auth_id": "deviceauth_fake_1", "user_code": UserCode, "interval": "5"})
}

func (f *Issuer) devicePoll(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DeviceAuthID string `json:"device_auth_id"`
		UserCode     string `json:"user_code"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.DeviceAuthID != "deviceauth_fake_1" || req.UserCode != UserCode {
		answer(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "invalid_request", "message": "unknown device code"}})
		return
	}
	f.mu.Lock()
	f.polls++
	n := f.polls
	f.mu.Unlock()
	switch {
	case f.Deny:
		answer(w, http.StatusBadRequest, map[string]string{"error": "access_denied", "error_description": "The user declined the sign-in."})
	case n <= f.Pending:
		answer(w, http.StatusForbidden, map[string]any{"error": map[string]string{"code": "deviceauth_authorization_unknown", "message": "Device authorization is unknown. Please try again."}})
	default:
		verifier := "device-verifier-" + strings.Repeat("v", 40)
		challenge := s256(verifier)
		code := f.issue(challenge, f.URL+"/deviceauth/callback")
		answer(w, http.StatusOK, map[string]string{"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier})
	}
}

// Authorize checks an authorize URL the way the issuer would, then
// returns the callback URL the browser would be sent to (with code and
// state), its host made 127.0.0.1 so the test dials what the callback
// server listens on.
func (f *Issuer) Authorize(authURL string) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(authURL, f.URL+"/oauth/authorize?") {
		return "", fmt.Errorf("authorize URL %s is not at the issuer", u.Redacted())
	}
	q := u.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": f.ClientID, "code_challenge_method": "S256",
		"id_token_add_organizations": "true", "codex_cli_simplified_flow": "true", "originator": "codex_cli_rs",
	} {
		if got := q.Get(k); got != want {
			return "", fmt.Errorf("authorize URL: %s = %q, want %q", k, got, want)
		}
	}
	for _, scope := range []string{"openid", "profile", "email", "offline_access"} {
		if !strings.Contains(" "+q.Get("scope")+" ", " "+scope+" ") {
			return "", fmt.Errorf("authorize URL: scope %q lacks %s", q.Get("scope"), scope)
		}
	}
	redirect := q.Get("redirect_uri")
	if !strings.HasPrefix(redirect, "http://localhost:") || !strings.HasSuffix(redirect, "/auth/callback") {
		return "", fmt.Errorf("authorize URL: redirect_uri %q is not http://localhost:PORT/auth/callback", redirect)
	}
	if q.Get("state") == "" || q.Get("code_challenge") == "" {
		return "", fmt.Errorf("authorize URL: no state or code_challenge")
	}
	code := f.issue(q.Get("code_challenge"), redirect)
	cb, _ := url.Parse(strings.Replace(redirect, "localhost", "127.0.0.1", 1))
	cb.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	return cb.String(), nil
}

func (f *Issuer) issue(challenge, redirectURI string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	code := fmt.Sprintf("authcode-%d", len(f.codes)+1)
	f.codes[code] = grant{challenge: challenge, redirectURI: redirectURI}
	return code
}

func (f *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		answer(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "want a form"})
		return
	}
	f.mu.Lock()
	g, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code")) // a code is good once
	f.mu.Unlock()
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("client_id") != f.ClientID:
		answer(w, http.StatusBadRequest, map[string]string{"error": "invalid_client"})
		return
	case !ok || g.redirectURI != r.PostForm.Get("redirect_uri") || g.challenge != s256(r.PostForm.Get("code_verifier")):
		answer(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "code, redirect_uri or code_verifier does not match"})
		return
	}
	f.mu.Lock()
	f.exchanges++
	n := f.exchanges
	f.mu.Unlock()
	id := codexauthtest.JWT(map[string]any{"email": "someone@example.com",
		"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": f.AccountID, "chatgpt_plan_type": "plus"}})
	access := codexauthtest.JWT(map[string]any{"exp": 4102444800, "n": n})
	if f.OpaqueTokens {
		id, access = "opaque-id", "opaque-access"
	}
	answer(w, http.StatusOK, map[string]string{"id_token": id, "access_token": access, "refresh_token": fmt.Sprintf("rt-fake-%d", n)})
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Clock is a fake clock whose Sleep moves time forward at once, so a
// polling loop runs its whole course without real waiting.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// NewClock returns a clock at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep moves the clock by d and returns at once, unless ctx has ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

// Slept returns the waits asked of Sleep, in order.
func (c *Clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
