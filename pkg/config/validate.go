package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/proxy-dev/proxy/pkg/bound"
	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/pricing"
)

// validate checks each section of cfg, recording every problem; it never
// stops at the first so one `proxy config validate` shows them all.
func (c *checker) validate(cfg *Config, raw *fileConfig) {
	c.validateListen(cfg.Listen)
	c.validateAllowedHosts(raw.AllowedHosts)
	c.validateRedis(cfg.Redis)
	c.validateTTL(raw.Sessions.TTL)
	c.validateDuration("sessions.move_after", raw.Sessions.MoveAfter)
	c.validateDuration("sessions.items_ttl", raw.Sessions.ItemsTTL)
	if cfg.Sessions.ItemsTTL < cfg.Sessions.TTL {
		c.add("sessions.items_ttl", "must be at least sessions.ttl (%s): a conversation's items must outlive its binding, got %s", cfg.Sessions.TTL, cfg.Sessions.ItemsTTL)
	}
	c.validateDuration("timeouts.connect", raw.Timeouts.Connect)
	c.validateDuration("timeouts.response_header", raw.Timeouts.ResponseHeader)
	c.validateDuration("timeouts.stream_idle", raw.Timeouts.StreamIdle)
	c.validateDuration("timeouts.slot_wait", raw.Timeouts.SlotWait)
	c.validateDuration("timeouts.body_read", raw.Timeouts.BodyRead)
	c.validateDuration("timeouts.client_idle", raw.Timeouts.ClientIdle)
	c.validateDuration("timeouts.websocket_idle", raw.Timeouts.WebSocketIdle)
	c.validateDuration("timeouts.websocket_max_age", raw.Timeouts.WebSocketAge)
	if cfg.Limits.WebSocketConnections < 0 {
		c.add("limits.websocket_connections", "must be 0 (no WebSockets: clients use HTTP) or more, got %d", cfg.Limits.WebSocketConnections)
	}
	if n := cfg.Limits.WebSocketMessageBytes; n > cfg.MaxBodyBytes {
		c.add("limits.websocket_message_bytes", "must be at most max_body_bytes (%d): Codex sends a larger message over HTTP, where max_body_bytes bounds it; got %d", cfg.MaxBodyBytes, n)
	} else if n < 1024 && cfg.MaxBodyBytes >= 1024 {
		c.add("limits.websocket_message_bytes", "must be at least 1024, or 0 for max_body_bytes, got %d", n)
	}
	if cfg.Limits.MaxEventBytes < 64<<10 {
		c.add("limits.max_event_bytes", "must be at least 65536, got %d", cfg.Limits.MaxEventBytes)
	}
	if cfg.Limits.KeptCompactions < 0 {
		c.add("limits.kept_compactions", "must be 0 (keep no compaction's history) or more, got %d", cfg.Limits.KeptCompactions)
	}
	if cfg.Limits.BodyMemory < cfg.MaxBodyBytes {
		c.add("limits.body_memory", "must be at least max_body_bytes (%d), got %d", cfg.MaxBodyBytes, cfg.Limits.BodyMemory)
	}
	if t := cfg.Headroom.Threshold; !(t > 0 && t <= 100) {
		c.add("headroom.threshold", "must be a percent over 0 and up to 100, got %v", t)
	}
	switch s := cfg.Headroom.Strategy; s {
	case StrategyHeadroom, StrategyPlanner, StrategyWeighted:
	default:
		c.add("headroom.strategy", "%s is not one of %s (the accounts that used least), %s (the room that expires first), %s (the weights alone)",
			strconv.Quote(s), StrategyHeadroom, StrategyPlanner, StrategyWeighted)
	}
	if cfg.MaxAttempts < 1 {
		c.add("max_attempts", "must be at least 1, got %d", cfg.MaxAttempts)
	}
	if cfg.MaxBodyBytes < 1024 {
		c.add("max_body_bytes", "must be at least 1024, got %d", cfg.MaxBodyBytes)
	}
	if u, err := url.Parse(cfg.OAuth.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.add("oauth.issuer", "%s is not an http(s) URL (like %s)", strconv.Quote(cfg.OAuth.Issuer), DefaultIssuer)
	}
	if u, err := url.Parse(cfg.ChatGPTBackend); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		c.add("chatgpt_backend.url", "%s is not an http(s) URL without credentials or query (like %s)", strconv.Quote(cfg.ChatGPTBackend), DefaultChatGPTBackend)
	}
	if u, err := url.Parse(cfg.OAuth.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.add("oauth.token_url", "%s is not an http(s) URL", strconv.Quote(cfg.OAuth.TokenURL))
	}
	c.validateClientKeys(cfg.ClientKeys, cfg.Accounts)
	c.validatePrices(raw.Prices, cfg.Prices)
	if raw.Usage.Retention != "" {
		if d, err := parseDays(raw.Usage.Retention); err != nil || d < 24*time.Hour {
			c.add("usage.retention", "%s is not a retention of a day or more (like 90d or 2160h)", strconv.Quote(raw.Usage.Retention))
		}
	}
	names := map[string]int{}
	for i, a := range cfg.Accounts {
		at := index("accounts", i)
		if a.Name != "" {
			if first, ok := names[a.Name]; ok {
				c.add(join(at, "name"), "%s is already used by accounts[%d]", strconv.Quote(a.Name), first)
			} else {
				names[a.Name] = i
			}
		}
		c.validateAccount(a, at)
	}
}

