// Package config is the proxy's typed configuration: where the file is
// found, how it is loaded (defaults, PROXY_<KEY> environment overrides,
// ${VAR} expansion) and how it is validated, reporting every problem with its
// file, line and field path so one run of `proxy config validate` shows them
// all.
package config

import (
	"time"

	"github.com/proxy-dev/proxy/pkg/pricing"
)

// Account types.
const (
	// TypeOpenAI is the OpenAI API, or any compatible API that serves
	// /responses, reached with an API key.
	TypeOpenAI = "openai"
	// TypeOpenAIResponses is a ChatGPT account logged in through Codex
	// (OAuth tokens), reached through the ChatGPT backend.
	TypeOpenAIResponses = "openai-responses"
)

// Defaults for what the file leaves out.
const (
	// DefaultListen is loopback only: a proxy holding account credentials
	// should not be reachable from the network unless asked to.
	DefaultListen = "127.0.0.1:8787"
	// DefaultKeyPrefix namespaces the proxy's keys in a shared Redis.
	DefaultKeyPrefix = "proxy:"
	// DefaultSessionTTL is how long a conversation stays on its account
	// after its last request.
	DefaultSessionTTL = 30 * time.Minute
	// DefaultChatGPTBaseURL is where openai-responses accounts send requests
	// when base_url is not set.
	DefaultChatGPTBaseURL = "https://chatgpt.com/backend-api/codex"
	// DefaultMaxAttempts is how many distinct accounts one request may try.
	DefaultMaxAttempts = 3
	// DefaultMaxBodyBytes bounds a decoded request body: long Codex
	// conversations reach megabytes, but not this.
	DefaultMaxBodyBytes = 32 << 20
	// DefaultMoveAfter: a bound account out for longer than this loses its
	// conversations to the account that served them meanwhile.
	DefaultMoveAfter = 5 * time.Minute
	// DefaultConnectTimeout bounds dialing and the TLS handshake.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultResponseHeaderTimeout bounds the wait for an upstream's
	// response headers once the request is sent.
	DefaultResponseHeaderTimeout = 2 * time.Minute
	// DefaultStreamIdleTimeout ends a stream that sends no complete event for
	// this long, however many bytes trickle in (Codex's own idle limit is the same).
	DefaultStreamIdleTimeout = 5 * time.Minute
	// DefaultBodyReadTimeout bounds the time a client may take to send a
	// request body: generous for megabytes on a slow link, short enough
	// that a trickling client cannot hold connections for ever.
	DefaultBodyReadTimeout = 60 * time.Second
	// DefaultClientIdleTimeout closes a client's keep-alive connection
	// that carries no request for this long.
	DefaultClientIdleTimeout = 2 * time.Minute
	// DefaultWebSocketIdle closes a client WebSocket connection that has
	// carried no request for this long; Codex opens a new one when it
	// needs one.
	DefaultWebSocketIdle = 15 * time.Minute
	// DefaultWebSocketMaxAge is a client WebSocket connection's lifetime,
	// as the OpenAI API's own (60 minutes).
	DefaultWebSocketMaxAge = time.Hour
	// DefaultWebSocketConnections bounds the client WebSocket connections
	// open at once.
	DefaultWebSocketConnections = 256
	// DefaultMaxEventBytes bounds one upstream SSE event (the final event
	// carries the whole output, far below this).
	DefaultMaxEventBytes = 16 << 20
	// DefaultBodyMemory bounds the request bodies held in memory at once,
	// decompressed ones included, across all requests.
	DefaultBodyMemory = 256 << 20
	// DefaultItemsTTL: a week, as long as users resume a conversation.
	DefaultItemsTTL = 7 * 24 * time.Hour
	// DefaultKeptCompactions bounds the kept compaction requests: a
	// compressed Codex history is a few hundred KiB.
	DefaultKeptCompactions = 256 << 20
	// DefaultSlotWait: long enough for a stream to end, short enough not
	// to be felt.
	DefaultSlotWait = 2 * time.Second
	// DefaultHeadroomThreshold: at 90% of a window a new conversation
	// would soon have to move and lose its prompt cache.
	DefaultHeadroomThreshold = 90.0
	// DefaultHeadroomStrategy: it served more than headroom and weighted
	// in `proxy routing simulate` (see the README's table).
	DefaultHeadroomStrategy = StrategyPlanner
	// DefaultUsageRetention is how long a day of the usage ledger is kept.
	DefaultUsageRetention = 90 * 24 * time.Hour
	// DefaultTokenURL is where ChatGPT tokens are refreshed: the default
	// issuer's token endpoint.
	DefaultTokenURL = DefaultIssuer + "/oauth/token"
	// DefaultChatGPTBackend is where Codex's ChatGPT calls go without
	// the proxy.
	DefaultChatGPTBackend = "https://chatgpt.com/backend-api"
	// DefaultIssuer is the OAuth issuer ChatGPT accounts sign in with, as
	// `codex login` does.
	DefaultIssuer = "https://auth.openai.com"
	// DefaultClientID is Codex CLI's OAuth client id, which ChatGPT tokens
	// from `codex login` belong to.
	DefaultClientID = "app_EMoamEEZ73f0CkXaXp7hrann"
)

