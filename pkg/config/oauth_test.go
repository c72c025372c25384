package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/viper"
)

// TestOAuthIssuer checks that token_url follows oauth.issuer unless it is
// set itself, so pointing the proxy at another issuer is one key.
func TestOAuthIssuer(t *testing.T) {
	tests := []struct {
		name        string
		yaml        string
		env         env
		wantIssuer  string
		wantToken   string
		wantProblem string
	}{
		{name: "defaults", yaml: "listen: 127.0.0.1:8787\n", wantIssuer: DefaultIssuer, wantToken: DefaultTokenURL},
		{name: "token url from the issuer", yaml: "oauth:\n  issuer: http://127.0.0.1:9999/\n",
			wantIssuer: "http://127.0.0.1:9999", wantToken: "http://127.0.0.1:9999/oauth/token"},
		{name: "token url still overrides", yaml: "oauth:\n  issuer: http://127.0.0.1:9999\n  token_url: https://tokens.example.com/t\n",
			wantIssuer: "http://127.0.0.1:9999", wantToken: "https://tokens.example.com/t"},
		{name: "from the environment", yaml: "listen: 127.0.0.1:8787\n", env: env{"PROXY_OAUTH_ISSUER": "https://auth.example.com"},
			wantIssuer: "https://auth.example.com", wantToken: "https://auth.example.com/oauth/token"},
		{name: "not a URL", yaml: "oauth:\n  issuer: auth.example.com\n", wantProblem: `proxy.yaml:2: oauth.issuer: "auth.example.com" is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := inTempDir(t)
			writeFile(t, filepath.Join(dir, "proxy.yaml"), tt.yaml)
			cfg, err := Load(viper.New(), "proxy.yaml", tt.env.get)
			if tt.wantProblem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantProblem) {
					t.Fatalf("Load error %v, want %q", err, tt.wantProblem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.OAuth.Issuer != tt.wantIssuer || cfg.OAuth.TokenURL != tt.wantToken || cfg.OAuth.ClientID != DefaultClientID {
				t.Errorf("OAuth = %+v, want issuer %s, token_url %s", cfg.OAuth, tt.wantIssuer, tt.wantToken)
			}
		})
	}
}
