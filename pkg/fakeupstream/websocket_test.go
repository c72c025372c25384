package fakeupstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsURL is the ws:// address of path on a server whose base URL is base.
func wsURL(base, path string) string {
	return "ws" + strings.TrimPrefix(base, "http") + path
}

// codexWSHeader is what Codex sends on the upgrade, plus the credential.
func codexWSHeader(auth string) http.Header {
	h := http.Header{}
	h.Set("OpenAI-Beta", "responses_websockets=2026-02-06")
	h.Set("Session-Id", "sess-1")
	if auth != "" {
		h.Set("Authorization", "Bearer "+auth)
	}
	return h
}

// dialWS opens a connection the way Codex does (permessage-deflate offered)
// and drops it when the test ends.
func dialWS(t *testing.T, ctx context.Context, url string, h http.Header) (*websocket.Conn, *http.Response) {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, CompressionMode: websocket.CompressionContextTakeover})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, resp
}

// dialRefused dials expecting the handshake to fail, and returns the status
// and the start of the body.
func dialRefused(t *testing.T, ctx context.Context, url string, h http.Header) (int, []byte) {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		_ = c.CloseNow()
		t.Fatalf("dial %s: upgraded, want a refusal", url)
	}
	if resp == nil {
		t.Fatalf("dial %s: %v, and no HTTP response", url, err)
	}
	return resp.StatusCode, readBodyBytes(t, resp)
}

func userInput(text string) []any {
	return []any{map[string]any{
		"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": text}},
	}}
}

func callOutput(callID string) []any {
	return []any{map[string]any{"type": "function_call_output", "call_id": callID, "output": "done"}}
}

// sendFrame sends a response.create frame: a Codex-like request body with
// fields added or replaced, and returns the bytes sent.
func sendFrame(t *testing.T, ctx context.Context, c *websocket.Conn, fields map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"type":   "response.create",
		"model":  "gpt-5",
		"stream": true,
		"store":  false,
		"input":  userInput("say hi"),
	}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, ctx, c, b)
	return b
}

func sendRaw(t *testing.T, ctx context.Context, c *websocket.Conn, b []byte) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("write frame: %v", err)
	}
}

// readEvent reads one frame, which must be one event's JSON.
func readEvent(t *testing.T, ctx context.Context, c *websocket.Conn) map[string]any {
	t.Helper()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("frame type %v, want text", typ)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("frame is not a JSON object: %v\n%s", err, b)
	}
	return m
}

// readTurn reads the events of one frame's answer, up to the event that ends
// it.
func readTurn(t *testing.T, ctx context.Context, c *websocket.Conn) []map[string]any {
	t.Helper()
	var out []map[string]any
	for {
		ev := readEvent(t, ctx, c)
		out = append(out, ev)
		switch ev["type"] {
		case "response.completed", "response.failed", "error":
			return out
		}
	}
}

func eventTypes(evs []map[string]any) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i], _ = e["type"].(string)
	}
	return out
}

// replyText is the text of the completed response's message.
func replyText(completed map[string]any) string {
	out, _ := get(completed, "response.output").([]any)
	if len(out) != 1 {
		return ""
	}
	parts, _ := get(out[0], "content").([]any)
	if len(parts) != 1 {
		return ""
	}
	s, _ := get(parts[0], "text").(string)
	return s
}

// wantDropped asserts that the connection ends without a close frame, as a
// client sees an upstream that dies (1006).
func wantDropped(t *testing.T, ctx context.Context, c *websocket.Conn) {
	t.Helper()
	_, b, err := c.Read(ctx)
	if err == nil {
		t.Fatalf("read a frame, want the connection dropped: %s", b)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connection still open: %v", err)
	}
	if code := websocket.CloseStatus(err); code != -1 {
		t.Fatalf("connection ended with close frame %d, want none: %v", code, err)
	}
}

func jsonEqual(t *testing.T, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("event\n got %s\nwant %s", g, want)
	}
}

