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
		status, body := ts.status, ts.body
		ts.mu.Unlock()
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
