package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/store"
)

func TestFailoverReason(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"rate limit", "rate_limit", "rate_limit"},
		{"quota", "quota", "quota"},
		{"network", "network", "network"},
		{"server error", "server_error", "server_error"},
		{"overloaded", "overloaded", "overloaded"},
		{"forbidden", "forbidden", "forbidden"},
		{"busy", "busy", "busy"},
		{"unknown classes stay bounded", "something new happened", "other"},
		{"empty", "", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FailoverReason(tt.msg); got != tt.want {
				t.Errorf("FailoverReason(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}

func TestObserve(t *testing.T) {
	m := New(Sources{Dropped: func() uint64 { return 7 }, WebSockets: func() int { return 3 }})
	m.Observe(event.Decision{Account: "a", Reason: "new", Status: 200, TTFB: 300 * time.Millisecond, Duration: 2 * time.Second,
		Usage: event.Usage{InputTokens: 100, CachedTokens: 80, OutputTokens: 10}})
	m.Observe(event.Decision{Account: "b", Reason: "failover", Status: 200, Duration: time.Second,
		Attempts: []event.Attempt{{Account: "a", Status: 429, Class: "rate_limit", Error: "rate_limit (429 slow down)"}, {Account: "b", Status: 200}}})
	m.Observe(event.Decision{Reason: "unsticky", Status: 503})
	m.Observe(event.Decision{Account: "b", Reason: "rebound", Status: 200, Items: "removed 3 reasoning items minted by a; compaction of 14:02 by a re-made on b",
		ItemCounts: &event.ItemCounts{Removed: 3, Remade: 1}})
	m.Observe(event.Decision{Account: "b", Reason: "sticky", Status: 200, ItemCounts: &event.ItemCounts{Removed: 1, Reused: 1}})
	m.Observe(event.Decision{Account: "a", Reason: "sticky", Status: 200, ItemCounts: &event.ItemCounts{Lost: 1, Refused: 1}})
	m.Observe(event.Decision{Account: "ds", Reason: "sticky", Status: 200, Door: event.DoorChat, API: event.APIChat})
	m.Observe(event.Decision{Account: "a", Reason: "sticky", Status: 200, Transport: "websocket"})

	want := `
# HELP proxy_requests_total Requests answered, by the account that served them (none: no account), HTTP status and client key (its name; login:<account> for a ChatGPT login; empty when the proxy checks no keys).
# TYPE proxy_requests_total counter
proxy_requests_total{account="a",client="",status="200"} 3
proxy_requests_total{account="b",client="",status="200"} 3
proxy_requests_total{account="ds",client="",status="200"} 1
proxy_requests_total{account="none",client="",status="503"} 1
# HELP proxy_conversation_items_total What the serving account could not read and was not sent, by account and what: reasoning_removed (items another account minted), compaction_remade (the account compacted the kept history now), compaction_reused (its own remake, made before), compaction_lost (the history was gone: left out), refused (the upstream refused items and the request was sent again without them).
# TYPE proxy_conversation_items_total counter
proxy_conversation_items_total{account="a",what="compaction_lost"} 1
proxy_conversation_items_total{account="a",what="refused"} 1
proxy_conversation_items_total{account="b",what="compaction_remade"} 1
proxy_conversation_items_total{account="b",what="compaction_reused"} 1
proxy_conversation_items_total{account="b",what="reasoning_removed"} 4
# HELP proxy_failovers_total Attempts that failed and moved the request to another account, by the account left and why.
# TYPE proxy_failovers_total counter
proxy_failovers_total{from="a",reason="rate_limit"} 1
# HELP proxy_tokens_total Tokens the upstreams reported, by account, kind (input, cached, output, reasoning) and client key.
# TYPE proxy_tokens_total counter
proxy_tokens_total{account="a",client="",kind="cached"} 80
proxy_tokens_total{account="a",client="",kind="input"} 100
proxy_tokens_total{account="a",client="",kind="output"} 10
# HELP proxy_sticky_total Routing decisions by result: sticky, new, headroom, planner, resumed, rebound, unsticky, failover; prewarm: a WebSocket warmup the proxy answered itself.
# TYPE proxy_sticky_total counter
proxy_sticky_total{result="failover"} 1
proxy_sticky_total{result="new"} 1
proxy_sticky_total{result="rebound"} 1
proxy_sticky_total{result="sticky"} 4
proxy_sticky_total{result="unsticky"} 1
# HELP proxy_front_door_requests_total Requests answered, by the front door they came in by (responses, websocket, chat_completions) and the API the serving account was sent (responses, chat_completions; none: no account).
# TYPE proxy_front_door_requests_total counter
proxy_front_door_requests_total{api="chat_completions",door="chat_completions"} 1
proxy_front_door_requests_total{api="none",door="responses"} 1
proxy_front_door_requests_total{api="responses",door="responses"} 5
proxy_front_door_requests_total{api="responses",door="websocket"} 1
# HELP proxy_events_dropped_total Decision events lost to subscribers that fell behind (the TUI, /_proxy/events, metrics).
# TYPE proxy_events_dropped_total counter
proxy_events_dropped_total 7
# HELP proxy_websockets_open Client WebSocket connections open now (limits.websocket_connections bounds them).
# TYPE proxy_websockets_open gauge
proxy_websockets_open 3
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"proxy_requests_total", "proxy_conversation_items_total", "proxy_failovers_total", "proxy_tokens_total", "proxy_sticky_total", "proxy_front_door_requests_total", "proxy_events_dropped_total", "proxy_websockets_open"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.ttfb); n != 1 {
		t.Errorf("%d ttfb series, want 1 (none for a request without a first byte)", n)
	}
}

// dollarPerKiloInput prices gpt-5 input at a dollar per thousand tokens.
type dollarPerKiloInput struct{}

func (dollarPerKiloInput) Cost(model string, u store.Usage) (float64, bool) {
	return float64(u.InputTokens) / 1000, model == "gpt-5"
}

// TestObserveClients: requests, tokens and cost by client key, and the
// refusals of a key's limits by limit.
func TestObserveClients(t *testing.T) {
	m := New(Sources{Prices: dollarPerKiloInput{}})
	m.Observe(event.Decision{Client: "ci", Account: "a", Model: "gpt-5", Status: 200, Usage: event.Usage{InputTokens: 500}})
	m.Observe(event.Decision{Client: "ci", Account: "a", Model: "alias", UpstreamModel: "gpt-5", Status: 200, Usage: event.Usage{InputTokens: 250}})
	m.Observe(event.Decision{Client: "lead", Account: "a", Model: "unpriced", Status: 200, Usage: event.Usage{InputTokens: 9}})
	m.Observe(event.Decision{Client: "ci", Model: "gpt-5", Status: 429, Limit: "requests_per_minute"})
	m.Observe(event.Decision{Client: "ci", Model: "o3", Status: 403, Limit: "models"})
	want := `
# HELP proxy_client_limit_refusals_total Requests a client key's limit refused before any account was tried, by client key and limit (requests_per_minute, tokens_per_day, tokens_per_week, usd_per_month, concurrent, models, accounts).
# TYPE proxy_client_limit_refusals_total counter
proxy_client_limit_refusals_total{client="ci",limit="models"} 1
proxy_client_limit_refusals_total{client="ci",limit="requests_per_minute"} 1
# HELP proxy_cost_usd_total What the requests served would cost at the price table's API prices (for a ChatGPT account, the API-equivalent), by account and client key; unpriced models add nothing.
# TYPE proxy_cost_usd_total counter
proxy_cost_usd_total{account="a",client="ci"} 0.75
# HELP proxy_requests_total Requests answered, by the account that served them (none: no account), HTTP status and client key (its name; login:<account> for a ChatGPT login; empty when the proxy checks no keys).
# TYPE proxy_requests_total counter
proxy_requests_total{account="a",client="ci",status="200"} 2
proxy_requests_total{account="a",client="lead",status="200"} 1
proxy_requests_total{account="none",client="ci",status="403"} 1
proxy_requests_total{account="none",client="ci",status="429"} 1
# HELP proxy_tokens_total Tokens the upstreams reported, by account, kind (input, cached, output, reasoning) and client key.
# TYPE proxy_tokens_total counter
proxy_tokens_total{account="a",client="ci",kind="input"} 750
proxy_tokens_total{account="a",client="lead",kind="input"} 9
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"proxy_client_limit_refusals_total", "proxy_cost_usd_total", "proxy_requests_total", "proxy_tokens_total"); err != nil {
		t.Error(err)
	}
}