func TestWebSocketUpgradeHeaders(t *testing.T) {
	tests := []struct {
		name       string
		opts       []Option
		auth       string
		httptest   bool
		turnState  bool
		rateLimits bool
	}{
		{name: "api key on httptest", opts: []Option{WithAPIKey("sk-a"), WithWebSocket()}, auth: "sk-a", httptest: true},
		{name: "chatgpt with turn state", opts: []Option{WithChatGPT("tok", "acct"), WithTurnState(), WithWebSocket()}, auth: "tok", turnState: true, rateLimits: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := New("alpha", tc.opts...)
			base := ""
			if tc.httptest {
				hs := httptest.NewServer(s)
				t.Cleanup(func() { hs.Close(); _ = s.Close() })
				base = hs.URL
			} else {
				base = start(t, s).URL()
			}
			h := codexWSHeader(tc.auth)
			h.Set("Chatgpt-Account-Id", "acct")
			c, resp := dialWS(t, ctx, wsURL(base, "/backend-api/codex/responses"), h)
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d, want 101", resp.StatusCode)
			}
			for k, want := range map[string]string{
				"X-Models-Etag":        `"fake-alpha"`,
				"X-Reasoning-Included": "true",
				"Openai-Model":         "gpt-5",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if ext := resp.Header.Get("Sec-Websocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
				t.Errorf("deflate not negotiated: %q", ext)
			}
			if got := resp.Header.Get("X-Codex-Primary-Used-Percent") != ""; got != tc.rateLimits {
				t.Errorf("rate-limit headers present %v, want %v", got, tc.rateLimits)
			}
			ts := resp.Header.Get(turnStateHeader)
			if (ts != "") != tc.turnState {
				t.Fatalf("turn state %q, want one: %v", ts, tc.turnState)
			}
			if got := s.OpenWebSockets(); got != 1 {
				t.Errorf("OpenWebSockets = %d, want 1", got)
			}
			sendFrame(t, ctx, c, nil)
			if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
				t.Errorf("turn ended with %v", eventTypes(evs))
			}

			if tc.turnState {
				// The turn state goes on: a reconnect that echoes it gets it back.
				h.Set(turnStateHeader, ts)
				_, resp2 := dialWS(t, ctx, wsURL(base, "/backend-api/codex/responses"), h)
				if got := resp2.Header.Get(turnStateHeader); got != ts {
					t.Errorf("echoed turn state answered %q, want %q", got, ts)
				}
				if foreign := s.ForeignTurnStates(); foreign != nil {
					t.Errorf("ForeignTurnStates = %v", foreign)
				}
			}
			reqs := s.Requests()
			if len(reqs) < 2 || reqs[0].Method != http.MethodGet || reqs[0].WebSocket || reqs[1].Method != "WEBSOCKET" || !reqs[1].WebSocket {
				t.Fatalf("requests: %s", describeReqs(reqs))
			}
		})
	}
}

func describeReqs(reqs []Request) string {
	var b strings.Builder
	for _, r := range reqs {
		b.WriteString(r.Method + " " + r.Path + "; ")
	}
	return b.String()
}

