package serve

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/backendapi"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/status"
)

// chatGPTBackend is the ChatGPT backend Codex reaches through the proxy
// (chatgpt_base_url): the pool's windows from the accounts' live state,
// everything else passed to chatgpt_backend.url.
func chatGPTBackend(cfg *config.Config, accounts func() []*account.Account, tracker *health.Tracker, secrets *redact.Set, now func() time.Time, logger *slog.Logger) (http.Handler, error) {
	upstream, err := url.Parse(cfg.ChatGPTBackend)
	if err != nil {
		return nil, fmt.Errorf("chatgpt_backend.url: %w", err)
	}
	return backendapi.New(backendapi.Options{
		Accounts: func() []status.Account {
			return status.Accounts(status.Sources{Now: now, Accounts: accounts(), Health: tracker, Redact: secrets})
		},
		Now:                   now,
		Upstream:              upstream,
		ConnectTimeout:        cfg.Timeouts.Connect,
		ResponseHeaderTimeout: cfg.Timeouts.ResponseHeader,
		MaxBodyBytes:          cfg.MaxBodyBytes,
		Logger:                logger,
	}), nil
}
