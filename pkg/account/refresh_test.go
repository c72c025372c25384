package account_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/store"
)

const testClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// tokenServer is a fake OAuth token endpoint on loopback. It answers with
// status and body, counting requests and keeping the last one.
type tokenServer struct {
	*httptest.Server
	calls atomic.Int64

	mu      sync.Mutex
	status  int
	body    string
	lastReq map[string]string
	lastCT  string
	header  http.Header // added to every answer
}

func newTokenServer(t *testing.T, status int, body string) *tokenServer {
	t.Helper()
	ts := &tokenServer{status: status, body: body}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.calls.Add(1)
		var req map[string]string
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &req)
		ts.mu.Lock()
		ts.lastReq, ts.lastCT = req, r.Header.Get("Content-Type")
		status, body, header := ts.status, ts.body, ts.header
		ts.mu.Unlock()
		for k, vs := range header {
			w.Header()[k] = vs
		}
		if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" {
			http.Error(w, "wrong endpoint", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) url() string { return ts.URL + "/oauth/token" }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newRefresher(ts *tokenServer, shared account.SharedTokens) *account.Refresher {
	return account.NewRefresher(account.RefresherOptions{
		TokenURL: ts.url(), ClientID: testClientID, Client: ts.Client(),
		Shared: shared, Now: func() time.Time { return testNow }, Logger: quietLogger(),
		PollEvery: 2 * time.Millisecond, WaitFor: 10 * time.Second,
	})
}

// loginFixture is a ChatGPT account backed by a Codex auth.json in a temp dir.
type loginFixture struct {
	dir, path      string
	access, idTok  string
	refreshToken   string
	account        *account.Account
	originalAuthFS []byte
}

func newLogin(t *testing.T, name string) *loginFixture {
	t.Helper()
	f := &loginFixture{dir: t.TempDir(), refreshToken: "rt-original"}
	f.access = fakeJWT(t, testNow.Add(-time.Minute), "", "old-access-"+name)
	f.idTok = fakeJWT(t, testNow.Add(time.Hour), "acct-"+name, "old-id")
	f.originalAuthFS = authJSON(t, f.idTok, f.access, f.refreshToken, "acct-"+name)
	f.path = writeAuthFile(t, f.dir, f.originalAuthFS)
	f.account = mustNew(t, config.Account{Name: name, Type: config.TypeOpenAIResponses, AuthFile: f.path, Enabled: true})
	return f
}

func (f *loginFixture) readFile(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("auth file is not JSON: %v\n%s", err, data)
	}
	return doc
}

