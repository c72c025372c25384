// Package account turns configured upstream accounts into ready-to-use
// upstreams: where a request goes, which credential it carries and which
// models the account may serve.
package account

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/redact"
)

// Type names an upstream protocol family. Both types serve /responses; they
// differ in URL layout and credentials.
type Type string

const (
	// OpenAI is the OpenAI API or any compatible API serving /responses,
	// authenticated with an API key.
	OpenAI Type = config.TypeOpenAI
	// OpenAIResponses is a ChatGPT/Codex account authenticated with OAuth
	// tokens against the ChatGPT backend.
	OpenAIResponses Type = config.TypeOpenAIResponses
)

// Account is one upstream account. Its fields are fixed once built; only the
// credential inside may change (token rotation), and it guards itself.
type Account struct {
	Name    string
	Type    Type
	BaseURL string // without a trailing slash
	Weight  int    // 0 means standby: chosen only when no weighted account is left
	Enabled bool
	Models  []string // glob allow-list; empty allows every model
	Tags    []string // groups for client keys' accounts lists
	// MaxConcurrency bounds streams in flight per instance; 0 is no bound.
	MaxConcurrency int
	// API is the wire API the account speaks: config.APIResponses or
	// config.APIChatCompletions.
	API string
	// ModelMap maps a client's model name to the account's; see MapModel.
	ModelMap map[string]string
	cred     credential
	display  string // BaseURL fit to show, set by New
	// proxyURL is the account's proxy_url as configured, "" for none;
	// proxy is it parsed. They stay unexported: the URL may hold a
	// password, and only an Egress needs it.
	proxyURL string
	proxy    *url.URL
}

// credential puts an account's secret on an outgoing request.
type credential interface {
	authorize(h http.Header)
	fingerprint() string
	// id identifies the credential without revealing it: it changes when
	// the user replaces the key or logs in again.
	id() string
	// secrets are the credential's current secret values, to hide.
	secrets() []string
}

// Option changes how New builds an account.
type Option func(*options)

type options struct{ tokenDir string }

// WithTokenDir names the directory where ChatGPT accounts configured with
// inline tokens keep rotated ones (usually the config file's directory).
func WithTokenDir(dir string) Option { return func(o *options) { o.tokenDir = dir } }

// New builds an account from its validated configuration, reading the Codex
// auth file of a ChatGPT account.
func New(c config.Account, opts ...Option) (*Account, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	a := &Account{
		Name:    c.Name,
		Type:    Type(c.Type),
		BaseURL: strings.TrimRight(c.BaseURL, "/"),
		Weight:  c.Weight,
		Enabled: c.Enabled,
		Models:  c.Models,
		Tags:    c.Tags,

		MaxConcurrency: c.MaxConcurrency,
		API:            c.API,
		ModelMap:       c.ModelMap,
	}
	if a.API == "" {
		a.API = config.APIResponses
	}
	if c.ProxyURL != "" {
		u, err := config.ParseProxyURL(c.ProxyURL)
		if err != nil {
			return nil, fmt.Errorf("account %s: proxy_url %w", c.Name, err)
		}
		a.proxyURL, a.proxy = c.ProxyURL, u
	}
	switch a.Type {
	case OpenAI:
		a.cred = apiKey(c.APIKey)
	case OpenAIResponses:
		if a.BaseURL == "" {
			a.BaseURL = config.DefaultChatGPTBaseURL
		}
		cred, err := newChatGPT(c, o.tokenDir)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", c.Name, err)
		}
		a.cred = cred
	default:
		return nil, fmt.Errorf("account %s: unknown type %q", c.Name, c.Type)
	}
	// Worked out once: DisplayTarget names every request's target.
	a.display = redact.URL(a.BaseURL)
	return a, nil
}

