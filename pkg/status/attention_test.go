package status_test

import (
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/status"
)

func TestAttention(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	expired := codexauthtest.JWT(map[string]any{"exp": now.Add(-time.Minute).Unix()})
	valid := codexauthtest.JWT(map[string]any{"exp": now.Add(time.Hour).Unix()})
	chat := func(access, refresh string, enabled bool) config.Account {
		return config.Account{Name: "chat", Type: config.TypeOpenAIResponses, AccessToken: access, RefreshToken: refresh,
			AccountID: "acct-1", Enabled: enabled, Weight: 1}
	}
	tests := []struct {
		name          string
		account       config.Account
		state, reason string
		want          string
	}{
		{name: "chatgpt marked invalid", account: chat(valid, "rt-1", true), state: status.StateInvalid, reason: status.ReasonInvalid,
			want: "login expired: run proxy accounts login chat"},
		{name: "expired without refresh token", account: chat(expired, "", true), state: status.StateHealthy,
			want: "needs login: the access token has expired and there is no refresh token; run proxy accounts login chat"},
		{name: "expired with refresh token", account: chat(expired, "rt-1", true), state: status.StateHealthy},
		{name: "valid without refresh token", account: chat(valid, "", true), state: status.StateHealthy},
		{name: "opaque token without refresh token", account: chat("opaque-token", "", true), state: status.StateHealthy},
		{name: "chatgpt cooling down", account: chat(valid, "rt-1", true), state: status.StateCoolingDown, reason: "quota"},
		{name: "disabled", account: chat(expired, "", false), state: status.StateDisabled},
		{name: "api key marked invalid", account: config.Account{Name: "api", Type: config.TypeOpenAI, BaseURL: "https://api.example.com/v1",
			APIKey: "sk-test-0123456789abcdef", Enabled: true, Weight: 1}, state: status.StateInvalid, reason: status.ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := account.New(tt.account)
			if err != nil {
				t.Fatal(err)
			}
			if got := status.Attention(a, tt.state, tt.reason, now); got != tt.want {
				t.Errorf("Attention = %q, want %q", got, tt.want)
			}
		})
	}
	if got := status.Attention(nil, status.StateInvalid, status.ReasonInvalid, now); got != "" {
		t.Errorf("Attention(nil) = %q, want none", got)
	}
}