// TestWebSocketToolTurn is one agent turn over one connection: the full
// request gets a function call, and the follow-up that sends only the call's
// output (chained on the first response) gets the text.
func TestWebSocketToolTurn(t *testing.T) {
	ctx := testCtx(t)
	const args = `{"command":["ls","-la"]}`
	s := start(t, New("alpha", WithChatGPT("tok", "acct"), WithWebSocket(), WithToolCall("shell", args)))
	h := codexWSHeader("tok")
	h.Set("Chatgpt-Account-Id", "acct")
	c, _ := dialWS(t, ctx, wsURL(s.URL(), "/backend-api/codex/responses"), h)

	sent1 := sendFrame(t, ctx, c, nil)
	evs := readTurn(t, ctx, c)
	wantTypes := []string{
		"response.created", "response.in_progress", "response.output_item.added",
		"response.function_call_arguments.delta", "response.function_call_arguments.done",
		"response.output_item.done", "response.completed",
	}
	if got := eventTypes(evs); !reflect.DeepEqual(got, wantTypes) {
		t.Fatalf("events %v, want %v", got, wantTypes)
	}
	for i, e := range evs {
		if n := num(t, e, "sequence_number"); n != i {
			t.Errorf("event %d has sequence_number %d", i, n)
		}
	}
	added := get(evs[2], "item").(map[string]any)
	if added["type"] != "function_call" || added["name"] != "shell" || added["arguments"] != "" || added["status"] != "in_progress" {
		t.Errorf("added item %v", added)
	}
	callID, _ := added["call_id"].(string)
	if !strings.HasPrefix(callID, "call_") || !strings.HasPrefix(added["id"].(string), "fc_") {
		t.Errorf("ids of %v", added)
	}
	if evs[3]["delta"] != args || evs[4]["arguments"] != args || evs[3]["item_id"] != added["id"] {
		t.Errorf("argument events %v / %v", evs[3], evs[4])
	}
	out := get(evs[6], "response.output").([]any)
	if len(out) != 1 || get(out[0], "arguments") != args || get(out[0], "status") != "completed" || get(out[0], "call_id") != callID {
		t.Errorf("completed output %v", out)
	}
	if num(t, evs[6], "response.usage.input_tokens") == 0 {
		t.Errorf("no usage: %v", evs[6])
	}
	respID := get(evs[0], "response.id").(string)

	sent2 := sendFrame(t, ctx, c, map[string]any{"previous_response_id": respID, "input": callOutput(callID)})
	evs = readTurn(t, ctx, c)
	last := evs[len(evs)-1]
	if last["type"] != "response.completed" || replyText(last) != "Hello from alpha." {
		t.Fatalf("second frame answered %v, text %q", eventTypes(evs), replyText(last))
	}
	if got := get(last, "response.previous_response_id"); got != respID {
		t.Errorf("previous_response_id in response = %v, want %s", got, respID)
	}

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests: %s", describeReqs(reqs))
	}
	for i, want := range []struct {
		body        []byte
		prev        string
		incremental bool
	}{{sent1, "", false}, {sent2, respID, true}} {
		r := reqs[i+1]
		if r.Method != "WEBSOCKET" || !r.WebSocket || r.Path != "/backend-api/codex/responses" {
			t.Errorf("frame %d recorded as %s %s (websocket %v)", i+1, r.Method, r.Path, r.WebSocket)
		}
		if string(r.Body) != string(want.body) {
			t.Errorf("frame %d body\n got %s\nwant %s", i+1, r.Body, want.body)
		}
		if r.PreviousResponseID != want.prev || r.Incremental != want.incremental {
			t.Errorf("frame %d: previous %q incremental %v, want %q %v", i+1, r.PreviousResponseID, r.Incremental, want.prev, want.incremental)
		}
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Openai-Beta") == "" {
			t.Errorf("frame %d lacks the upgrade's headers: %v", i+1, r.Header)
		}
	}
}

func TestWebSocketWarmup(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, New("alpha", WithWebSocket()))
	c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), codexWSHeader(""))

	sendFrame(t, ctx, c, map[string]any{"generate": false})
	evs := readTurn(t, ctx, c)
	if got, want := eventTypes(evs), []string{"response.created", "response.completed"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("warmup events %v, want %v", got, want)
	}
	if out := get(evs[1], "response.output").([]any); len(out) != 0 {
		t.Errorf("warmup output %v, want none", out)
	}
	for _, k := range []string{"input_tokens", "output_tokens", "total_tokens"} {
		if n := num(t, evs[1], "response.usage."+k); n != 0 {
			t.Errorf("warmup usage %s = %d, want 0", k, n)
		}
	}
	warmID := get(evs[0], "response.id").(string)

	// The warmup is the connection's last response: the real turn chains on it.
	sendFrame(t, ctx, c, map[string]any{"previous_response_id": warmID})
	evs = readTurn(t, ctx, c)
	if last := evs[len(evs)-1]; last["type"] != "response.completed" || replyText(last) != "Hello from alpha." {
		t.Fatalf("turn after warmup: %v", eventTypes(evs))
	}
	if r := s.Requests()[2]; !r.Incremental || r.PreviousResponseID != warmID {
		t.Errorf("turn after warmup recorded incremental %v previous %q", r.Incremental, r.PreviousResponseID)
	}
}

