package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/pricing"
)

// resolve turns the file's shape into Config: defaults for what was left
// out, durations parsed, paths made usable.
func (c *checker) resolve(raw *fileConfig, path string, getenv func(string) string) *Config {
	cfg := &Config{
		Listen:   raw.Listen,
		Redis:    Redis{URL: raw.Redis.URL, KeyPrefix: raw.Redis.KeyPrefix},
		Sessions: Sessions{TTL: DefaultSessionTTL, MoveAfter: DefaultMoveAfter, ItemsTTL: DefaultItemsTTL},
		Path:     path,

		MaxAttempts:  DefaultMaxAttempts,
		MaxBodyBytes: DefaultMaxBodyBytes,
		Timeouts: Timeouts{
			Connect:         durationOr(raw.Timeouts.Connect, DefaultConnectTimeout),
			ResponseHeader:  durationOr(raw.Timeouts.ResponseHeader, DefaultResponseHeaderTimeout),
			StreamIdle:      durationOr(raw.Timeouts.StreamIdle, DefaultStreamIdleTimeout),
			SlotWait:        durationOr(raw.Timeouts.SlotWait, DefaultSlotWait),
			BodyRead:        durationOr(raw.Timeouts.BodyRead, DefaultBodyReadTimeout),
			ClientIdle:      durationOr(raw.Timeouts.ClientIdle, DefaultClientIdleTimeout),
			WebSocketIdle:   durationOr(raw.Timeouts.WebSocketIdle, DefaultWebSocketIdle),
			WebSocketMaxAge: durationOr(raw.Timeouts.WebSocketAge, DefaultWebSocketMaxAge),
		},
		Limits: Limits{MaxEventBytes: DefaultMaxEventBytes, BodyMemory: DefaultBodyMemory, WebSocketConnections: DefaultWebSocketConnections,
			KeptCompactions: DefaultKeptCompactions},
		OAuth:          OAuthDefaults(OAuth{Issuer: raw.OAuth.Issuer, TokenURL: raw.OAuth.TokenURL, ClientID: raw.OAuth.ClientID}),
		ChatGPTBackend: DefaultChatGPTBackend,
	}
	if raw.Backend.URL != "" {
		cfg.ChatGPTBackend = strings.TrimSuffix(raw.Backend.URL, "/")
	}
	for _, h := range raw.AllowedHosts {
		// As the server compares them: lower case, without the root's dot.
		cfg.AllowedHosts = append(cfg.AllowedHosts, strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), "."))
	}
	if raw.MaxAttempts != nil {
		cfg.MaxAttempts = *raw.MaxAttempts
	}
	if raw.MaxBodyBytes != nil {
		cfg.MaxBodyBytes = *raw.MaxBodyBytes
	}
	if raw.Limits.MaxEventBytes != nil {
		cfg.Limits.MaxEventBytes = *raw.Limits.MaxEventBytes
	}
	if raw.Limits.BodyMemory != nil {
		cfg.Limits.BodyMemory = *raw.Limits.BodyMemory
	}
	cfg.Limits.WebSocketMessageBytes = cfg.MaxBodyBytes
	if raw.Limits.WSMessage != nil && *raw.Limits.WSMessage != 0 {
		cfg.Limits.WebSocketMessageBytes = *raw.Limits.WSMessage
	}
	if raw.Limits.WebSockets != nil {
		cfg.Limits.WebSocketConnections = *raw.Limits.WebSockets
	}
	if raw.Limits.Kept != nil {
		cfg.Limits.KeptCompactions = *raw.Limits.Kept
	}
	cfg.Sessions.MoveAfter = durationOr(raw.Sessions.MoveAfter, DefaultMoveAfter)
	cfg.Sessions.ItemsTTL = durationOr(raw.Sessions.ItemsTTL, DefaultItemsTTL)
	cfg.Headroom.Threshold = DefaultHeadroomThreshold
	if raw.Headroom.Threshold != nil {
		cfg.Headroom.Threshold = *raw.Headroom.Threshold
	}
	cfg.Headroom.Strategy = raw.Headroom.Strategy
	if cfg.Headroom.Strategy == "" {
		cfg.Headroom.Strategy = DefaultHeadroomStrategy
	}
	// An explicit "" means "the default", as redis.url "" means embedded.
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if ttl, err := parseTTL(raw.Sessions.TTL); err == nil && ttl > 0 {
		cfg.Sessions.TTL = ttl
	}
	for _, k := range raw.ClientKeys {
		cfg.ClientKeys = append(cfg.ClientKeys, ClientKey{Name: k.Name, Key: k.Key, Role: k.Role, Limits: keyLimits(k.Limits)})
	}
	cfg.Usage.Retention = DefaultUsageRetention
	if d, err := parseDays(raw.Usage.Retention); err == nil && d > 0 {
		cfg.Usage.Retention = d
	}
	for name, p := range raw.Prices {
		if cfg.Prices == nil {
			cfg.Prices = map[string]pricing.Price{}
		}
		price := pricing.Price{Input: deref0(p.Input), CachedInput: deref0(p.CachedInput), Output: deref0(p.Output)}
		if p.CachedInput == nil {
			// A model with no cache discount needs no second figure.
			price.CachedInput = price.Input
		}
		cfg.Prices[name] = price
	}
	for i, a := range raw.Accounts {
		acc := Account{
			Name:         a.Name,
			Type:         a.Type,
			BaseURL:      strings.TrimRight(a.BaseURL, "/"),
			APIKey:       a.APIKey,
			AccessToken:  a.AccessToken,
			RefreshToken: a.RefreshToken,
			AccountID:    a.AccountID,
			AuthFile:     resolvePath(a.AuthFile, path, getenv),
			Weight:       1,
			Enabled:      true,
			Models:       a.Models,
			Tags:         a.Tags,
			ProxyURL:     a.ProxyURL,
			API:          a.API,
			ModelMap:     c.modelMap(index("accounts", i), a.ModelMap),
		}
		if acc.API == "" {
			acc.API = APIResponses
		}
		if a.Weight != nil {
			acc.Weight = *a.Weight
		}
		if a.Enabled != nil {
			acc.Enabled = *a.Enabled
		}
		if a.MaxConc != nil {
			acc.MaxConcurrency = *a.MaxConc
		}
		if acc.Type == TypeOpenAIResponses && acc.BaseURL == "" {
			acc.BaseURL = DefaultChatGPTBaseURL
		}
		cfg.Accounts = append(cfg.Accounts, acc)
	}
	return cfg
}