func (c *checker) validateListen(listen string) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		c.add("listen", "%s is not host:port (like %s)", strconv.Quote(listen), DefaultListen)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		c.add("listen", "port %s is not a number from 0 to 65535", strconv.Quote(port))
	}
}

// validateDuration checks an optional positive duration setting.
func (c *checker) validateDuration(path, raw string) {
	if raw == "" {
		return
	}
	d, err := time.ParseDuration(raw)
	switch {
	case err != nil:
		c.add(path, "%s is not a duration (like 30s or 5m)", strconv.Quote(raw))
	case d <= 0:
		c.add(path, "must be positive, got %s", raw)
	}
}

func (c *checker) validateTTL(raw string) {
	ttl, err := parseTTL(raw)
	switch {
	case err != nil:
		c.add("sessions.ttl", "%s is not a duration (like 30m or 2h)", strconv.Quote(raw))
	case ttl <= 0:
		c.add("sessions.ttl", "must be positive, got %s", raw)
	}
}

// validateRedis never quotes the URL: it may carry a password.
func (c *checker) validateRedis(r Redis) {
	if r.URL == "" {
		return
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		c.add("redis.url", "is not a URL (like redis://localhost:6379/0)")
		return
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			c.add("redis.url", "has no host (like redis://localhost:6379/0)")
		}
	case "unix":
		if u.Path == "" {
			c.add("redis.url", "has no socket path (like unix:///run/redis.sock)")
		}
	default:
		c.add("redis.url", "must start with redis://, rediss:// or unix://")
	}
}

// validateClientKeys never quotes a key, only the name it goes by.
func (c *checker) validateClientKeys(keys []ClientKey, accounts []Account) {
	names, secrets := map[string]int{}, map[string]int{}
	for i, k := range keys {
		at := index("client_keys", i)
		switch first, seen := names[k.Name]; {
		case k.Name == "":
			c.missing(join(at, "name"), "the name stands for the key in logs and metrics")
		case seen:
			c.add(join(at, "name"), "%s is already used by client_keys[%d]", strconv.Quote(k.Name), first)
		default:
			names[k.Name] = i
		}
		switch k.Role {
		case "", RoleAdmin, RoleUser:
		default:
			c.add(join(at, "role"), "%s is not one of %s (everything), %s (the API, its own sessions, events and usage)", strconv.Quote(k.Role), RoleAdmin, RoleUser)
		}
		c.validateKeyLimits(k.Limits, join(at, "limits"), accounts)
		switch first, seen := secrets[k.Key]; {
		case k.Key == "":
			c.missing(join(at, "key"), "clients send it as Authorization: Bearer <key>")
		case seen:
			c.add(join(at, "key"), "same key as client_keys[%d]; each client needs its own", first)
		default:
			secrets[k.Key] = i
		}
	}
}

