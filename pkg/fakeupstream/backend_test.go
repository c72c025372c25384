package fakeupstream

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestBackendFace: the calls Codex makes under chatgpt_base_url, with the
// real backend's rule that each needs the account's own login.
func TestBackendFace(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := start(t, New("chatgpt.com", WithChatGPT("tok-user", "acct-user"), WithUsedPercent(42, 7), WithClock(func() time.Time { return now })))
	login := http.Header{"Authorization": {"Bearer tok-user"}, "Chatgpt-Account-Id": {"acct-user"}}
	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
		check  func(t *testing.T, body map[string]any)
	}{
		{"the account check, as Codex's TUI needs it", "/backend-api/wham/accounts/check", login, 200, func(t *testing.T, b map[string]any) {
			accounts, _ := b["accounts"].([]any)
			a, _ := accounts[0].(map[string]any)
			if a["id"] != "acct-user" || a["workspace_backend_origin"] != "https://chatgpt.com" || a["account_routing_override"] != "NO_CONSTRAINT" {
				t.Errorf("account %v", a)
			}
		}},
		{"the account's own usage", "/backend-api/wham/usage", login, 200, func(t *testing.T, b map[string]any) {
			rl, _ := b["rate_limit"].(map[string]any)
			p, _ := rl["primary_window"].(map[string]any)
			if b["plan_type"] != "plus" || p["used_percent"] != 42.0 || p["limit_window_seconds"] != 18000.0 || p["reset_at"] != float64(now.Add(5*time.Hour).Unix()) {
				t.Errorf("usage %v", b)
			}
		}},
		{"reset credits", "/backend-api/wham/rate-limit-reset-credits", login, 200, func(t *testing.T, b map[string]any) {
			if c, ok := b["credits"].([]any); !ok || len(c) != 0 {
				t.Errorf("credits %v", b)
			}
		}},
		{"plugins are not modelled", "/backend-api/ps/plugins/installed", login, 404, nil},
		{"another login is refused", "/backend-api/wham/usage", http.Header{"Authorization": {"Bearer tok-other"}, "Chatgpt-Account-Id": {"acct-user"}}, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			resp := do(t, ctx, http.MethodGet, s.URL()+tt.path, "", tt.header)
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.check != nil {
				var body map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatal(err)
				}
				tt.check(t, body)
			}
		})
	}
}