func tokenAnswer(t *testing.T, access, id, refresh string) string {
	t.Helper()
	m := map[string]string{"access_token": access}
	if id != "" {
		m["id_token"] = id
	}
	if refresh != "" {
		m["refresh_token"] = refresh
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestRefreshSuccess(t *testing.T) {
	tests := []struct {
		name        string
		newRefresh  string // "" when the endpoint sends none back
		newID       bool
		wantRefresh string
	}{
		{name: "rotated refresh token", newRefresh: "rt-rotated", newID: true, wantRefresh: "rt-rotated"},
		{name: "no refresh token back keeps the old one", newRefresh: "", wantRefresh: "rt-original"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLogin(t, "gpt")
			a := f.account
			newAccess := fakeJWT(t, testNow.Add(10*24*time.Hour), "", "new-access")
			newID := ""
			if tc.newID {
				newID = fakeJWT(t, testNow.Add(10*24*time.Hour), "acct-gpt", "new-id")
			}
			ts := newTokenServer(t, http.StatusOK, tokenAnswer(t, newAccess, newID, tc.newRefresh))
			r := newRefresher(ts, nil)

			if !a.NeedsRefresh(testNow) {
				t.Fatal("fixture token does not need a refresh")
			}
			idBefore := a.CredentialID()
			if err := r.Refresh(context.Background(), a, a.AccessTag()); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if ts.calls.Load() != 1 || r.Refreshes() != 1 {
				t.Errorf("token requests = %d (Refreshes %d), want 1", ts.calls.Load(), r.Refreshes())
			}
			ts.mu.Lock()
			req, ct := ts.lastReq, ts.lastCT
			ts.mu.Unlock()
			if req["grant_type"] != "refresh_token" || req["client_id"] != testClientID || req["refresh_token"] != "rt-original" || ct != "application/json" {
				t.Errorf("token request = %v (Content-Type %q)", req, ct)
			}

			h := authorized(a, nil)
			if got := h.Get("Authorization"); got != "Bearer "+newAccess {
				t.Errorf("Authorization after refresh = %q", got)
			}
			if got := h.Get("Chatgpt-Account-Id"); got != "acct-gpt" {
				t.Errorf("Chatgpt-Account-Id after refresh = %q", got)
			}
			if a.NeedsRefresh(testNow) {
				t.Errorf("still NeedsRefresh after a refresh")
			}
			if changed := a.CredentialID() != idBefore; changed != (tc.wantRefresh != "rt-original") {
				t.Errorf("CredentialID changed = %v, want %v", changed, tc.wantRefresh != "rt-original")
			}

			// The file: new tokens, old unknown fields, 0600, written atomically.
			st, err := os.Stat(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := st.Mode().Perm(); mode != 0o600 {
				t.Errorf("auth file mode = %o, want 600", mode)
			}
			doc := f.readFile(t)
			tokens, _ := doc["tokens"].(map[string]any)
			wantID := f.idTok
			if newID != "" {
				wantID = newID
			}
			if tokens["access_token"] != newAccess || tokens["refresh_token"] != tc.wantRefresh || tokens["id_token"] != wantID || tokens["account_id"] != "acct-gpt" {
				t.Errorf("tokens in file = %v", tokens)
			}
			if tokens["future_token_field"] != "keep-me" {
				t.Errorf("unknown field in tokens lost: %v", tokens)
			}
			if ai, _ := doc["agent_identity"].(map[string]any); ai["keep"] != true {
				t.Errorf("unknown top-level field lost: %v", doc)
			}
			if _, ok := doc["OPENAI_API_KEY"]; !ok || doc["OPENAI_API_KEY"] != nil {
				t.Errorf("OPENAI_API_KEY: null not kept: %v", doc["OPENAI_API_KEY"])
			}
			if doc["auth_mode"] != "chatgpt" {
				t.Errorf("auth_mode = %v", doc["auth_mode"])
			}
			if doc["last_refresh"] != testNow.Format(time.RFC3339Nano) {
				t.Errorf("last_refresh = %v, want %v", doc["last_refresh"], testNow.Format(time.RFC3339Nano))
			}
			entries, _ := os.ReadDir(f.dir)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("directory holds %v, want only auth.json (temp file left behind?)", names)
			}

			// A new account read from the file starts with the rotated tokens.
			again := mustNew(t, config.Account{Name: "gpt", Type: config.TypeOpenAIResponses, AuthFile: f.path})
			if again.AccessTag() != a.AccessTag() || again.CredentialID() != a.CredentialID() {
				t.Errorf("a restart would not use the refreshed tokens")
			}
		})
	}
}

func TestRefreshInlineTokensWriteTokenFile(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Account{Name: "inline", Type: config.TypeOpenAIResponses, AccessToken: fakeJWT(t, testNow.Add(-time.Hour), "", "old"), RefreshToken: "rt-inline", AccountID: "acct-inline"}
	a := mustNew(t, cfg, account.WithTokenDir(dir))
	newAccess := fakeJWT(t, testNow.Add(time.Hour), "", "new")
	ts := newTokenServer(t, http.StatusOK, tokenAnswer(t, newAccess, "", "rt-inline-2"))
	var logged bytes.Buffer
	r := account.NewRefresher(account.RefresherOptions{
		TokenURL: ts.url(), ClientID: testClientID, Client: ts.Client(),
		Now: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(&logged, nil)),
	})
	if err := r.Refresh(context.Background(), a, a.AccessTag()); err != nil {
		t.Fatal(err)
	}
	if got := authorized(a, nil).Get("Authorization"); got != "Bearer "+newAccess {
		t.Errorf("Authorization after refresh = %q", got)
	}
	p := filepath.Join(dir, account.TokenFileName("inline"))
	st, err := os.Stat(p)
	if err != nil {
		t.Fatalf("rotated tokens not written: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %o, want 600", st.Mode().Perm())
	}
	// Restarting with the same (stale) inline config uses the rotated tokens.
	restarted := mustNew(t, cfg, account.WithTokenDir(dir))
	if got := authorized(restarted, nil).Get("Authorization"); got != "Bearer "+newAccess {
		t.Errorf("after restart Authorization = %q, want the rotated token", got)
	}
	if got := authorized(restarted, nil).Get("Chatgpt-Account-Id"); got != "acct-inline" {
		t.Errorf("after restart Chatgpt-Account-Id = %q", got)
	}
}

func TestRefreshErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		body        string
		wantExpired bool
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"Invalid refresh token"}`, true},
		{"refresh_token_expired", 401, `{"error":{"message":"Your refresh token has expired.","type":"invalid_request_error","code":"refresh_token_expired"}}`, true},
		{"refresh_token_reused", 401, `{"error":{"message":"Your refresh token has already been used.","code":"refresh_token_reused"}}`, true},
		{"refresh_token_invalidated", 401, `{"error":{"message":"Your refresh token was revoked.","code":"refresh_token_invalidated"}}`, true},
		{"transient 500", 500, `{"error":{"message":"internal error","type":"server_error"}}`, false},
		{"502 html", 502, `<html>bad gateway</html>`, false},
		{"200 without access_token", 200, `{"id_token":"x"}`, false},
		{"200 not JSON", 200, `not json`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLogin(t, "gpt")
			a := f.account
			tagBefore, authBefore := a.AccessTag(), authorized(a, nil).Get("Authorization")
			ts := newTokenServer(t, tc.status, tc.body)
			err := newRefresher(ts, nil).Refresh(context.Background(), a, a.AccessTag())
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			if got := errors.Is(err, account.ErrLoginExpired); got != tc.wantExpired {
				t.Errorf("errors.Is(%v, ErrLoginExpired) = %v, want %v", err, got, tc.wantExpired)
			}
			if strings.Contains(err.Error(), "rt-original") {
				t.Errorf("error reveals the refresh token: %v", err)
			}
			if a.AccessTag() != tagBefore || authorized(a, nil).Get("Authorization") != authBefore {
				t.Errorf("tokens changed by a failed refresh")
			}
			data, _ := os.ReadFile(f.path)
			if string(data) != string(f.originalAuthFS) {
				t.Errorf("auth file rewritten by a failed refresh:\n%s", data)
			}
		})
	}

	t.Run("no refresh token", func(t *testing.T) {
		a := mustNew(t, config.Account{Name: "g", Type: config.TypeOpenAIResponses, AccessToken: fakeJWT(t, testNow.Add(-time.Hour), "", "x")})
		ts := newTokenServer(t, 200, "{}")
		err := newRefresher(ts, nil).Refresh(context.Background(), a, a.AccessTag())
		if !errors.Is(err, account.ErrLoginExpired) {
			t.Errorf("err = %v, want ErrLoginExpired", err)
		}
		if ts.calls.Load() != 0 {
			t.Errorf("token endpoint called without a refresh token")
		}
	})
	t.Run("endpoint unreachable", func(t *testing.T) {
		f := newLogin(t, "gpt")
		ts := newTokenServer(t, 200, "{}")
		ts.Close()
		err := newRefresher(ts, nil).Refresh(context.Background(), f.account, f.account.AccessTag())
		if err == nil || errors.Is(err, account.ErrLoginExpired) {
			t.Errorf("err = %v, want a transient error", err)
		}
	})
}

func TestRefreshNotNeeded(t *testing.T) {
	t.Run("api key account", func(t *testing.T) {
		ts := newTokenServer(t, 200, "{}")
		a := mustNew(t, config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://x", APIKey: "k"})
		if err := newRefresher(ts, nil).Refresh(context.Background(), a, ""); err != nil {
			t.Errorf("Refresh(api key) = %v", err)
		}
		if ts.calls.Load() != 0 {
			t.Errorf("token endpoint called for an API key account")
		}
	})
	t.Run("token already replaced since it was seen", func(t *testing.T) {
		ts := newTokenServer(t, 200, "{}")
		f := newLogin(t, "gpt")
		if err := newRefresher(ts, nil).Refresh(context.Background(), f.account, "some-older-tag"); err != nil {
			t.Errorf("Refresh = %v", err)
		}
		if ts.calls.Load() != 0 {
			t.Errorf("token endpoint called for a token already replaced")
		}
	})
}

func TestRefreshSingleFlight(t *testing.T) {
	f := newLogin(t, "gpt")
	a := f.account
	newAccess := fakeJWT(t, testNow.Add(time.Hour), "", "new")
	ts := newTokenServer(t, http.StatusOK, tokenAnswer(t, newAccess, "", "rt-2"))
	r := newRefresher(ts, nil)
	seen := a.AccessTag()

	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- r.Refresh(context.Background(), a, seen)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Refresh: %v", err)
		}
	}
	if got := ts.calls.Load(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
	if got := authorized(a, nil).Get("Authorization"); got != "Bearer "+newAccess {
		t.Errorf("Authorization = %q", got)
	}
}

// sharedStore is one miniredis seen by several instances.
func sharedStore(t *testing.T, mr *miniredis.Miniredis) *store.Store {
	t.Helper()
	st := store.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}), store.Options{KeyPrefix: "t:"})
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestRefreshShared(t *testing.T) {
	t.Run("second instance adopts the first's tokens", func(t *testing.T) {
		mr := miniredis.RunT(t)
		newAccess := fakeJWT(t, testNow.Add(time.Hour), "", "new")
		ts := newTokenServer(t, http.StatusOK, tokenAnswer(t, newAccess, "", "rt-rotated"))

		one, two := newLogin(t, "gpt"), newLogin(t, "gpt") // same login, one file per instance
		r1 := newRefresher(ts, sharedStore(t, mr))
		r2 := newRefresher(ts, sharedStore(t, mr))

		if err := r1.Refresh(context.Background(), one.account, one.account.AccessTag()); err != nil {
			t.Fatal(err)
		}
		if err := r2.Refresh(context.Background(), two.account, two.account.AccessTag()); err != nil {
			t.Fatal(err)
		}
		if got := ts.calls.Load(); got != 1 {
			t.Errorf("token requests = %d, want 1 (the second instance must adopt, not refresh a rotated token)", got)
		}
		if r2.Refreshes() != 0 {
			t.Errorf("instance 2 made %d token requests", r2.Refreshes())
		}
		if got := authorized(two.account, nil).Get("Authorization"); got != "Bearer "+newAccess {
			t.Errorf("instance 2 Authorization = %q", got)
		}
		if two.account.CredentialID() != one.account.CredentialID() {
			t.Errorf("instance 2 did not take the rotated refresh token")
		}
		tokens, _ := two.readFile(t)["tokens"].(map[string]any)
		if tokens["access_token"] != newAccess || tokens["refresh_token"] != "rt-rotated" {
			t.Errorf("instance 2 did not persist adopted tokens: %v", tokens)
		}
		// The secret in Redis holds the tokens, under the prefix.
		if !mr.Exists("t:secret:tokens:gpt") {
			t.Errorf("shared tokens not stored under the key prefix; keys: %v", mr.Keys())
		}
	})

	t.Run("expired shared tokens are not adopted", func(t *testing.T) {
		mr := miniredis.RunT(t)
		st := sharedStore(t, mr)
		stale := fakeJWT(t, testNow.Add(-time.Second), "", "stale")
		v, _ := json.Marshal(map[string]string{"access_token": stale, "refresh_token": "rt-stale"})
		if err := st.SetSecret(context.Background(), "tokens:gpt", v); err != nil {
			t.Fatal(err)
		}
		fresh := fakeJWT(t, testNow.Add(time.Hour), "", "fresh")
		ts := newTokenServer(t, http.StatusOK, tokenAnswer(t, fresh, "", ""))
		f := newLogin(t, "gpt")
		if err := newRefresher(ts, st).Refresh(context.Background(), f.account, f.account.AccessTag()); err != nil {
			t.Fatal(err)
		}
		if ts.calls.Load() != 1 {
			t.Errorf("token requests = %d, want 1", ts.calls.Load())
		}
		if got := authorized(f.account, nil).Get("Authorization"); got != "Bearer "+fresh {
			t.Errorf("Authorization = %q, want the freshly refreshed token", got)
		}
	})

	t.Run("waits for the instance holding the lock", func(t *testing.T) {
		mr := miniredis.RunT(t)
		holder := sharedStore(t, mr)
		ts := newTokenServer(t, http.StatusOK, "{}")
		f := newLogin(t, "gpt")
		unlock, ok, err := holder.TryLock(context.Background(), "refresh:gpt", time.Minute)
		if err != nil || !ok {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		defer unlock()

		done := make(chan error, 1)
		go func() {
			done <- newRefresher(ts, sharedStore(t, mr)).Refresh(context.Background(), f.account, f.account.AccessTag())
		}()
		published := fakeJWT(t, testNow.Add(time.Hour), "", "published")
		v, _ := json.Marshal(map[string]string{"access_token": published, "refresh_token": "rt-published"})
		if err := holder.SetSecret(context.Background(), "tokens:gpt", v); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("waiting instance: %v", err)
		}
		if ts.calls.Load() != 0 {
			t.Errorf("waiting instance called the token endpoint")
		}
		if got := authorized(f.account, nil).Get("Authorization"); got != "Bearer "+published {
			t.Errorf("Authorization = %q, want the published token", got)
		}
	})

	t.Run("gives up when the lock holder never publishes", func(t *testing.T) {
		mr := miniredis.RunT(t)
		holder := sharedStore(t, mr)
		ts := newTokenServer(t, http.StatusOK, "{}")
		f := newLogin(t, "gpt")
		unlock, ok, err := holder.TryLock(context.Background(), "refresh:gpt", time.Minute)
		if err != nil || !ok {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		defer unlock()
		r := account.NewRefresher(account.RefresherOptions{
			TokenURL: ts.url(), ClientID: testClientID, Client: ts.Client(), Shared: sharedStore(t, mr),
			Now: func() time.Time { return testNow }, Logger: quietLogger(),
			PollEvery: time.Millisecond, WaitFor: 5 * time.Millisecond,
		})
		err = r.Refresh(context.Background(), f.account, f.account.AccessTag())
		if err == nil || errors.Is(err, account.ErrLoginExpired) {
			t.Errorf("err = %v, want a transient error", err)
		}
		if ts.calls.Load() != 0 {
			t.Errorf("token endpoint called while another instance holds the lock")
		}
	})
}

// oauthServer is a fake token endpoint on loopback that rotates refresh
// tokens as the real one does: each granted refresh token buys one answer,
// and any other (a spent one included) is refused as reused.
type oauthServer struct {
	*httptest.Server

	mu     sync.Mutex
	grants map[string][2]string // refresh token -> {access, next refresh}
	spent  []string             // refresh tokens presented, in order
	// before runs with each presented token before the answer: another
	// program winning the race for the same login.
	before func(rt string)
	// arrived, when set, receives each presented token; release, when
	// set, holds every answer until it is closed.
	arrived chan string
	release chan struct{}
}

func newOAuthServer(t *testing.T) *oauthServer {
	t.Helper()
	s := &oauthServer{grants: map[string][2]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &req)
		rt := req["refresh_token"]
		s.mu.Lock()
		s.spent = append(s.spent, rt)
		before, arrived, release := s.before, s.arrived, s.release
		s.mu.Unlock()
		if before != nil {
			before(rt)
		}
		if arrived != nil {
			arrived <- rt
		}
		if release != nil {
			<-release
		}
		// The token is spent whether or not the client is still there
		// to read the answer: that is the bug this fake reproduces.
		s.mu.Lock()
		g, ok := s.grants[rt]
		delete(s.grants, rt)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"message":"Your refresh token has already been used to generate a new access token.","code":"refresh_token_reused"}}`)
			return
		}
		_, _ = io.WriteString(w, tokenAnswer(t, g[0], "", g[1]))
	}))
	t.Cleanup(s.Close)
	return s
}