// validateKeyLimits checks a key's limits: numbers positive (left out is
// no limit), model globs valid, and each accounts entry naming at least
// one account, so a typo cannot keep a key from every account unseen.
func (c *checker) validateKeyLimits(l KeyLimits, at string, accounts []Account) {
	for _, n := range []struct {
		field string
		v     int64
	}{{"requests_per_minute", l.RequestsPerMinute}, {"tokens_per_day", l.TokensPerDay}, {"tokens_per_week", l.TokensPerWeek}, {"concurrent", l.Concurrent}} {
		if n.v < 0 {
			c.add(join(at, n.field), "%d is negative; leave it out for no limit", n.v)
		}
	}
	if l.USDPerMonth < 0 || math.IsNaN(l.USDPerMonth) || math.IsInf(l.USDPerMonth, 0) {
		c.add(join(at, "usd_per_month"), "%v is not a budget of zero or more USD; leave it out for no limit", l.USDPerMonth)
	}
	c.validateGlobs(l.Models, join(at, "models"))
	for i, want := range l.Accounts {
		p := index(join(at, "accounts"), i)
		if want == "" {
			c.add(p, "empty account name or tag")
			continue
		}
		if _, err := path.Match(want, ""); err != nil {
			c.add(p, "%s is not a valid glob: %v", strconv.Quote(want), err)
			continue
		}
		found := false
		for _, a := range accounts {
			found = found || AccountMatches(a.Name, a.Type, a.Tags, want)
		}
		if !found {
			c.add(p, "%s names no account, tag or account type; accounts are %s", strconv.Quote(want), accountNames(accounts))
		}
	}
}

// AccountMatches reports whether an entry of a key's accounts list (a
// name glob, a tag or a type) takes in the account.
func AccountMatches(name, typ string, tags []string, entry string) bool {
	if entry == typ || slices.Contains(tags, entry) {
		return true
	}
	ok, _ := path.Match(entry, name)
	return ok
}