// OAuthDefaults fills in what an oauth section leaves out: the issuer,
// the token URL from the issuer (so one key moves both), Codex's client id.
// `proxy accounts login` calls it too when the rest of the file does not load.
func OAuthDefaults(o OAuth) OAuth {
	o.Issuer = strings.TrimRight(o.Issuer, "/")
	if o.Issuer == "" {
		o.Issuer = DefaultIssuer
	}
	if o.TokenURL == "" {
		o.TokenURL = o.Issuer + "/oauth/token"
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	return o
}

// resolvePath expands a leading ~ to the home directory and takes a relative
// path from the config file's directory, so the proxy finds the same file
// whatever directory it was started in.
func resolvePath(p, configPath string, getenv func(string) string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			return filepath.Join(home, p[1:])
		}
		return p
	}
	if !filepath.IsAbs(p) && configPath != "" {
		return filepath.Join(filepath.Dir(configPath), p)
	}
	return p
}

// parseTTL parses sessions.ttl; "" is the default.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return DefaultSessionTTL, nil
	}
	return time.ParseDuration(s)
}

// keyLimits resolves a key's limits; a limit left out is 0, no limit.
func keyLimits(l fileKeyLimits) KeyLimits {
	return KeyLimits{
		RequestsPerMinute: deref0(l.RequestsPerMinute),
		TokensPerDay:      deref0(l.TokensPerDay),
		TokensPerWeek:     deref0(l.TokensPerWeek),
		USDPerMonth:       deref0(l.USDPerMonth),
		Concurrent:        deref0(l.Concurrent),
		Models:            l.Models,
		Accounts:          l.Accounts,
	}
}

func deref0[T int64 | float64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}

// parseDays parses a retention: a Go duration, or a whole number of days
// ("90d"), as ledgers are thought of in days.
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// durationOr parses a duration setting; "" or an invalid value (reported by
// validate) gives the default.
func durationOr(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d
	}
	return def
}

// modelMap is the account at's model_map with its names as written in the
// file; one that came only from the environment keeps viper's.
func (c *checker) modelMap(at string, decoded map[string]string) map[string]string {
	pairs, ok := c.pairs[join(at, "model_map")]
	if !ok {
		if len(decoded) == 0 {
			return nil
		}
		return decoded
	}
	m := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		m[kv[0]] = kv[1]
	}
	return m
}