func TestWebSocketPreviousResponseNotFound(t *testing.T) {
	tests := []struct {
		name string
		prev func(first, other string) string
	}{
		{"made up", func(string, string) string { return "resp_nope" }},
		{"another connection's", func(_, other string) string { return other }},
		{"not the last one", func(first, _ string) string { return first }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, New("alpha", WithWebSocket()))
			url := wsURL(s.URL(), "/v1/responses")
			other, _ := dialWS(t, ctx, url, nil)
			sendFrame(t, ctx, other, nil)
			otherID := get(readTurn(t, ctx, other)[0], "response.id").(string)

			c, _ := dialWS(t, ctx, url, nil)
			sendFrame(t, ctx, c, nil)
			firstID := get(readTurn(t, ctx, c)[0], "response.id").(string)
			sendFrame(t, ctx, c, nil) // the connection's last response is now another

			readTurn(t, ctx, c)
			prev := tc.prev(firstID, otherID)
			sendFrame(t, ctx, c, map[string]any{"previous_response_id": prev, "input": callOutput("call_x")})
			evs := readTurn(t, ctx, c)
			if len(evs) != 1 {
				t.Fatalf("events %v, want the error alone", eventTypes(evs))
			}
			jsonEqual(t, evs[0], `{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"previous_response_not_found","message":"Previous response with id '`+prev+`' not found.","param":"previous_response_id"}}`)

			// The connection goes on: a full request is served.
			sendFrame(t, ctx, c, nil)
			if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
				t.Errorf("after the error: %v", eventTypes(evs))
			}
			if r := s.Requests()[len(s.Requests())-2]; r.Incremental || r.PreviousResponseID != prev {
				t.Errorf("refused frame recorded incremental %v previous %q", r.Incremental, r.PreviousResponseID)
			}
		})
	}
}

// TestWebSocketStatusFault checks that an HTTP error status becomes one
// wrapped error event carrying the status, the HTTP body's error object and
// its headers, and that the connection serves the next frame.
func TestWebSocketStatusFault(t *testing.T) {
	resets := time.Unix(1_900_000_000, 0)
	tests := []struct {
		name        string
		opts        []Option
		fault       Fault
		wantStatus  int
		wantError   map[string]any // members the error object must have
		wantHeaders map[string]string
		noHeaders   bool
	}{
		{
			name: "rate limited", fault: RateLimited(2 * time.Second), wantStatus: 429,
			wantError:   map[string]any{"code": "rate_limit_exceeded", "type": "requests"},
			wantHeaders: map[string]string{"retry-after": "2", "retry-after-ms": "2000"},
		},
		{
			name: "chatgpt quota", opts: []Option{WithChatGPT("tok", "acct")}, fault: QuotaExceeded(resets), wantStatus: 429,
			wantError:   map[string]any{"type": "usage_limit_reached", "plan_type": "plus", "resets_at": float64(resets.Unix())},
			wantHeaders: map[string]string{"x-codex-primary-used-percent": "100", "x-codex-plan-type": "plus", "x-codex-secondary-window-minutes": "10080"},
		},
		{
			name: "bare 500", fault: Fault{Status: 500}, wantStatus: 500,
			wantError: map[string]any{"type": "server_error", "code": nil}, noHeaders: true,
		},
		{
			name: "bare 401", fault: Fault{Status: 401}, wantStatus: 401,
			wantError: map[string]any{"code": "invalid_api_key"}, noHeaders: true,
		},
		{
			name: "gateway html", fault: ForbiddenHTML(), wantStatus: 403,
			wantError:   map[string]any{"type": "invalid_request_error"},
			wantHeaders: map[string]string{"server": "nginx"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, New("alpha", append(tc.opts, WithWebSocket())...))
			s.Script(tc.fault) // before the upgrade: the upgrade must not use it up
			h := codexWSHeader("tok")
			h.Set("Chatgpt-Account-Id", "acct")
			c, _ := dialWS(t, ctx, wsURL(s.URL(), "/backend-api/codex/responses"), h)

			sendFrame(t, ctx, c, nil)
			evs := readTurn(t, ctx, c)
			if len(evs) != 1 || evs[0]["type"] != "error" {
				t.Fatalf("events %v, want one error", eventTypes(evs))
			}
			ev := evs[0]
			if n := num(t, ev, "status"); n != tc.wantStatus {
				t.Errorf("status %d, want %d", n, tc.wantStatus)
			}
			errObj, _ := ev["error"].(map[string]any)
			for k, want := range tc.wantError {
				if got, ok := errObj[k]; !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("error.%s = %v, want %v (%v)", k, got, want, errObj)
				}
			}
			if msg, _ := errObj["message"].(string); msg == "" {
				t.Errorf("error has no message: %v", errObj)
			}
			headers, _ := ev["headers"].(map[string]any)
			if tc.noHeaders && headers != nil {
				t.Errorf("headers %v, want none", headers)
			}
			for k, want := range tc.wantHeaders {
				if got := headers[k]; got != want {
					t.Errorf("headers[%s] = %v, want %q", k, got, want)
				}
			}
			if _, ok := headers["content-type"]; ok {
				t.Errorf("headers carry the HTTP body's content-type: %v", headers)
			}

			sendFrame(t, ctx, c, nil)
			if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
				t.Errorf("next frame: %v", eventTypes(evs))
			}
		})
	}
}

func TestWebSocketStreamFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		want  []string
		check func(t *testing.T, evs []map[string]any)
	}{
		{
			name: "overloaded after opening", fault: OverloadedAfterOpening(),
			want: []string{"response.created", "response.in_progress", "response.failed"},
			check: func(t *testing.T, evs []map[string]any) {
				if code := get(evs[2], "response.error.code"); code != "server_is_overloaded" {
					t.Errorf("failure code %v", code)
				}
			},
		},
		{
			name: "flat error event first", fault: ErrorEventFirst("context_length_exceeded", "too long"),
			want: []string{"error"},
			check: func(t *testing.T, evs []map[string]any) {
				if evs[0]["code"] != "context_length_exceeded" || evs[0]["message"] != "too long" {
					t.Errorf("error event %v", evs[0])
				}
			},
		},
		{
			name: "quota in stream", fault: QuotaInStream(time.Unix(1_900_000_000, 0)),
			want: []string{"response.created", "response.in_progress", "error"},
			check: func(t *testing.T, evs []map[string]any) {
				if get(evs[2], "error.type") != "usage_limit_reached" {
					t.Errorf("error event %v", evs[2])
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, New("alpha", WithWebSocket()))
			c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), nil)
			s.Script(tc.fault)
			sendFrame(t, ctx, c, nil)
			evs := readTurn(t, ctx, c)
			if got := eventTypes(evs); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			tc.check(t, evs)
			sendFrame(t, ctx, c, nil)
			if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
				t.Errorf("next frame: %v", eventTypes(evs))
			}
		})
	}
}

func TestWebSocketCutAfterDeltas(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, New("alpha", WithWebSocket(), WithReply("one two three")))
	c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), nil)
	s.Script(CutAfterDeltas(1))
	sendFrame(t, ctx, c, nil)
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta"}
	for i, w := range want {
		if ev := readEvent(t, ctx, c); ev["type"] != w {
			t.Fatalf("event %d is %v, want %s", i, ev["type"], w)
		}
	}
	wantDropped(t, ctx, c)

	// The server is fine: a new connection is served.
	c2, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), nil)
	sendFrame(t, ctx, c2, nil)
	if evs := readTurn(t, ctx, c2); evs[len(evs)-1]["type"] != "response.completed" {
		t.Errorf("new connection: %v", eventTypes(evs))
	}
}

// TestWebSocketHangGate checks that a Hang holds a frame's answer until the
// test opens the gate, before or after the first events.
func TestWebSocketHangGate(t *testing.T) {
	for _, beforeHeaders := range []bool{true, false} {
		name := "after one event"
		if beforeHeaders {
			name = "before any event"
		}
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			s := New("alpha", WithWebSocket())
			reached := make(chan struct{}, 1)
			s.hanging = func() { reached <- struct{}{} }
			start(t, s)
			gate := make(chan struct{})
			s.Script(Fault{Hang: gate, HangBeforeHeaders: beforeHeaders, HangAfter: 1})
			c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), nil)
			sendFrame(t, ctx, c, nil)
			if !beforeHeaders {
				if ev := readEvent(t, ctx, c); ev["type"] != "response.created" {
					t.Fatalf("first event %v", ev["type"])
				}
			}
			select {
			case <-reached:
			case <-ctx.Done():
				t.Fatal("frame never hung")
			}
			close(gate)
			if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
				t.Errorf("after the gate: %v", eventTypes(evs))
			}
		})
	}
}