// Config is the whole program's configuration, defaults applied and
// validated.
type Config struct {
	// Listen is the host:port the proxy serves on.
	Listen string
	// AllowedHosts are the names, besides loopback, any IP address and
	// Listen's host, that a request's Host may carry (any port): a name,
	// or *.name for every name under it. Anything else is refused as a
	// DNS-rebinding page would be.
	AllowedHosts []string
	// MaxAttempts is how many distinct accounts one request may try before
	// the last failure goes back to the client.
	MaxAttempts int
	// MaxBodyBytes bounds a decoded request body; larger ones get 413.
	MaxBodyBytes int64
	// Timeouts bound the waits on upstreams and clients.
	Timeouts Timeouts
	// Limits bound memory per event and for request bodies in all.
	Limits Limits
	// OAuth is where and as whom ChatGPT tokens are refreshed.
	OAuth OAuth
	// ChatGPTBackend is the ChatGPT backend (chatgpt_backend.url) that
	// Codex's other calls under chatgpt_base_url (plugins, account
	// checks, tasks) are passed to, with the client's own credential.
	ChatGPTBackend string
	// Redis is where sessions and account state live.
	Redis Redis
	// Sessions controls sticky sessions.
	Sessions Sessions
	// Headroom steers new conversations away from accounts near their
	// rate limits.
	Headroom Headroom
	// ClientKeys, when not empty, are the bearer keys clients must present.
	ClientKeys []ClientKey
	// Prices override or add to the shipped price table, per model, in USD
	// per million tokens.
	Prices map[string]pricing.Price
	// Usage says how long the usage ledger is kept.
	Usage Usage
	// Accounts are the upstream accounts, in file order.
	Accounts []Account
	// Path is the file the config was loaded from, "" when none was found.
	Path string
}

// Redis says which Redis holds the proxy's state.
type Redis struct {
	// URL is redis://, rediss:// or unix://; "" runs an embedded Redis.
	URL string
	// KeyPrefix starts every key the proxy writes.
	KeyPrefix string
}

// Sessions controls how long a conversation stays on one account.
type Sessions struct {
	// TTL is refreshed on every request of the session.
	TTL time.Duration
	// MoveAfter: when the bound account is out for longer than this, the
	// conversation moves to the account that serves it; a shorter outage is
	// served elsewhere and the binding stays.
	MoveAfter time.Duration
	// ItemsTTL is how long the proxy remembers which account minted each
	// encrypted reasoning and compaction item, and keeps the request
	// behind each compaction: as long as a user may resume a conversation.
	ItemsTTL time.Duration
}

