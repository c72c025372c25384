package cmdutil_test

import (
	"slices"
	"testing"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
)

const (
	urlPassword   = "base-url-pa55word"
	proxyPassword = "proxy-url-pa55word"
	redisPassword = "redis-pa55word"
	clientSecret  = "client-key-secret-1"
	refreshSecret = "refresh-token-secret-1"
)

func TestSecretsOf(t *testing.T) {
	cfg := &config.Config{
		Redis:      config.Redis{URL: "redis://:" + redisPassword + "@127.0.0.1:6379/0"},
		ClientKeys: []config.ClientKey{{Name: "laptop", Key: clientSecret}},
		Accounts: []config.Account{
			{Name: "api", Type: config.TypeOpenAI, BaseURL: "http://user:" + urlPassword + "@gw.example/v1", APIKey: cmdtest.TestAPIKey, Enabled: true,
				ProxyURL: "socks5://user:" + proxyPassword + "@127.0.0.1:1080"},
			{Name: "chat", Type: config.TypeOpenAIResponses, AccessToken: cmdtest.TestAccessToken, RefreshToken: refreshSecret, Enabled: true},
		},
	}
	accounts, err := account.NewAll(cfg.Accounts)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		accounts []*account.Account
	}{
		{"built accounts", accounts},
		{"config only", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cmdutil.SecretsOf(cfg, tt.accounts)
			for i, want := range []string{cmdtest.TestAPIKey, urlPassword, proxyPassword, cmdtest.TestAccessToken, refreshSecret, clientSecret, redisPassword} {
				if !slices.Contains(got, want) {
					t.Errorf("secretsOf lacks secret #%d", i)
				}
			}
		})
	}
}
