package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proxy-dev/proxy/pkg/event"
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
# HELP proxy_requests_total Requests answered, by the account that served them (none: no account) and HTTP status.
# TYPE proxy_requests_total counter
proxy_requests_total{account="a",status="200"} 3
proxy_requests_total{account="b",status="200"} 3
proxy_requests_total{account="ds",status="200"} 1
proxy_requests_total{account="none",status="503"} 1
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
# HELP proxy_tokens_total Tokens the upstreams reported, by account and kind (input, cached, output, reasoning).
# TYPE proxy_tokens_total counter
proxy_tokens_total{account="a",kind="cached"} 80
proxy_tokens_total{account="a",kind="input"} 100
proxy_tokens_total{account="a",kind="output"} 10
# HELP proxy_sticky_total Routing decisions by result: sticky, new, headroom, resumed, rebound, unsticky, failover; prewarm: a WebSocket warmup the proxy answered itself.
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