// grant makes refresh token rt good for one exchange.
func (s *oauthServer) grant(rt, access, next string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[rt] = [2]string{access, next}
}

// gate holds answers until the returned release function runs (at the
// latest at cleanup, before the server closes).
func (s *oauthServer) gate(t *testing.T) (release func()) {
	s.mu.Lock()
	s.arrived, s.release = make(chan string, 16), make(chan struct{})
	rel := s.release
	s.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(release)
	return release
}

func (s *oauthServer) presented() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.spent...)
}

func oauthRefresher(s *oauthServer, shared account.SharedTokens, timeout time.Duration) *account.Refresher {
	return account.NewRefresher(account.RefresherOptions{
		TokenURL: s.URL + "/oauth/token", ClientID: testClientID, Client: s.Client(),
		Shared: shared, Now: func() time.Time { return testNow }, Logger: quietLogger(),
		PollEvery: 2 * time.Millisecond, WaitFor: 10 * time.Second,
		Base: context.Background(), Timeout: timeout,
	})
}

// recv fails the test rather than hanging when nothing comes.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// fileTokens returns the tokens in the fixture's auth file.
func (f *loginFixture) fileTokens(t *testing.T) map[string]any {
	t.Helper()
	tokens, _ := f.readFile(t)["tokens"].(map[string]any)
	return tokens
}

