package e2e_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// sseEvent is one event of a stream the proxy sent, read strictly.
type sseEvent struct {
	Type string
	Data map[string]any
}

// parseSSE reads body as a client following the SSE spec does, and fails
// the test on any event whose data is not JSON: a client cannot parse it.
func parseSSE(t *testing.T, body string) []sseEvent {
	t.Helper()
	var out []sseEvent
	for _, chunk := range strings.Split(body, "\n\n") {
		if strings.TrimSpace(chunk) == "" {
			continue
		}
		var data []string
		for _, line := range strings.Split(chunk, "\n") {
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = append(data, v)
			}
		}
		if data == nil {
			continue
		}
		ev := sseEvent{}
		if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &ev.Data); err != nil {
			t.Fatalf("an event's data is not JSON (%v):\n%s", err, chunk)
		}
		ev.Type, _ = ev.Data["type"].(string)
		out = append(out, ev)
	}
	return out
}

// failedCode is a response.failed event's error code.
func failedCode(ev sseEvent) string {
	r, _ := ev.Data["response"].(map[string]any)
	e, _ := r["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// streamedTurn is one streamed request through a proxy whose primary account
// misbehaves as its fault says, with a healthy standby.
type streamedTurn struct {
	proxy   *running
	standby *fakeupstream.Server
	body    string
	events  []sseEvent
}

// streamTurn posts one streamed request to a proxy in front of a primary
// scripted with fault and a standby; config is YAML put before accounts.
func streamTurn(t *testing.T, fault fakeupstream.Fault, config string) streamedTurn {
	t.Helper()
	primary := startUpstream(t, "primary", fakeupstream.WithAPIKey(keyA))
	standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
	primary.Script(fault)
	p := startProxy(t, primaryAndStandby(primary, standby, config), env)
	status, _, body := post(t, p.URL, "conv")
	evs := parseSSE(t, body)
	if status != 200 || len(evs) == 0 {
		t.Fatalf("got %d:\n%s", status, body)
	}
	return streamedTurn{proxy: p, standby: standby, body: body, events: evs}
}

func (tr streamedTurn) last() sseEvent { return tr.events[len(tr.events)-1] }

// failedOver fails the test unless standby answered the turn.
func (tr streamedTurn) failedOver(t *testing.T) {
	t.Helper()
	if tr.last().Type != "response.completed" || !strings.Contains(tr.body, "Hello from standby.") {
		t.Fatalf("the turn did not fail over:\n%s", tr.body)
	}
}

// TestUnterminatedLastEvent: a stream whose last event has no blank line
// is never passed on glued to the proxy's JSON. Before output the turn
// fails over; after output the client's last event is the proxy's own
// response.failed, parsable, over HTTP and over the WebSocket.
func TestUnterminatedLastEvent(t *testing.T) {
	tests := []struct {
		name  string
		fault fakeupstream.Fault
		// standby: the turn fails over and standby answers it.
		standby bool
	}{
		// The first output event is the one cut: nothing reached the
		// client yet.
		{"first output event cut fails over", fakeupstream.Fault{CutAfter: 3, UnterminatedLast: true}, true},
		{"a delta cut after output", fakeupstream.Fault{CutBeforeTextDelta: 3, UnterminatedLast: true}, false},
		{"response.completed unterminated", fakeupstream.Fault{UnterminatedLast: true}, false},
	}
	for _, tt := range tests {
		t.Run("http/"+tt.name, func(t *testing.T) {
			tr := streamTurn(t, tt.fault, "")
			evs, body, last := tr.events, tr.body, tr.last()
			if tt.standby {
				tr.failedOver(t)
				return
			}
			if last.Type != "response.failed" || failedCode(last) != "upstream_stream_interrupted" {
				t.Fatalf("last event %v, want the proxy's response.failed:\n%s", last.Data, body)
			}
			for _, ev := range evs[:len(evs)-1] {
				if ev.Type == "response.completed" || ev.Type == "response.failed" {
					t.Fatalf("a %s came before the proxy's response.failed:\n%s", ev.Type, body)
				}
			}
		})
		t.Run("websocket/"+tt.name, func(t *testing.T) {
			primary := startUpstream(t, "primary", fakeupstream.WithAPIKey(keyA))
			standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
			primary.Script(tt.fault)
			p := startProxy(t, primaryAndStandby(primary, standby, ""), env)
			c := wsDial(t, p.URL, "", "sess-unterminated")
			// wsSend fails on a message that is not JSON, and reads up to
			// the terminal one.
			a := wsSend(t, c, createFrame("", "["+userItem+"]"))
			last := a.last()
			if tt.standby {
				if last.Type != "response.completed" || a.text() != "Hello from standby." {
					t.Fatalf("the turn did not fail over: %s", last.raw)
				}
				return
			}
			if last.Type != "response.failed" || !strings.Contains(string(last.raw), "upstream_stream_interrupted") {
				t.Fatalf("answer ended with %s", last.raw)
			}
			// The connection still serves: the next request is answered.
			if next := wsSend(t, c, createFrame("", "["+userItem+"]")); next.last().Type != "response.completed" {
				t.Fatalf("the next request ended with %s", next.last().raw)
			}
		})
	}
}

// TestWebSocketEveryRequestEndsWithTerminal: an answer that ends without a
// terminal event (here a JSON response object where a stream was asked
// for) still ends, over the WebSocket, with the proxy's response.failed:
// Codex would otherwise wait for its own idle timeout.
func TestWebSocketEveryRequestEndsWithTerminal(t *testing.T) {
	api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA))
	api.Script(fakeupstream.Fault{Status: 200, Body: `{"id":"resp_1","object":"response","output":[]}`})
	p := startProxy(t, "accounts:\n"+openaiAccount("api", api, "KEY_A", 1), env)
	c := wsDial(t, p.URL, "", "sess-json")
	a := wsSend(t, c, createFrame("", "["+userItem+"]"))
	if last := a.last(); last.Type != "response.failed" || !strings.Contains(string(last.raw), "upstream_stream_interrupted") {
		t.Fatalf("answer ended with %s", last.raw)
	}
}

// TestTrickleIsSilence: bytes that trickle in without completing an event
// are bounded by timeouts.stream_idle as silence is: during the opening
// hold the turn fails over, after output the client gets the proxy's
// response.failed.
func TestTrickleIsSilence(t *testing.T) {
	tests := []struct {
		name         string
		trickleAfter int // events sent before the trickle starts
		standby      bool
	}{
		{"during the hold fails over", 2, true},
		{"after output ends with response.failed", 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A byte every 10 ms: far more often than the idle timeout.
			tr := streamTurn(t, fakeupstream.Fault{Trickle: 10 * time.Millisecond, TrickleAfter: tt.trickleAfter}, "timeouts:\n  stream_idle: 300ms\n")
			body, last, standby := tr.body, tr.last(), tr.standby
			if tt.standby {
				tr.failedOver(t)
				waitForLog(t, tr.proxy, "upstream sent no complete event for 300ms")
				return
			}
			if last.Type != "response.failed" || !strings.Contains(body, "upstream sent no complete event for 300ms") {
				t.Fatalf("last event %v, want the proxy's response.failed:\n%s", last.Data, body)
			}
			if len(standby.Requests()) != 0 {
				t.Fatal("a stream that already reached the client was failed over")
			}
		})
	}
}
