// Package event carries the record of every routing decision from the
// request path to whoever watches: logs, the TUI and /_proxy/events.
package event

import "time"

// Decision records one request: where it went, why, and how it ended. It
// holds no secret: clients appear by key name, sessions by hash prefix.
type Decision struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Client    string    `json:"client,omitempty"`
	Path      string    `json:"path"`
	Transport string    `json:"transport,omitempty"` // "websocket" for a WebSocket message; "" for HTTP
	// Door is the front door the request came in by: DoorChat for Chat
	// Completions, "" for the Responses API (over HTTP or a WebSocket).
	Door string `json:"door,omitempty"`
	// API is the wire API the serving account was sent: APIChat when it
	// speaks only Chat Completions, "" for the Responses API.
	API string `json:"api,omitempty"`
	// Limit names the client key's limit that refused the request
	// (requests_per_minute, models, ...); "" when none did.
	Limit string `json:"limit,omitempty"`
	// Translated says what translating between the APIs left out or
	// changed ("stop dropped: the Responses API has none"); "" when
	// nothing.
	Translated string `json:"translated,omitempty"`
	// UpstreamModel is the account's name for the model when its
	// model_map changed the client's; "" when sent as the client named it.
	UpstreamModel string        `json:"upstream_model,omitempty"`
	Session       string        `json:"session,omitempty"` // hash prefix
	Source        string        `json:"source"`            // which part of the request keyed the session
	Model         string        `json:"model,omitempty"`
	Stream        bool          `json:"stream"`
	Candidates    []string      `json:"candidates,omitempty"`
	Account       string        `json:"account,omitempty"`
	Type          string        `json:"type,omitempty"`
	Target        string        `json:"target,omitempty"` // upstream URL, no query
	Reason        string        `json:"reason,omitempty"`
	Detail        string        `json:"detail,omitempty"`
	Attempts      []Attempt     `json:"attempts,omitempty"`
	Status        int           `json:"status"`
	TTFB          time.Duration `json:"ttfb_ns"`
	Duration      time.Duration `json:"duration_ns"`
	Usage         Usage         `json:"usage"`
	Error         string        `json:"error,omitempty"`
	// Items says what the serving account was not sent, or got in place
	// of items it could not read (encrypted reasoning and compaction
	// items another account minted): "removed 3 reasoning items minted
	// by acct-a; compaction of 14:02 by acct-a re-made on acct-b". ""
	// when the request went as it came.
	Items string `json:"items,omitempty"`
	// ItemCounts counts the same, for metrics; nil when nothing changed.
	ItemCounts *ItemCounts `json:"item_counts,omitempty"`
}

// The front doors and account APIs a Decision names.
const (
	// DoorChat is the Chat Completions front door (/v1/chat/completions).
	DoorChat = "chat_completions"
	// APIChat is an account that speaks Chat Completions.
	APIChat = "chat_completions"
)

// ItemCounts counts what cleaning a request did to its account-bound
// items.
type ItemCounts struct {
	Removed int `json:"removed,omitempty"` // reasoning items left out
	Remade  int `json:"remade,omitempty"`  // compactions made again by the serving account, now
	Reused  int `json:"reused,omitempty"`  // compactions replaced by one the account made before
	Lost    int `json:"lost,omitempty"`    // compactions left out: their history was gone
	Refused int `json:"refused,omitempty"` // requests sent again after the upstream refused items
}

// Attempt is one upstream try within a request.
type Attempt struct {
	Account string `json:"account"`
	Status  int    `json:"status"` // 0 when no response arrived
	// Class is the outcome class of a failed attempt (quota, rate_limit,
	// server_error, network, unauthorized, not_found, client_error) or
	// "busy" when the account had no free slot; empty on success.
	Class string `json:"class,omitempty"`
	Error string `json:"error,omitempty"`
}

// Usage is the token usage the upstream reported.
type Usage struct {
	InputTokens     int64 `json:"input_tokens"`
	CachedTokens    int64 `json:"cached_tokens"`
	OutputTokens    int64 `json:"output_tokens"`
	ReasoningTokens int64 `json:"reasoning_tokens"`
}
