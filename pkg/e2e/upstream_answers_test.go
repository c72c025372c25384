package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/status"
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
	status, _, body := postNoFollow(t, p.URL, `{"model":"gpt-5","stream":true,"input":"hi"}`)
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

// notAPIFaults are answers of something other than the API: a captive
// portal's page and each redirect.
func notAPIFaults() []struct {
	name    string
	fault   fakeupstream.Fault
	message string // what status says of primary
} {
	const loc = "https://portal.example/login?token=secret-in-location"
	out := []struct {
		name    string
		fault   fakeupstream.Fault
		message string
	}{{"200 text/html", fakeupstream.CaptivePortal(), "answered 200 text/html, not the API"}}
	for _, code := range []int{301, 302, 303, 307, 308} {
		out = append(out, struct {
			name    string
			fault   fakeupstream.Fault
			message string
		}{fmt.Sprint(code), fakeupstream.Redirect(code, loc), fmt.Sprintf("redirected (%d) to portal.example, not the API", code)})
	}
	return out
}

// statusOf is what /_proxy/status says of account name.
func statusOf(t *testing.T, p *running, name string) status.Account {
	t.Helper()
	for _, a := range proxyStatus(t, p).Accounts {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("status has no account %s", name)
	return status.Account{}
}

// TestNotTheAPIFailsOver: a page or a redirect in the upstream's place is
// the account's failure: the turn fails over before the first byte, the
// client never sees the page or the Location, and the account cools down
// with the reason in status.
func TestNotTheAPIFailsOver(t *testing.T) {
	for _, tt := range notAPIFaults() {
		t.Run(tt.name, func(t *testing.T) {
			tr := streamTurn(t, tt.fault, "")
			tr.failedOver(t)
			if strings.Contains(tr.body, "<") || strings.Contains(tr.body, "portal.example") {
				t.Fatalf("the page reached the client:\n%s", tr.body)
			}
			a := statusOf(t, tr.proxy, "primary")
			if a.Reason != "not_api" || !strings.HasPrefix(a.Message, tt.message) || a.Until == nil {
				t.Fatalf("status of primary: state %s reason %q message %q until %v", a.State, a.Reason, a.Message, a.Until)
			}
			if strings.Contains(a.Message, "secret-in-location") {
				t.Fatalf("status quotes the Location: %s", a.Message)
			}
		})
	}
}

// TestNotTheAPIAlone: when every account answers with a page or a
// redirect, the client gets the proxy's own OpenAI-shaped 502, never the
// page, the 3xx or its Location; `proxy accounts list` says why.
func TestNotTheAPIAlone(t *testing.T) {
	for _, tt := range notAPIFaults() {
		t.Run(tt.name, func(t *testing.T) {
			only := startUpstream(t, "only", fakeupstream.WithAPIKey(keyA))
			only.Script(tt.fault)
			p := startProxy(t, "accounts:\n"+openaiAccount("only", only, "KEY_A", 1), env)
			code, h, body := postNoFollow(t, p.URL, `{"model":"gpt-5","stream":true,"input":"hi"}`)
			var e struct {
				Error struct{ Message, Type, Code string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || code != http.StatusBadGateway || e.Error.Code != "upstream_not_api" {
				t.Fatalf("got %d %v:\n%s", code, err, body)
			}
			if h.Get("Location") != "" || strings.Contains(body, "<") || strings.Contains(body, "secret-in-location") {
				t.Fatalf("the upstream's page or Location reached the client: Location %q\n%s", h.Get("Location"), body)
			}
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("message %q does not say what happened (%s)", e.Error.Message, tt.message)
			}
			exit, stdout, stderr := runCLI(t, env, "accounts", "list", "-c", p.path, "--addr", p.URL)
			if exit != 0 || !strings.Contains(stdout+stderr, tt.message) {
				t.Errorf("accounts list (exit %d) does not say why:\n%s%s", exit, stdout, stderr)
			}
		})
	}
}

// TestNotTheAPIOnEveryPath: the check holds whatever the request: a JSON
// (stream:false) answer, a compaction, and a WebSocket request served
// over HTTP.
func TestNotTheAPIOnEveryPath(t *testing.T) {
	tests := []struct {
		name string
		send func(t *testing.T, p *running) string // returns what the client got
	}{
		{"stream:false", func(t *testing.T, p *running) string {
			got := postJSON(t, p.URL+"/v1/responses", `{"model":"gpt-5","input":"hi"}`)
			// The bytes read ahead to sniff the answer are passed on too.
			if !json.Valid([]byte(got)) || !strings.Contains(got, "Hello from standby.") {
				t.Fatalf("the JSON answer did not arrive whole:\n%s", got)
			}
			return got
		}},
		{"compact", func(t *testing.T, p *running) string {
			return postJSON(t, p.URL+"/v1/responses/compact", `{"model":"gpt-5","input":[`+userItem+`]}`)
		}},
		{"websocket", func(t *testing.T, p *running) string {
			c := wsDial(t, p.URL, "", "sess-not-api")
			a := wsSend(t, c, createFrame("", "["+userItem+"]"))
			if a.last().Type != "response.completed" {
				t.Fatalf("answer ended with %s", a.last().raw)
			}
			return a.text()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary := startUpstream(t, "primary", fakeupstream.WithAPIKey(keyA))
			standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
			primary.Script(fakeupstream.CaptivePortal())
			p := startProxy(t, primaryAndStandby(primary, standby, ""), env)
			got := tt.send(t, p)
			if strings.Contains(got, "<") || len(standby.Requests()) != 1 {
				t.Fatalf("standby got %d requests; the client got:\n%s", len(standby.Requests()), got)
			}
			if a := statusOf(t, p, "primary"); a.Reason != "not_api" {
				t.Fatalf("status of primary: reason %q message %q", a.Reason, a.Message)
			}
		})
	}
}

// postJSON posts body to url and returns the answer, failing unless it
// is a 200.
func postJSON(t *testing.T, url, body string) string {
	t.Helper()
	code, _, b := postTo(t, url, body)
	if code != http.StatusOK {
		t.Fatalf("%s answered %d:\n%s", url, code, b)
	}
	return b
}

// postNoFollow posts a Responses request to the proxy at base as post
// does, with a client that never follows a redirect: one that reached
// the client must be seen, not followed to a host on the internet.
func postNoFollow(t *testing.T, base, body string) (int, http.Header, string) {
	t.Helper()
	return postTo(t, base+"/v1/responses", body)
}

func postTo(t *testing.T, url, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Session_id", "conv")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestUpstreamWebSocketMessageNotJSON: a message on the upstream WebSocket
// that is not a JSON event (a gateway's page) is not the API's answer.
// Before output the turn fails over; after it the client gets the proxy's
// own response.failed. The client never sees the bytes.
func TestUpstreamWebSocketMessageNotJSON(t *testing.T) {
	const page = "<html><body>Checking your browser before accessing</body></html>"
	tests := []struct {
		name    string
		after   int // events of the answer before the page
		standby bool
	}{
		{"before output fails over", 1, true},
		{"after output ends with response.failed", 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary := startUpstream(t, "primary", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket())
			standby := startUpstream(t, "standby", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket())
			primary.Script(fakeupstream.Fault{WSNotJSON: page, WSNotJSONAfter: tt.after})
			cfg := "accounts:\n" + chatgptAccount("primary", primary, "ACCESS", "acct-123", 1) + chatgptAccount("standby", standby, "ACCESS", "acct-123", 0)
			p := startProxy(t, cfg, env)
			c := wsDial(t, p.URL, "", "sess-not-json")
			// wsSend fails on a message that is not JSON.
			a := wsSend(t, c, createFrame("", "["+userItem+"]"))
			last := a.last()
			if strings.Contains(string(last.raw), "Checking your browser") {
				t.Fatalf("the page reached the client: %s", last.raw)
			}
			if tt.standby {
				if last.Type != "response.completed" || a.text() != "Hello from standby." {
					t.Fatalf("the turn did not fail over: %s", last.raw)
				}
				return
			}
			if last.Type != "response.failed" || !strings.Contains(string(last.raw), "not a JSON event") {
				t.Fatalf("answer ended with %s", last.raw)
			}
		})
	}
}
