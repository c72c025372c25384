package codexauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sample copies testdata/name into a temporary directory with the token
// placeholders filled in, and returns its path.
func sample(t *testing.T, name, idToken, accessToken string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("ID_TOKEN", idToken, "ACCESS_TOKEN", accessToken).Replace(string(data))
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func idTokenFor(t *testing.T, accountID string) string {
	return codexauthtest.JWT(map[string]any{
		"email": "someone@example.com",
		authClaim: map[string]any{
			"chatgpt_account_id": accountID,
			"chatgpt_plan_type":  "plus",
		},
	})
}

func TestRead(t *testing.T) {
	access := codexauthtest.JWT(map[string]any{"exp": 1754520000})
	path := sample(t, "chatgpt.json", idTokenFor(t, "acct-from-claim"), access)

	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.AuthMode != AuthModeChatGPT {
		t.Errorf("AuthMode = %q, want %q", f.AuthMode, AuthModeChatGPT)
	}
	if f.Tokens.AccessToken != access || f.Tokens.RefreshToken != "rt-fake-refresh" {
		t.Errorf("tokens not read: %+v", f.Tokens)
	}
	if got := f.AccountID(); got != "acct-from-file" {
		t.Errorf("AccountID() = %q, want tokens.account_id", got)
	}
	want := time.Date(2025, 8, 6, 20, 41, 36, 232376000, time.UTC)
	if !f.LastRefresh.Equal(want) {
		t.Errorf("LastRefresh = %v, want %v", f.LastRefresh, want)
	}
}

func TestAccountIDFallsBackToIDTokenClaim(t *testing.T) {
	path := sample(t, "no-account-id.json", idTokenFor(t, "acct-from-claim"), "opaque-access")
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.AccountID(); got != "acct-from-claim" {
		t.Errorf("AccountID() = %q, want the id_token claim", got)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		notChat   bool
		notExist  bool
		wantInMsg string
	}{
		{name: "api key login", path: "testdata/apikey.json", notChat: true, wantInMsg: "codex login"},
		{name: "legacy api key file", path: "testdata/apikey-legacy.json", notChat: true, wantInMsg: "codex login"},
		{name: "missing", path: "testdata/absent.json", notExist: true},
		{name: "broken JSON", path: "testdata/broken.json", wantInMsg: "parsing JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.path)
			if err == nil {
				t.Fatal("Read succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the path", err)
			}
			if got := errors.Is(err, ErrNotChatGPT); got != tt.notChat {
				t.Errorf("errors.Is(err, ErrNotChatGPT) = %v, want %v", got, tt.notChat)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.notExist)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantInMsg)
			}
			if strings.Contains(err.Error(), "not-a-real-key") {
				t.Errorf("error %q leaks the API key", err)
			}
		})
	}
}

func TestWriteAtomic(t *testing.T) {
	path := sample(t, "chatgpt.json", idTokenFor(t, "acct-from-claim"), "old-access")
	// Start from a looser mode: the rewrite must tighten it.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Tokens.AccessToken = "new-access"
	f.Tokens.RefreshToken = "new-refresh"
	f.LastRefresh = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := f.WriteAtomic(path); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode = %o, want 600", mode)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after the write, want only auth.json (temp file left behind?)", len(entries))
	}

	var doc map[string]any
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("written file is not JSON: %v\n%s", err, data)
	}
	if doc["some_future_field"] == nil {
		t.Error("top-level unknown field lost")
	}
	if _, ok := doc["OPENAI_API_KEY"]; !ok {
		t.Error("OPENAI_API_KEY (null) lost")
	}
	tokens, _ := doc["tokens"].(map[string]any)
	if tokens["future_token_field"] == nil {
		t.Error("unknown field inside tokens lost")
	}
	if !strings.HasPrefix(string(data), "{\n  \"auth_mode\"") {
		t.Errorf("key order not kept:\n%s", data)
	}

	again, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Tokens != f.Tokens || !again.LastRefresh.Equal(f.LastRefresh) || again.AuthMode != f.AuthMode {
		t.Errorf("round trip: got %+v %v, want %+v %v", again.Tokens, again.LastRefresh, f.Tokens, f.LastRefresh)
	}
}

func TestWriteAtomicThroughSymlink(t *testing.T) {
	target := sample(t, "chatgpt.json", "id", "access")
	link := filepath.Join(t.TempDir(), "auth.json")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	f, err := Read(link)
	if err != nil {
		t.Fatal(err)
	}
	f.Tokens.AccessToken = "rotated"
	if err := f.WriteAtomic(link); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("symlink replaced by a file (err %v)", err)
	}
	got, err := Read(target)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tokens.AccessToken != "rotated" {
		t.Errorf("target not updated: access token %q", got.Tokens.AccessToken)
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name   string
		jwt    string
		want   time.Time
		wantOK bool
	}{
		{name: "exp", jwt: codexauthtest.JWT(map[string]any{"exp": 1754520000}), want: time.Unix(1754520000, 0), wantOK: true},
		{name: "no exp", jwt: codexauthtest.JWT(map[string]any{"sub": "x"})},
		{name: "not a JWT", jwt: "opaque-token"},
		{name: "bad base64", jwt: "a.!!!.c"},
		{name: "padded payload", jwt: "x." + base64.URLEncoding.EncodeToString([]byte(`{"exp":5}`)) + ".y", want: time.Unix(5, 0), wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Expiry(tt.jwt)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("Expiry() = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestAccountIDFromIDToken(t *testing.T) {
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{name: "claim", token: idTokenFor(t, "acct-1"), want: "acct-1"},
		{name: "no auth claim", token: codexauthtest.JWT(map[string]any{"sub": "x"})},
		{name: "not a JWT", token: "nope"},
		{name: "empty", token: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AccountIDFromIDToken(tt.token); got != tt.want {
				t.Errorf("AccountIDFromIDToken() = %q, want %q", got, tt.want)
			}
		})
	}
}