// rewrite replaces the auth file as Codex does after its own refresh.
func (f *loginFixture) rewrite(t *testing.T, access, refresh, accountID string) {
	t.Helper()
	if err := os.WriteFile(f.path, authJSON(t, f.idTok, access, refresh, accountID), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshOutlivesItsCaller(t *testing.T) {
	tests := []struct {
		name string
		// finish lets the held refresh complete and waits until it is
		// saved; it returns a refresher to use afterwards.
		finish func(t *testing.T, r *account.Refresher, s *oauthServer, a *account.Account, oldTag string, release func()) *account.Refresher
	}{
		{
			name: "Close waits for the refresh in flight",
			finish: func(t *testing.T, r *account.Refresher, s *oauthServer, a *account.Account, _ string, release func()) *account.Refresher {
				release()
				if err := r.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if err := r.Refresh(context.Background(), a, a.AccessTag()); !errors.Is(err, account.ErrRefresherClosed) {
					t.Errorf("Refresh after Close = %v, want ErrRefresherClosed", err)
				}
				return oauthRefresher(s, nil, time.Minute)
			},
		},
		{
			name: "a second caller joins the refresh in flight",
			finish: func(t *testing.T, r *account.Refresher, _ *oauthServer, a *account.Account, oldTag string, release func()) *account.Refresher {
				joined := make(chan error, 1)
				go func() { joined <- r.Refresh(context.Background(), a, oldTag) }()
				release()
				if err := recv(t, joined, "the joining caller"); err != nil {
					t.Fatalf("joining caller: %v", err)
				}
				return r
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLogin(t, "gpt")
			a := f.account
			oldTag := a.AccessTag()
			rotated := fakeJWT(t, testNow.Add(10*24*time.Hour), "", "rotated")
			third := fakeJWT(t, testNow.Add(20*24*time.Hour), "", "third")
			s := newOAuthServer(t)
			s.grant("rt-original", rotated, "rt-rotated")
			s.grant("rt-rotated", third, "rt-third")
			release := s.gate(t)
			r := oauthRefresher(s, nil, time.Minute)

			ctx, hangUp := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- r.Refresh(ctx, a, oldTag) }()
			if rt := recv(t, s.arrived, "the token request"); rt != "rt-original" {
				t.Fatalf("token request spent %q", rt)
			}
			hangUp()
			if err := recv(t, errc, "the caller that hung up"); !errors.Is(err, context.Canceled) {
				t.Fatalf("caller that hung up got %v, want context.Canceled", err)
			}
			if a.AccessTag() != oldTag {
				t.Fatal("tokens changed before the token server answered")
			}

			r = tc.finish(t, r, s, a, oldTag, release)

			if authorized(a, nil).Get("Authorization") != "Bearer "+rotated {
				t.Errorf("Authorization does not carry the rotated token")
			}
			if tok := f.fileTokens(t); tok["access_token"] != rotated || tok["refresh_token"] != "rt-rotated" {
				t.Errorf("auth file does not hold the rotated tokens")
			}
			if st, err := os.Stat(f.path); err != nil {
				t.Error(err)
			} else if st.Mode().Perm() != 0o600 {
				t.Errorf("auth file mode = %o, want 600", st.Mode().Perm())
			}

			// A caller that saw the old token does not refresh again; one
			// refused with the rotated token spends the rotated refresh token.
			if err := r.Refresh(context.Background(), a, oldTag); err != nil {
				t.Errorf("Refresh with the old tag: %v", err)
			}
			if err := r.Refresh(context.Background(), a, a.AccessTag()); err != nil {
				t.Errorf("Refresh of the rotated token: %v", err)
			}
			if got, want := s.presented(), []string{"rt-original", "rt-rotated"}; !equalStrings(got, want) {
				t.Errorf("refresh tokens presented = %v, want %v", got, want)
			}
			if authorized(a, nil).Get("Authorization") != "Bearer "+third {
				t.Errorf("Authorization after the second refresh does not carry its token")
			}
		})
	}
}

func TestRefreshTimeout(t *testing.T) {
	f := newLogin(t, "gpt")
	a := f.account
	tag := a.AccessTag()
	s := newOAuthServer(t)
	s.gate(t) // never answers while the test runs
	// A real deadline is the thing under test here.
	r := oauthRefresher(s, nil, 30*time.Millisecond)
	err := r.Refresh(context.Background(), a, tag)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, account.ErrLoginExpired) {
		t.Errorf("err = %v, want a deadline error", err)
	}
	if a.AccessTag() != tag {
		t.Errorf("tokens changed by a refresh that timed out")
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

func TestRefreshRotatedByAnotherProgram(t *testing.T) {
	codexFresh := fakeJWT(t, testNow.Add(time.Hour), "", "codex-fresh")
	codexExpired := fakeJWT(t, testNow.Add(-30*time.Second), "", "codex-expired") // later than the fixture's
	staleAccess := fakeJWT(t, testNow.Add(-time.Hour), "", "stale")               // earlier than the fixture's
	ours := fakeJWT(t, testNow.Add(10*24*time.Hour), "", "ours")
	tests := []struct {
		name          string
		access, rt    string // what the other program writes
		accountID     string
		wantPresented []string
		wantAccess    string
		wantFileRT    string
		wantAccountID string
	}{
		{
			name: "fresh tokens in the file are taken without a refresh", access: codexFresh, rt: "rt-racer", accountID: "acct-gpt",
			wantPresented: nil, wantAccess: codexFresh, wantFileRT: "rt-racer", wantAccountID: "acct-gpt",
		},
		{
			name: "expired access token in the file: its refresh token is spent", access: codexExpired, rt: "rt-racer", accountID: "acct-gpt",
			wantPresented: []string{"rt-racer"}, wantAccess: ours, wantFileRT: "rt-ours", wantAccountID: "acct-gpt",
		},
		{
			name: "a file older than the tokens in memory is ignored", access: staleAccess, rt: "rt-stale", accountID: "acct-gpt",
			wantPresented: []string{"rt-original"}, wantAccess: ours, wantFileRT: "rt-ours", wantAccountID: "acct-gpt",
		},
		{
			name: "a file now holding another ChatGPT account is not taken", access: codexFresh, rt: "rt-other", accountID: "acct-other",
			wantPresented: []string{"rt-original"}, wantAccess: ours, wantFileRT: "rt-ours", wantAccountID: "acct-gpt",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLogin(t, "gpt")
			a := f.account
			s := newOAuthServer(t)
			s.grant("rt-original", ours, "rt-ours")
			s.grant("rt-racer", ours, "rt-ours")
			mr := miniredis.RunT(t)
			st := sharedStore(t, mr)
			r := oauthRefresher(s, st, time.Minute)

			f.rewrite(t, tc.access, tc.rt, tc.accountID)
			if err := r.Refresh(context.Background(), a, a.AccessTag()); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if got := s.presented(); !equalStrings(got, tc.wantPresented) {
				t.Errorf("refresh tokens presented = %v, want %v", got, tc.wantPresented)
			}
			h := authorized(a, nil)
			if h.Get("Authorization") != "Bearer "+tc.wantAccess {
				t.Errorf("Authorization does not carry the expected access token")
			}
			if got := h.Get("Chatgpt-Account-Id"); got != tc.wantAccountID {
				t.Errorf("Chatgpt-Account-Id = %q, want %q", got, tc.wantAccountID)
			}
			if got := f.fileTokens(t)["refresh_token"]; got != tc.wantFileRT {
				t.Errorf("refresh token in the file = %v, want %v", got, tc.wantFileRT)
			}
			// What this instance now uses is what the others get.
			raw, err := st.Secret(context.Background(), "tokens:gpt")
			if err != nil {
				t.Fatal(err)
			}
			var shared map[string]string
			_ = json.Unmarshal(raw, &shared)
			if shared["access_token"] != tc.wantAccess {
				t.Errorf("shared tokens do not hold the access token in use")
			}
		})
	}
}

func TestRefreshReusedThenReread(t *testing.T) {
	codexFresh := fakeJWT(t, testNow.Add(time.Hour), "", "codex-fresh")
	codexExpired := fakeJWT(t, testNow.Add(-30*time.Second), "", "codex-expired")
	ours := fakeJWT(t, testNow.Add(10*24*time.Hour), "", "ours")
	tests := []struct {
		name string
		// racer is what Codex writes while the proxy's request is on its
		// way; "" writes nothing.
		racerAccess, racerRT string
		grantRacer           bool
		wantPresented        []string
		wantErr              bool
		wantAccess           string // "" keeps the original
	}{
		{
			name: "the file's fresh tokens are taken", racerAccess: codexFresh, racerRT: "rt-racer",
			wantPresented: []string{"rt-original"}, wantAccess: codexFresh,
		},
		{
			name: "the file's refresh token is spent", racerAccess: codexExpired, racerRT: "rt-racer", grantRacer: true,
			wantPresented: []string{"rt-original", "rt-racer"}, wantAccess: ours,
		},
		{
			name:          "the file offers nothing new: login expired",
			wantPresented: []string{"rt-original"}, wantErr: true,
		},
		{
			name: "the file's refresh token refused too: login expired, no loop", racerAccess: codexExpired, racerRT: "rt-racer",
			wantPresented: []string{"rt-original", "rt-racer"}, wantErr: true, wantAccess: codexExpired,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLogin(t, "gpt")
			a := f.account
			s := newOAuthServer(t) // rt-original is refused as reused
			if tc.grantRacer {
				s.grant(tc.racerRT, ours, "rt-ours")
			}
			if tc.racerRT != "" {
				s.before = func(rt string) {
					if rt == "rt-original" {
						f.rewrite(t, tc.racerAccess, tc.racerRT, "acct-gpt")
					}
				}
			}
			r := oauthRefresher(s, nil, time.Minute)
			err := r.Refresh(context.Background(), a, a.AccessTag())
			if got := s.presented(); !equalStrings(got, tc.wantPresented) {
				t.Errorf("refresh tokens presented = %v, want %v", got, tc.wantPresented)
			}
			if tc.wantErr {
				if !errors.Is(err, account.ErrLoginExpired) {
					t.Fatalf("err = %v, want ErrLoginExpired", err)
				}
				for _, want := range []string{"account gpt", "refresh_token_reused", "`proxy accounts login gpt`", "`codex login` then `proxy accounts import-codex --name gpt`"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				for _, secret := range []string{"rt-original", "rt-racer"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error reveals a refresh token: %v", err)
					}
				}
			} else if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			wantAccess := tc.wantAccess
			if wantAccess == "" {
				wantAccess = f.access
			}
			if authorized(a, nil).Get("Authorization") != "Bearer "+wantAccess {
				t.Errorf("Authorization does not carry the expected access token")
			}
		})
	}
}

// TestRefreshNotRedirected: a token endpoint that redirects (a captive
// portal, a hostile network) is a failed refresh, not a reason to send the
// refresh token on to where the Location points.
func TestRefreshNotRedirected(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			var got atomic.Int32
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			t.Cleanup(elsewhere.Close)
			f := newLogin(t, "gpt")
			ts := newTokenServer(t, status, "")
			ts.mu.Lock()
			ts.header = http.Header{"Location": {elsewhere.URL + "/steal?t=x"}}
			ts.mu.Unlock()
			err := newRefresher(ts, nil).Refresh(context.Background(), f.account, f.account.AccessTag())
			if err == nil || errors.Is(err, account.ErrLoginExpired) {
				t.Fatalf("err = %v, want a failed refresh that is not a dead login", err)
			}
			if got.Load() != 0 {
				t.Fatal("the refresh token was sent on to the redirect's Location")
			}
			if !strings.Contains(err.Error(), "redirected") || strings.Contains(err.Error(), "steal") {
				t.Errorf("err = %v, want it to say it was redirected, naming the host only", err)
			}
		})
	}
}
