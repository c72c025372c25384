package cli

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/redact"
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
			{Name: "api", Type: config.TypeOpenAI, BaseURL: "http://user:" + urlPassword + "@gw.example/v1", APIKey: testAPIKey, Enabled: true,
				ProxyURL: "socks5://user:" + proxyPassword + "@127.0.0.1:1080"},
			{Name: "chat", Type: config.TypeOpenAIResponses, AccessToken: testAccessToken, RefreshToken: refreshSecret, Enabled: true},
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
			for i, want := range []string{testAPIKey, urlPassword, proxyPassword, testAccessToken, refreshSecret, clientSecret, redisPassword} {
				if !slices.Contains(got, want) {
					t.Errorf("secretsOf lacks secret #%d", i)
				}
			}
		})
	}
}

// TestNewLoggerRedacts checks both log formats hide the process's secrets,
// including ones added after the logger was built (accounts are built
// after it).
func TestNewLoggerRedacts(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			set := redact.New(nil)
			logger, err := newLogger(&buf, "info", format, set)
			if err != nil {
				t.Fatal(err)
			}
			set.Replace([]string{urlPassword})
			logger.Warn("upstream said Incorrect API key provided: "+testAPIKey,
				"target", "http://user:"+urlPassword+"@gw.example/v1/responses", "err", fmt.Errorf("wrapped: %s", urlPassword))
			for i, s := range []string{testAPIKey, urlPassword} {
				if strings.Contains(buf.String(), s) {
					t.Errorf("log shows secret #%d", i)
				}
			}
			if !strings.Contains(buf.String(), "[redacted]") {
				t.Errorf("nothing masked: %d bytes logged", buf.Len())
			}
		})
	}
}

// TestServeBannerAndLogsHideURLPassword runs `proxy serve` with an account
// whose base_url carries a password: the banner shows the URL without it.
func TestServeBannerAndLogsHideURLPassword(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "proxy.yaml", fmt.Sprintf(`accounts:
  - {name: api, type: openai, base_url: "http://user:%s@127.0.0.1:9/v1", api_key: "${API_KEY}"}
`, urlPassword), 0o600)
	ios, out, errOut := testIO(testEnv, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		done <- RunServe(ctx, &ServeOptions{IO: ios, ConfigPath: path, Listen: "127.0.0.1:0", LogLevel: "info", LogFormat: "text",
			Ready: func(addr string) { ready <- addr }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	all := out.String() + errOut.String()
	if strings.Contains(all, urlPassword) || strings.Contains(all, testAPIKey) {
		t.Error("serve output shows a secret")
	}
	if !strings.Contains(all, "account api: openai http://127.0.0.1:9/v1 weight") {
		t.Errorf("banner does not name the account's URL without user info:\n%s", stable(all, dir))
	}
}