func accountNames(accounts []Account) string {
	names := make([]string, 0, len(accounts))
	for _, a := range accounts {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// validatePrices checks each override; the field named is the first the
// price table refuses.
func (c *checker) validatePrices(raw map[string]filePrice, prices map[string]pricing.Price) {
	for name, p := range prices {
		at := join("prices", name)
		if raw[name].Input == nil || raw[name].Output == nil {
			c.add(at, "needs input and output (USD per million tokens; cached_input defaults to input)")
			continue
		}
		if err := pricing.ValidateOverride(name, p); err != nil {
			c.add(at, "%s", strings.TrimPrefix(err.Error(), "pricing: "))
		}
	}
}

func (c *checker) validateGlobs(globs []string, at string) {
	for i, m := range globs {
		p := index(at, i)
		if m == "" {
			c.add(p, "empty model pattern")
			continue
		}
		if _, err := path.Match(m, ""); err != nil {
			c.add(p, "%s is not a valid glob: %v", strconv.Quote(m), err)
		}
	}
}

func (c *checker) validateAccount(a Account, at string) {
	field := func(name string) string { return join(at, name) }
	if a.Name == "" {
		c.missing(field("name"), "every account needs a unique name")
	}
	switch a.Type {
	case TypeOpenAI:
		if a.BaseURL == "" {
			c.missing(field("base_url"), "openai accounts need the API's base URL (like https://api.openai.com/v1)")
		}
		if a.APIKey == "" {
			c.missing(field("api_key"), "openai accounts need an API key")
		}
		for _, f := range []struct{ key, val string }{
			{"auth_file", a.AuthFile}, {"access_token", a.AccessToken},
			{"refresh_token", a.RefreshToken}, {"account_id", a.AccountID},
		} {
			if f.val != "" {
				c.add(field(f.key), "only %s accounts use %s", TypeOpenAIResponses, f.key)
			}
		}
	case TypeOpenAIResponses:
		if a.APIKey != "" {
			c.add(field("api_key"), "only %s accounts use api_key", TypeOpenAI)
		}
		c.validateChatGPTLogin(a, at)
	case "":
		c.missing(field("type"), "one of %s, %s", TypeOpenAI, TypeOpenAIResponses)
	default:
		c.add(field("type"), "%s is not one of %s, %s", strconv.Quote(a.Type), TypeOpenAI, TypeOpenAIResponses)
	}
	if a.BaseURL != "" {
		if u, err := url.Parse(a.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.add(field("base_url"), "%s is not an http(s) URL", strconv.Quote(a.BaseURL))
		}
	}
	if a.ProxyURL != "" {
		if _, err := ParseProxyURL(a.ProxyURL); err != nil {
			c.add(field("proxy_url"), "%v", err)
		}
	}
	switch a.API {
	case APIResponses:
	case APIChatCompletions:
		if a.Type != TypeOpenAI {
			c.add(field("api"), "%s accounts speak the Responses API only; %s is for %s accounts whose provider serves only /chat/completions", a.Type, APIChatCompletions, TypeOpenAI)
		}
	default:
		c.add(field("api"), "%s is not one of %s (the default), %s", strconv.Quote(a.API), APIResponses, APIChatCompletions)
	}
	c.validateModelMap(a.ModelMap, field("model_map"))
	if a.MaxConcurrency < 0 {
		c.add(field("max_concurrency"), "%d is negative; 0 means no limit", a.MaxConcurrency)
	}
	if a.Weight < 0 {
		c.add(field("weight"), "%d is negative; 0 makes a standby account", a.Weight)
	}
	c.validateGlobs(a.Models, field("models"))
	for i, tag := range a.Tags {
		if tag == "" {
			c.add(index(field("tags"), i), "empty tag")
		}
	}
}

// validateChatGPTLogin checks that an openai-responses account has exactly
// one source of tokens, and that an auth_file is one the account package
// will be able to use. The tokens stay in the file: only the account package
// reads them, because it must write rotated ones back.
func (c *checker) validateChatGPTLogin(a Account, at string) {
	inline := a.AccessToken != "" || a.RefreshToken != "" || a.AccountID != ""
	switch {
	case c.unset[join(at, "auth_file")] || c.unset[join(at, "access_token")]:
		// The unset variable is the problem; it was reported.
	case a.AuthFile == "" && a.AccessToken == "":
		c.add(at, "%s accounts need auth_file (from `codex login`) or access_token", TypeOpenAIResponses)
	case a.AuthFile != "" && inline:
		c.add(join(at, "auth_file"), "set auth_file or inline access_token/refresh_token/account_id, not both")
	case a.AuthFile != "":
		if _, err := codexauth.Read(a.AuthFile); err != nil {
			msg := err.Error()
			switch {
			case errors.Is(err, codexauth.ErrNotChatGPT):
				msg = fmt.Sprintf("%s holds no ChatGPT login; run `codex login` and sign in with ChatGPT", a.AuthFile)
			case errors.Is(err, fs.ErrNotExist):
				msg = fmt.Sprintf("%s does not exist: no Codex login there; run `codex login`, or `proxy accounts login %s`", a.AuthFile, a.Name)
			}
			c.add(join(at, "auth_file"), "%s", msg)
		}
	}
}

// validateAllowedHosts checks that each entry is a host name the server
// can compare a Host header with: no port (every port is admitted), no
// URL, a wildcard only as a leading "*.".
func (c *checker) validateAllowedHosts(hosts []string) {
	for i, h := range hosts {
		at := index("allowed_hosts", i)
		h = strings.TrimSpace(h)
		name := strings.TrimPrefix(h, "*.")
		if ip := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"); ip != "" {
			if _, err := netip.ParseAddr(ip); err == nil {
				continue // admitted anyway: every IP address is
			}
		}
		switch {
		case h == "":
			c.add(at, "empty host name")
		case strings.Contains(h, "/"):
			c.add(at, "%s is not a host name; give the name alone, like proxy.example.com", strconv.Quote(h))
		case strings.Contains(h, ":"):
			c.add(at, "%s has a port; give the name alone: every port is admitted", strconv.Quote(h))
		case strings.Contains(name, "*"):
			c.add(at, "%s: only a leading \"*.\" is a wildcard (like *.example.com), and no entry admits every host", strconv.Quote(h))
		case !validHostName(strings.TrimSuffix(name, ".")):
			c.add(at, "%s is not a host name (letters, digits, - and _ in dot-separated labels)", strconv.Quote(h))
		}
	}
}

// validHostName reports whether s is a DNS name: labels of 1 to 63
// letters, digits, hyphens and underscores, 253 characters in all.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
				return false
			}
		}
	}
	return true
}

// validateModelMap checks each client name and the account name it maps to.
func (c *checker) validateModelMap(m map[string]string, at string) {
	for from, to := range m {
		p := join(at, from)
		switch {
		case strings.TrimSpace(from) == "":
			c.add(p, "empty model name; use \"*\" for every model the map does not name")
		case strings.TrimSpace(to) == "":
			c.add(p, "maps %s to an empty name; name the account's model", strconv.Quote(from))
		case len(to) > bound.Model || strings.ContainsFunc(to, unicode.IsControl):
			c.add(p, "the account's model name must be at most %d characters with no control characters", bound.Model)
		}
	}
}