// NewAll builds every configured account, stopping at the first that cannot
// be built.
func NewAll(cs []config.Account, opts ...Option) ([]*Account, error) {
	out := make([]*Account, 0, len(cs))
	for _, c := range cs {
		a, err := New(c, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Serves reports whether the account's allow-list admits model. An empty
// model (a request that names none) is admitted everywhere, leaving the
// upstream to apply its default.
func (a *Account) Serves(model string) bool {
	if len(a.Models) == 0 || model == "" {
		return true
	}
	for _, pattern := range a.Models {
		if ok, _ := path.Match(pattern, model); ok {
			return true
		}
	}
	return false
}

// ChatCompletions reports an account whose provider speaks only Chat
// Completions: requests reach it translated, at {base_url}/chat/completions.
func (a *Account) ChatCompletions() bool { return a.API == config.APIChatCompletions }

// MapModel is the account's name for the client's model: the model_map
// entry of that exact name, else its "*" entry, else the name itself.
func (a *Account) MapModel(model string) string {
	if to, ok := a.ModelMap[model]; ok {
		return to
	}
	if to, ok := a.ModelMap["*"]; ok {
		return to
	}
	return model
}

// WebSocketBeta is the OpenAI-Beta value of the Responses WebSocket
// protocol (the one Codex speaks, shared/CODEX.md), sent when a WebSocket
// is opened to a ChatGPT account.
const WebSocketBeta = "responses_websockets=2026-02-06"

// Target is the upstream URL for an API path suffix such as "/responses" or
// "/responses/compact". Both client prefixes (/responses and /v1/responses)
// map to {base_url}/responses, so the base URL decides whether /v1 is used.
func (a *Account) Target(suffix, rawQuery string) string {
	u := a.BaseURL + suffix
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return u
}

// DisplayTarget is Target without the base URL's user info, for records
// and logs: Target is what is sent, DisplayTarget what is shown.
func (a *Account) DisplayTarget(suffix string) string {
	return a.DisplayURL() + suffix
}

// DisplayURL is the base URL fit to show: without user info (a
// http://user:PASS@host base_url keeps its password to itself) and with
// credential-like query values masked; see redact.URL.
func (a *Account) DisplayURL() string {
	if a.display != "" {
		return a.display
	}
	return redact.URL(a.BaseURL)
}

// Secrets returns the account's secrets as they are now, for a
// redact.Set: the API key, or the ChatGPT access, refresh and id tokens,
// plus a password the base URL or the proxy_url carries (as written and
// decoded). Tokens rotate, so a Set built from them goes stale; the Set's
// shape patterns still catch a rotated JWT.
func (a *Account) Secrets() []string {
	var out []string
	if a.cred != nil {
		out = a.cred.secrets()
	}
	out = append(out, redact.URLSecrets(a.BaseURL)...)
	return append(out, redact.URLSecrets(a.proxyURL)...)
}

// Authorize sets the account's credential on an outgoing request's headers,
// replacing whatever the client sent.
func (a *Account) Authorize(h http.Header) {
	a.cred.authorize(h)
}

// Fingerprint identifies the account's credential without revealing it,
// such as "sk-...1234", for listings and logs.
func (a *Account) Fingerprint() string {
	return a.cred.fingerprint()
}

// CredentialID identifies the account's current credential without
// revealing it (a truncated SHA-256), so a mark such as "this key was
// refused" ends by itself once the key is replaced.
func (a *Account) CredentialID() string {
	return a.cred.id()
}

// hashID is a short, irreversible identifier of a secret.
func hashID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}

// fingerprint shows a secret's first three and last four characters when it
// is long enough that this reveals nothing useful. A shorter one shows only
// its length, after its kind's public prefix (sk-) when that is a small part
// of it, so two short keys still tell apart somewhat: sk-...(9 chars).
func fingerprint(secret string) string {
	if len(secret) >= 16 {
		return secret[:3] + "..." + secret[len(secret)-4:]
	}
	prefix := ""
	if i := strings.IndexAny(secret, "-_"); i > 0 && i < 3 && (i+1)*3 <= len(secret) && isLetters(secret[:i]) {
		prefix = secret[:i+1]
	}
	return fmt.Sprintf("%s...(%d chars)", prefix, len(secret))
}

// isLetters reports whether s is ASCII letters only.
func isLetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}