// Headroom controls how new conversations avoid accounts that have used
// most of a rate-limit window.
type Headroom struct {
	// Threshold is the used share (percent, over 0 and up to 100) of
	// either window at which an account takes no new conversations while
	// another has room. Conversations already on it stay.
	Threshold float64
	// Strategy is how new conversations are steered by the accounts'
	// windows: StrategyHeadroom, StrategyPlanner or StrategyWeighted.
	Strategy string
}

// The values of headroom.strategy.
const (
	// StrategyHeadroom leans new conversations towards the accounts that
	// have used least of their windows.
	StrategyHeadroom = "headroom"
	// StrategyPlanner leans them towards the accounts whose room expires
	// first: a window about to reset with room left.
	StrategyPlanner = "planner"
	// StrategyWeighted is the weights alone: no steering by the windows,
	// and no threshold either.
	StrategyWeighted = "weighted"
)

// Timeouts bound the waits on upstreams. No timeout limits a healthy
// stream's total length.
type Timeouts struct {
	Connect        time.Duration
	ResponseHeader time.Duration
	StreamIdle     time.Duration
	// SlotWait is how long a sticky request waits for a free slot on its
	// account (max_concurrency) before it is served elsewhere.
	SlotWait time.Duration
	// BodyRead bounds the time a client may take to send its request body.
	BodyRead time.Duration
	// ClientIdle closes idle keep-alive connections from clients.
	ClientIdle time.Duration
	// WebSocketIdle closes a client WebSocket with no request for this long.
	WebSocketIdle time.Duration
	// WebSocketMaxAge is a client WebSocket connection's lifetime.
	WebSocketMaxAge time.Duration
}

// Limits bound the memory the proxy spends on requests and streams.
type Limits struct {
	// MaxEventBytes bounds one upstream SSE event; a larger one ends the
	// stream with response.failed and counts against the account.
	MaxEventBytes int
	// BodyMemory bounds the request bodies held at once, process-wide;
	// past it a request gets 503 proxy_busy.
	BodyMemory int64
	// WebSocketConnections bounds the client WebSocket connections open at
	// once; past it an upgrade gets 503 and Codex uses HTTP.
	WebSocketConnections int
	// WebSocketMessageBytes bounds one client WebSocket message; it is
	// announced on the upgrade's answer (x-codex-websocket-max-message-bytes),
	// so Codex sends a larger request over HTTP, bounded by max_body_bytes.
	// It defaults to max_body_bytes and may not pass it.
	WebSocketMessageBytes int64
	// KeptCompactions bounds the requests behind compactions kept in the
	// store (compressed), so a compacted conversation can take its history
	// to another account; past it the oldest go.
	KeptCompactions int64
}

// OAuth configures ChatGPT sign-in and token refresh.
type OAuth struct {
	// Issuer is where `proxy accounts login` signs in; no trailing slash.
	Issuer string
	// TokenURL is where tokens are refreshed; it defaults from Issuer.
	TokenURL string
	ClientID string
}

// ClientKey is one key a client may present as Authorization: Bearer.
type ClientKey struct {
	// Name identifies the client in bindings, logs and metrics, so the key
	// itself never has to appear there.
	Name string
	// Key is the secret the client sends.
	Key string
	// Role is RoleAdmin or RoleUser; "" when the file names none. When no
	// key names a role every key is an admin's, as before roles existed;
	// once one does, a key without one is a user's.
	Role string
	// Limits bound what the key may use; the zero value bounds nothing.
	Limits KeyLimits
}