// TestWebSocketFramesInOrder sends two frames before reading: they are
// answered one after the other, never interleaved.
func TestWebSocketFramesInOrder(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, New("alpha", WithWebSocket()))
	c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), nil)
	sendFrame(t, ctx, c, map[string]any{"model": "gpt-5"})
	sendFrame(t, ctx, c, map[string]any{"model": "gpt-5.5"})
	for _, model := range []string{"gpt-5", "gpt-5.5"} {
		evs := readTurn(t, ctx, c)
		for _, e := range evs {
			if m := get(e, "response.model"); m != nil && m != model {
				t.Fatalf("event of the %s turn names %v: %v", model, m, eventTypes(evs))
			}
		}
		if evs[len(evs)-1]["type"] != "response.completed" {
			t.Fatalf("%s turn: %v", model, eventTypes(evs))
		}
	}
}

func TestWebSocketBadFrames(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		param any
	}{
		{"not json", `{"type":`, nil},
		{"not an object", `["response.create"]`, nil},
		{"unknown type", `{"type":"response.cancel","model":"gpt-5","input":[]}`, "type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, New("alpha", WithWebSocket()))
			c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), nil)
			sendRaw(t, ctx, c, []byte(tc.frame))
			evs := readTurn(t, ctx, c)
			if len(evs) != 1 || num(t, evs[0], "status") != 400 || get(evs[0], "error.type") != "invalid_request_error" || get(evs[0], "error.param") != tc.param {
				t.Fatalf("answer %v", evs)
			}
			if got := string(s.Requests()[1].Body); got != tc.frame {
				t.Errorf("recorded body %q, want %q", got, tc.frame)
			}
			sendFrame(t, ctx, c, nil)
			if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
				t.Errorf("next frame: %v", eventTypes(evs))
			}
		})
	}
}

func TestWebSocketLimit(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, New("alpha", WithWebSocketLimit(2)))
	url := wsURL(s.URL(), "/v1/responses")
	c, _ := dialWS(t, ctx, url, nil)
	for i := range 2 {
		sendFrame(t, ctx, c, nil)
		if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
			t.Fatalf("frame %d: %v", i+1, eventTypes(evs))
		}
	}
	s.Script(Fault{Status: http.StatusInternalServerError})
	const limitErr = `{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"websocket_connection_limit_reached","message":"Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue."}}`
	for range 2 {
		sendFrame(t, ctx, c, nil)
		evs := readTurn(t, ctx, c)
		if len(evs) != 1 {
			t.Fatalf("events %v, want the limit error alone", eventTypes(evs))
		}
		jsonEqual(t, evs[0], limitErr)
	}
	if got := len(s.Requests()); got != 5 {
		t.Errorf("%d requests recorded, want the upgrade and 4 frames", got)
	}

	// A new connection starts a new count, and gets the Fault the refused
	// frames left alone.
	c2, _ := dialWS(t, ctx, url, nil)
	sendFrame(t, ctx, c2, nil)
	if evs := readTurn(t, ctx, c2); len(evs) != 1 || num(t, evs[0], "status") != 500 {
		t.Fatalf("new connection's first frame: %v", evs)
	}
	sendFrame(t, ctx, c2, nil)
	if evs := readTurn(t, ctx, c2); evs[len(evs)-1]["type"] != "response.completed" {
		t.Errorf("new connection's second frame: %v", eventTypes(evs))
	}
}

func TestCloseWebSockets(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, New("alpha", WithWebSocket()))
	url := wsURL(s.URL(), "/v1/responses")
	var conns []*websocket.Conn
	for range 2 {
		c, _ := dialWS(t, ctx, url, nil)
		sendFrame(t, ctx, c, nil)
		readTurn(t, ctx, c)
		conns = append(conns, c)
	}
	if got := s.OpenWebSockets(); got != 2 {
		t.Fatalf("OpenWebSockets = %d, want 2", got)
	}
	s.CloseWebSockets()
	if got := s.OpenWebSockets(); got != 0 {
		t.Errorf("OpenWebSockets after CloseWebSockets = %d, want 0", got)
	}
	for _, c := range conns {
		wantDropped(t, ctx, c)
	}

	c, _ := dialWS(t, ctx, url, nil)
	if got := s.OpenWebSockets(); got != 1 {
		t.Errorf("OpenWebSockets after a new dial = %d, want 1", got)
	}
	sendFrame(t, ctx, c, nil)
	if evs := readTurn(t, ctx, c); evs[len(evs)-1]["type"] != "response.completed" {
		t.Errorf("new connection: %v", eventTypes(evs))
	}
}

