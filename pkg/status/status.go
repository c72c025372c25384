// Package status builds the document GET /_proxy/status serves: every
// account with its configuration and live state. `proxy watch` and
// `proxy accounts list` read the same document. It holds no secret: a
// credential appears as a fingerprint at most.
package status

import (
	"context"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/store"
)

// Account states.
const (
	StateHealthy     = "healthy"
	StateCoolingDown = "cooling_down"
	StateInvalid     = "invalid"
	StateDisabled    = "disabled"
)

// Document is the whole status.
type Document struct {
	Version       string    `json:"version"`
	Started       time.Time `json:"started"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	Store         Store     `json:"store"`
	Sessions      int       `json:"sessions"` // live bindings; -1 when the store did not answer
	Accounts      []Account `json:"accounts"`
	EventsDropped uint64    `json:"events_dropped"`
	// PID is the server's process id, so a hint to reload it (kill -HUP)
	// can name it; absent when unknown.
	PID int `json:"pid,omitempty"`
	// Demo is true when the server runs `serve --demo`: its accounts are
	// the in-process fakes, not the config's, and a reload ignores the file.
	Demo bool `json:"demo,omitempty"`
}

// Store describes the session store.
type Store struct {
	Kind  string `json:"kind"` // embedded or redis
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Account is one account's configuration and live state.
type Account struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	BaseURL        string   `json:"base_url"`
	Credential     string   `json:"credential"` // fingerprint, like sk-...1234
	Weight         int      `json:"weight"`
	Enabled        bool     `json:"enabled"`
	Models         []string `json:"models,omitempty"`
	MaxConcurrency int      `json:"max_concurrency,omitempty"`
	// Plan is a ChatGPT account's plan as its token names it; absent for
	// an API account or when the token names none.
	Plan string `json:"plan,omitempty"`
	// API is "chat_completions" for an account that speaks only Chat
	// Completions; absent for the Responses API.
	API string `json:"api,omitempty"`
	// ModelMap is the account's model_map: the client's model -> its own.
	ModelMap map[string]string `json:"model_map,omitempty"`

	State    string         `json:"state"`
	Reason   string         `json:"reason,omitempty"`  // why it is out: quota, rate_limit, invalid, ...
	Message  string         `json:"message,omitempty"` // in words, with what to do
	Until    *time.Time     `json:"until,omitempty"`   // when it is back; absent when only a fix brings it back
	InFlight int            `json:"in_flight"`
	Today    Usage          `json:"today"`
	Limits   *health.Limits `json:"limits,omitempty"`

	// Attention is what the user must do before the account serves again
	// when only they can (a ChatGPT login to redo); absent otherwise.
	Attention string `json:"attention,omitempty"`
}

// Usage is an account's requests and tokens today (UTC).
type Usage struct {
	Requests        int64 `json:"requests"`
	InputTokens     int64 `json:"input_tokens"`
	CachedTokens    int64 `json:"cached_tokens"`
	OutputTokens    int64 `json:"output_tokens"`
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// Sources is what Build reads.
type Sources struct {
	Version  string
	Started  time.Time
	Now      func() time.Time
	Accounts []*account.Account
	Health   *health.Tracker
	Store    *store.Store
	Dropped  func() uint64
	// PID and Demo are copied into the document (see Document).
	PID  int
	Demo bool
	// Redact, when set, holds the process's secrets; they are hidden from
	// every message, on top of each account's own. Keys and tokens are
	// hidden by shape even without it.
	Redact *redact.Set
}

// Build assembles the document. A store that does not answer is reported
// in the document, not as an error: status matters most when things fail.
func Build(ctx context.Context, src Sources) Document {
	now := src.Now()
	d := Document{
		Version:       src.Version,
		Started:       src.Started,
		UptimeSeconds: int64(now.Sub(src.Started) / time.Second),
		Store:         Store{Kind: "redis", OK: true},
		Accounts:      []Account{},
		PID:           src.PID,
		Demo:          src.Demo,
	}
	if src.Store.Embedded() {
		d.Store.Kind = "embedded"
	}
	if src.Dropped != nil {
		d.EventsDropped = src.Dropped()
	}
	if n, err := src.Store.CountSessions(ctx); err != nil {
		d.Store.OK, d.Store.Error, d.Sessions = false, src.Redact.String(err.Error()), -1
	} else {
		d.Sessions = n
	}
	for _, a := range src.Accounts {
		d.Accounts = append(d.Accounts, account1(ctx, src, a, d.Store.OK))
	}
	return d
}

// Accounts is Build's accounts alone, read from the pool and the health
// tracker without a store round trip (Today stays zero): what a caller
// polled often, like Codex's usage endpoint, needs.
func Accounts(src Sources) []Account {
	out := make([]Account, 0, len(src.Accounts))
	for _, a := range src.Accounts {
		out = append(out, account1(context.Background(), src, a, false))
	}
	return out
}

// ReasonInvalid is the cooldown reason of an account out until its
// credential changes.
const ReasonInvalid = "invalid"

// Attention says what the user must do about account a, in the state and
// for the cooldown reason given, when only a new login helps: a ChatGPT
// account marked invalid (its login was refused, or its refresh token is
// dead), or one whose access token has expired at now with no refresh
// token to renew it. It is "" for every other account and state.
func Attention(a *account.Account, state, reason string, now time.Time) string {
	if a == nil || a.Type != account.OpenAIResponses || !a.Enabled || state == StateDisabled {
		return ""
	}
	switch {
	case state == StateInvalid && reason == ReasonInvalid:
		return "login expired: run proxy accounts login " + a.Name
	case a.NeedsLogin(now):
		return "needs login: the access token has expired and there is no refresh token; run proxy accounts login " + a.Name
	}
	return ""
}

func account1(ctx context.Context, src Sources, a *account.Account, storeOK bool) Account {
	out := Account{
		Name: a.Name, Type: string(a.Type), BaseURL: a.DisplayURL(), Credential: a.Fingerprint(),
		Weight: a.Weight, Enabled: a.Enabled, Models: a.Models, MaxConcurrency: a.MaxConcurrency,
		API: apiOf(a.API), ModelMap: a.ModelMap, Plan: a.Plan(),
		State:    StateHealthy,
		InFlight: src.Health.InFlight(a.Name),
	}
	switch cd, cooling := src.Health.Cooldown(a); {
	case !a.Enabled:
		out.State = StateDisabled
	case cooling && cd.Until.IsZero():
		out.State, out.Reason, out.Message = StateInvalid, cd.Reason, cd.Message
	case cooling:
		until := cd.Until
		out.State, out.Reason, out.Message, out.Until = StateCoolingDown, cd.Reason, cd.Message, &until
	}
	// A cooldown's message quotes the upstream's error, which may quote
	// the key it was sent, and may name the base URL.
	if out.Message != "" {
		out.Message = src.Redact.String(redact.New(a.Secrets()).String(out.Message))
	}
	out.Attention = Attention(a, out.State, out.Reason, src.Now())
	if l, ok := src.Health.Limits(a.Name); ok {
		out.Limits = &l
	}
	if storeOK {
		if u, err := src.Store.UsageToday(ctx, a.Name); err == nil {
			out.Today = Usage(u)
		}
	}
	return out
}

// apiOf is the status's name of an account's API: empty for the default.
func apiOf(api string) string {
	if api == config.APIChatCompletions {
		return api
	}
	return ""
}