// KeyLimits are a client key's limits, counted in the store so every
// instance sharing it enforces the same count. A zero number is no limit.
// Spending is counted over UTC periods: the day, the ISO week (from
// Monday) and the calendar month.
type KeyLimits struct {
	// RequestsPerMinute bounds requests admitted in a calendar minute.
	RequestsPerMinute int64
	// TokensPerDay and TokensPerWeek bound input plus output tokens
	// served; a request is refused once the count has reached the limit
	// (the one that crosses it is served in full).
	TokensPerDay, TokensPerWeek int64
	// USDPerMonth bounds the month's cost at the price table (the API's
	// price for an API account, the API-equivalent for a ChatGPT one).
	// Unpriced models cost nothing toward it.
	USDPerMonth float64
	// Concurrent bounds the key's streams in flight at once.
	Concurrent int64
	// Models are path.Match globs of the models the key may ask for;
	// empty allows every model.
	Models []string
	// Accounts are the accounts the key's requests may be served by: a
	// name (or glob of names), a tag of the accounts' tags, or a type
	// (openai, openai-responses); empty allows every account.
	Accounts []string
}

// Counted reports whether l has a limit the store counts.
func (l KeyLimits) Counted() bool {
	return l.RequestsPerMinute > 0 || l.TokensPerDay > 0 || l.TokensPerWeek > 0 || l.USDPerMonth > 0 || l.Concurrent > 0
}

// Usage says how the usage ledger is kept.
type Usage struct {
	// Retention is how long a day of the ledger is kept.
	Retention time.Duration
}

// Account is one upstream account.
type Account struct {
	// Name is unique; it is the id in logs, bindings and metrics.
	Name string
	// Type is TypeOpenAI or TypeOpenAIResponses.
	Type string
	// BaseURL has no trailing slash; requests go to BaseURL + "/responses".
	// For openai-responses accounts it defaults to DefaultChatGPTBaseURL.
	BaseURL string
	// APIKey authenticates openai accounts.
	APIKey string
	// AccessToken, RefreshToken and AccountID are a ChatGPT login given
	// inline. When AuthFile is set instead they stay empty: the account
	// package reads the file itself so it can write rotated tokens back.
	AccessToken  string
	RefreshToken string
	AccountID    string
	// AuthFile is a Codex CLI auth.json, ~ resolved and relative paths taken
	// from the config file's directory.
	AuthFile string
	// Weight is the account's share of new sessions; 0 makes it a standby,
	// used only when no weighted account is available.
	Weight int
	// Enabled is false for an account kept in the file but not used.
	Enabled bool
	// Models is an allow-list of path.Match globs; empty allows every model.
	Models []string
	// Tags group accounts for client keys' limits (client_keys[].limits
	// .accounts): "api", "team-a".
	Tags []string
	// MaxConcurrency bounds the account's streams in flight in this
	// instance; 0 is no bound. ChatGPT accounts take about 3-5.
	MaxConcurrency int
	// ProxyURL, when set, is the outbound proxy (http://, https:// or
	// socks5://, optionally with user:password) the account's requests,
	// token refreshes and checks go through; "" goes direct (or through
	// HTTPS_PROXY from the environment). It may hold a password.
	ProxyURL string
	// API is the wire API the account speaks: APIResponses (the default)
	// or APIChatCompletions, for a provider that serves only
	// /chat/completions; the proxy then translates for it.
	API string
	// ModelMap maps a client's model name to the account's (exact names,
	// "*" for every other); nil sends the client's name.
	ModelMap map[string]string
}

// The roles of a client key.
const (
	// RoleAdmin reads and changes everything.
	RoleAdmin = "admin"
	// RoleUser calls the API and sees its own sessions, events and usage.
	RoleUser = "user"
)

// RolesConfigured reports whether any client key names a role: without
// one every key is an admin's, as before roles existed.
func (c *Config) RolesConfigured() bool {
	for _, k := range c.ClientKeys {
		if k.Role != "" {
			return true
		}
	}
	return false
}

// The wire APIs an account may speak.
const (
	// APIResponses is the Responses API, POST {base_url}/responses.
	APIResponses = "responses"
	// APIChatCompletions is Chat Completions only, POST
	// {base_url}/chat/completions.
	APIChatCompletions = "chat_completions"
)