// TestWebSocketRefusedUpgrade checks the 426 that makes Codex fall back to
// HTTP, and that a refused upgrade uses up no Fault.
func TestWebSocketRefusedUpgrade(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		path string
	}{
		{"without WithWebSocket", nil, "/v1/responses"},
		{"not the responses path", []Option{WithWebSocket()}, "/v1/models"},
		{"compact path", []Option{WithWebSocket()}, "/v1/responses/compact"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, New("alpha", tc.opts...))
			s.Script(Fault{Status: http.StatusBadGateway})
			status, body := dialRefused(t, ctx, wsURL(s.URL(), tc.path), codexWSHeader(""))
			if status != http.StatusUpgradeRequired {
				t.Fatalf("status %d, want 426", status)
			}
			if e := checkErrorShape(t, body); e["code"] != "websocket_not_supported" {
				t.Errorf("error %v", e)
			}
			if got := s.RefusedUpgrades(); got != 1 {
				t.Errorf("RefusedUpgrades = %d, want 1", got)
			}
			if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Method != http.MethodGet || reqs[0].Path != tc.path {
				t.Errorf("requests: %s", describeReqs(reqs))
			}
			resp := do(t, ctx, http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", ""), nil)
			readBodyBytes(t, resp)
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("the next POST got %d, want the scripted 502", resp.StatusCode)
			}
		})
	}
}

func TestWebSocketUpgradeAuth(t *testing.T) {
	tests := []struct {
		name     string
		opts     []Option
		header   http.Header
		wantCode string
	}{
		{"wrong api key", []Option{WithAPIKey("sk-right")}, codexWSHeader("sk-wrong"), "invalid_api_key"},
		{"no api key", []Option{WithAPIKey("sk-right")}, codexWSHeader(""), "invalid_api_key"},
		{"chatgpt without account", []Option{WithChatGPT("tok", "acct")}, codexWSHeader("tok"), "invalid_account_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, New("alpha", append(tc.opts, WithWebSocket())...))
			status, body := dialRefused(t, ctx, wsURL(s.URL(), "/v1/responses"), tc.header)
			if status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", status)
			}
			if e := checkErrorShape(t, body); e["code"] != tc.wantCode {
				t.Errorf("error %v", e)
			}
			if got := s.OpenWebSockets(); got != 0 {
				t.Errorf("OpenWebSockets = %d after a refused upgrade", got)
			}
			if got := s.RefusedUpgrades(); got != 0 {
				t.Errorf("RefusedUpgrades = %d: a 401 is not a refused transport", got)
			}
		})
	}
}

// TestCloseWithOpenWebSocket checks that Close ends open connections, idle or
// in the middle of a hanging frame, and waits for their handlers.
func TestCloseWithOpenWebSocket(t *testing.T) {
	for _, hang := range []bool{false, true} {
		name := "idle"
		if hang {
			name = "hanging frame"
		}
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			s := New("alpha", WithWebSocket())
			reached := make(chan struct{}, 1)
			s.hanging = func() { reached <- struct{}{} }
			start(t, s)
			c, _ := dialWS(t, ctx, wsURL(s.URL(), "/v1/responses"), nil)
			sendFrame(t, ctx, c, nil)
			readTurn(t, ctx, c)
			if hang {
				s.Script(Fault{Hang: make(chan struct{}), HangAfter: 2})
				sendFrame(t, ctx, c, nil)
				select {
				case <-reached:
				case <-ctx.Done():
					t.Fatal("frame never hung")
				}
			}

			done := make(chan error, 1)
			go func() { done <- s.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Close: %v", err)
				}
			case <-ctx.Done():
				t.Fatal("Close did not return with a WebSocket open")
			}
			if got := s.OpenWebSockets(); got != 0 {
				t.Errorf("OpenWebSockets after Close = %d", got)
			}
			for {
				if _, _, err := c.Read(ctx); err != nil {
					if errors.Is(err, context.DeadlineExceeded) {
						t.Fatal("connection still open after Close")
					}
					break
				}
			}
		})
	}
}
