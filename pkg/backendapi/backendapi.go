// Package backendapi is the ChatGPT backend as the proxy shows it to Codex.
// Codex signed in with a ChatGPT login reads its rate limits for /status,
// and the warnings it gives as a window fills, only from
// {chatgpt_base_url}/wham/usage; pointed at the proxy, it gets the pool's
// windows there, the same numbers as `proxy accounts list`'s pool line.
// Codex's other calls under that base URL (plugins, the account check its
// TUI cannot start without, tasks) go to the real backend unchanged, with
// the client's own ChatGPT credential and nothing of any account's.
package backendapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/status"
)

// Prefix is where the proxy serves the backend, as Codex's
// chatgpt_base_url = "<proxy>/backend-api/" makes it ask: Codex uses the
// /wham/ paths when the base URL contains /backend-api.
const Prefix = "/backend-api/"

// CodexPrefix is the other style Codex asks in, for a base URL without
// /backend-api: /api/codex/usage.
const CodexPrefix = "/api/codex/"

// Options is what the backend is built from.
type Options struct {
	// Accounts returns every account's status as now, without store
	// reads (status.Accounts).
	Accounts func() []status.Account
	Now      func() time.Time
	// Upstream is the real backend (chatgpt_backend.url); nil:
	// config.DefaultChatGPTBackend.
	Upstream *url.URL
	// Transport carries the passed-through calls; nil: one with the
	// timeouts below and the environment's proxy.
	Transport http.RoundTripper
	// ConnectTimeout and ResponseHeaderTimeout bound the waits on the
	// real backend when Transport is nil.
	ConnectTimeout, ResponseHeaderTimeout time.Duration
	// MaxBodyBytes bounds a passed-through request's body.
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// New returns the handler for Prefix and CodexPrefix. It expects the
// server's client check in front of it.
func New(o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	usage := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveUsage(w, r, o) })
	mux.Handle("GET "+Prefix+"wham/usage", usage)
	mux.Handle("GET "+CodexPrefix+"usage", usage)
	mux.HandleFunc("GET "+Prefix+"wham/rate-limit-reset-credits", serveResetCredits)
	mux.HandleFunc("GET "+CodexPrefix+"rate-limit-reset-credits", serveResetCredits)
	mux.Handle(Prefix, newPassthrough(o))
	mux.HandleFunc(CodexPrefix, func(w http.ResponseWriter, r *http.Request) {
		apierror.New(http.StatusNotFound, apierror.TypeInvalidRequest,
			"the proxy passes the ChatGPT backend's calls on only under "+Prefix+"; set chatgpt_base_url = \"<proxy>"+strings.TrimSuffix(Prefix, "/")+"/\" in Codex's config (`proxy codex config` writes it)").
			WithCode("unknown_route").Write(w)
	})
	return mux
}
