package cmdutil

import (
	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/redact"
)

// SecretsOf collects every secret `proxy serve` holds, for the process-wide
// redact.Set that its logs, status and events pass through: each account's
// key or tokens and base_url and proxy_url passwords, the client keys, and
// the Redis URL's password. Accounts are the built ones, so a ChatGPT account
// configured by auth_file contributes the tokens read from the file.
func SecretsOf(cfg *config.Config, accounts []*account.Account) []string {
	var out []string
	for _, a := range accounts {
		out = append(out, a.Secrets()...)
	}
	for _, k := range cfg.ClientKeys {
		out = append(out, k.Key)
	}
	// Accounts given inline but not built (none in a running proxy; kept
	// for callers that build only some) still name their secrets.
	for _, c := range cfg.Accounts {
		out = append(out, c.APIKey, c.AccessToken, c.RefreshToken)
		out = append(out, redact.URLSecrets(c.BaseURL)...)
		out = append(out, redact.URLSecrets(c.ProxyURL)...)
	}
	return append(out, redact.URLSecrets(cfg.Redis.URL)...)
}
