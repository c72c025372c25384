package account_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/config"
)

func TestSecretsAndDisplay(t *testing.T) {
	const (
		key      = "sk-test-secret-0123456789"
		password = "pa55-w0rd-x"
	)
	idToken, access := fakeJWT(t, testNow.Add(time.Hour), "acct-1", "id"), fakeJWT(t, testNow.Add(time.Hour), "acct-1", "access")
	dir := t.TempDir()
	authFile := writeAuthFile(t, dir, authJSON(t, idToken, access, "rt-refresh-secret-1", "acct-1"))
	tests := []struct {
		name        string
		cfg         config.Account
		wantSecrets []string // each must be among Secrets()
		wantDisplay string
		hidden      []string // must not appear in DisplayURL or DisplayTarget
	}{
		{
			name:        "api key, plain url",
			cfg:         config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "https://api.example.com/v1/", APIKey: key},
			wantSecrets: []string{key},
			wantDisplay: "https://api.example.com/v1",
		},
		{
			name:        "api key, password in url",
			cfg:         config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://user:" + password + "@gw.example.com/openai", APIKey: key},
			wantSecrets: []string{key, password},
			wantDisplay: "http://gw.example.com/openai",
			hidden:      []string{password, "user:"},
		},
		{
			name:        "password in proxy_url",
			cfg:         config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "https://api.example.com/v1", APIKey: key, ProxyURL: "socks5://user:" + password + "@127.0.0.1:1080"},
			wantSecrets: []string{key, password},
			wantDisplay: "https://api.example.com/v1",
			hidden:      []string{password},
		},
		{
			name:        "escaped password",
			cfg:         config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://user:p%40ss%2Fword9@gw.example.com", APIKey: key},
			wantSecrets: []string{key, "p@ss/word9", "p%40ss%2Fword9"},
			wantDisplay: "http://gw.example.com",
			hidden:      []string{"p%40ss", "p@ss"},
		},
		{
			name:        "chatgpt inline tokens",
			cfg:         config.Account{Name: "c", Type: config.TypeOpenAIResponses, AccessToken: access, RefreshToken: "rt-inline-secret-2", AccountID: "acct-1"},
			wantSecrets: []string{access, "rt-inline-secret-2"},
			wantDisplay: config.DefaultChatGPTBaseURL,
		},
		{
			name:        "chatgpt auth file",
			cfg:         config.Account{Name: "c", Type: config.TypeOpenAIResponses, AuthFile: authFile},
			wantSecrets: []string{access, "rt-refresh-secret-1", idToken},
			wantDisplay: config.DefaultChatGPTBaseURL,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := account.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := a.Secrets()
			for _, w := range tt.wantSecrets {
				if !slices.Contains(got, w) {
					t.Errorf("Secrets() lacks one of the account's secrets (%.6s...)", w)
				}
			}
			if d := a.DisplayURL(); d != tt.wantDisplay {
				t.Errorf("DisplayURL() = %q, want %q", d, tt.wantDisplay)
			}
			if d := a.DisplayTarget("/responses"); d != tt.wantDisplay+"/responses" {
				t.Errorf("DisplayTarget() = %q, want %q", d, tt.wantDisplay+"/responses")
			}
			for _, h := range tt.hidden {
				if strings.Contains(a.DisplayURL()+a.DisplayTarget("/responses"), h) {
					t.Errorf("display shows %q", h)
				}
			}
			// Target is what is sent: it keeps the user info.
			if !strings.HasPrefix(a.Target("/responses", ""), a.BaseURL) {
				t.Errorf("Target lost the base URL")
			}
		})
	}
}

// TestSecretsFollowRotation checks that Secrets reads the tokens as they
// are now, not as they were built: a redact.Set refilled after a refresh
// must hide the new ones.
func TestSecretsFollowRotation(t *testing.T) {
	a, err := account.New(config.Account{Name: "c", Type: config.TypeOpenAIResponses, AccessToken: "old-access-token-1", RefreshToken: "old-refresh-token-1"})
	if err != nil {
		t.Fatal(err)
	}
	account.SetTokensForTest(a, codexauth.Tokens{AccessToken: "new-access-token-2", RefreshToken: "new-refresh-token-2"})
	got := a.Secrets()
	if !slices.Contains(got, "new-access-token-2") || !slices.Contains(got, "new-refresh-token-2") || slices.Contains(got, "old-access-token-1") {
		t.Errorf("Secrets() does not follow rotation")
	}
}
