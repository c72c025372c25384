package config

import (
	"fmt"
	"strings"
)

// A running proxy applies a reloaded config's accounts and client_keys at
// once. Every other setting is read once at start-up (the listener, the
// store, the relay's limits and timeouts, token refresh), so a change to it
// waits for a restart, and the user must be told which.

// restartSettings maps each setting that only a restart applies to its key
// in the file. TestRestartNeededCoversEverySetting fails when a field is
// added to Config without being listed here or in reloadApplied.
var restartSettings = []struct {
	key string
	get func(*Config) any
}{
	{"listen", func(c *Config) any { return c.Listen }},
	{"allowed_hosts", func(c *Config) any { return strings.Join(c.AllowedHosts, " ") }},
	{"max_attempts", func(c *Config) any { return c.MaxAttempts }},
	{"max_body_bytes", func(c *Config) any { return c.MaxBodyBytes }},
	{"timeouts.connect", func(c *Config) any { return c.Timeouts.Connect }},
	{"timeouts.response_header", func(c *Config) any { return c.Timeouts.ResponseHeader }},
	{"timeouts.stream_idle", func(c *Config) any { return c.Timeouts.StreamIdle }},
	{"timeouts.slot_wait", func(c *Config) any { return c.Timeouts.SlotWait }},
	{"timeouts.body_read", func(c *Config) any { return c.Timeouts.BodyRead }},
	{"timeouts.client_idle", func(c *Config) any { return c.Timeouts.ClientIdle }},
	{"limits.max_event_bytes", func(c *Config) any { return c.Limits.MaxEventBytes }},
	{"limits.body_memory", func(c *Config) any { return c.Limits.BodyMemory }},
	{"limits.websocket_connections", func(c *Config) any { return c.Limits.WebSocketConnections }},
	// Left at its default it follows max_body_bytes, which is then the
	// setting that changed.
	{"limits.websocket_message_bytes", func(c *Config) any {
		if n := c.Limits.WebSocketMessageBytes; n == 0 || n == c.MaxBodyBytes {
			return "max_body_bytes"
		}
		return c.Limits.WebSocketMessageBytes
	}},
	{"timeouts.websocket_idle", func(c *Config) any { return c.Timeouts.WebSocketIdle }},
	{"timeouts.websocket_max_age", func(c *Config) any { return c.Timeouts.WebSocketMaxAge }},
	{"oauth.issuer", func(c *Config) any { return c.OAuth.Issuer }},
	{"oauth.token_url", func(c *Config) any { return c.OAuth.TokenURL }},
	{"oauth.client_id", func(c *Config) any { return c.OAuth.ClientID }},
	{"chatgpt_backend.url", func(c *Config) any { return c.ChatGPTBackend }},
	{"redis.url", func(c *Config) any { return c.Redis.URL }},
	{"redis.key_prefix", func(c *Config) any { return c.Redis.KeyPrefix }},
	{"sessions.ttl", func(c *Config) any { return c.Sessions.TTL }},
	{"sessions.move_after", func(c *Config) any { return c.Sessions.MoveAfter }},
	{"sessions.items_ttl", func(c *Config) any { return c.Sessions.ItemsTTL }},
	{"limits.kept_compactions", func(c *Config) any { return c.Limits.KeptCompactions }},
	{"headroom.threshold", func(c *Config) any { return c.Headroom.Threshold }},
	{"headroom.strategy", func(c *Config) any { return c.Headroom.Strategy }},
	// fmt prints a map in key order: equal tables print the same.
	{"prices", func(c *Config) any { return fmt.Sprint(c.Prices) }},
	{"usage.retention", func(c *Config) any { return c.Usage.Retention }},
}

// reloadApplied are the Config fields a reload applies (or, for Path, that
// is not a setting).
var reloadApplied = []string{"Accounts", "ClientKeys", "Path"}

// RestartNeeded returns the keys, in file order, of the settings that differ
// between running and next and that only a restart applies. It names keys,
// never values: redis.url may hold a password.
func RestartNeeded(running, next *Config) []string {
	var keys []string
	for _, s := range restartSettings {
		if s.get(running) != s.get(next) {
			keys = append(keys, s.key)
		}
	}
	return keys
}
