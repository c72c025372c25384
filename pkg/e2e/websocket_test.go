package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// wsDial opens a WebSocket to the proxy's /v1/responses as Codex does:
// its beta header, a session id, and the client key when one is given.
func wsDial(t *testing.T, proxyURL, key, session string) *websocket.Conn {
	t.Helper()
	c, resp, err := wsTryDial(proxyURL, key, session)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("WebSocket upgrade: %v (status %d)", err, status)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func wsTryDial(proxyURL, key, session string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{"Openai-Beta": {"responses_websockets=2026-02-06"}, "Session-Id": {session}, "Originator": {"codex_exec"}}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return websocket.Dial(ctx, proxyURL+"/v1/responses", &websocket.DialOptions{HTTPHeader: h, CompressionMode: websocket.CompressionContextTakeover})
}

// wsEvent is one message the proxy sent.
type wsEvent struct {
	Type     string          `json:"type"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response"`
	Item     json.RawMessage `json:"item"`
	Delta    string          `json:"delta"`
	Error    struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	raw []byte
}

// answer is one request's events, read up to the terminal one.
type answer []wsEvent

// wsSend sends one response.create and reads its answer.
func wsSend(t *testing.T, c *websocket.Conn, frame string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatalf("sending: %v", err)
	}
	var out answer
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the answer after %d events: %v", len(out), err)
		}
		var ev wsEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("message is not JSON: %v\n%s", err, data)
		}
		ev.raw = data
		out = append(out, ev)
		switch ev.Type {
		case "response.completed", "response.failed", "response.incomplete", "error":
			return out
		}
	}
}

// id is the answer's response id (from response.completed).
func (a answer) id() string {
	for _, ev := range a {
		if ev.Type == "response.completed" {
			var r struct{ ID string }
			_ = json.Unmarshal(ev.Response, &r)
			return r.ID
		}
	}
	return ""
}

// text is the answer's output text.
func (a answer) text() string {
	var b strings.Builder
	for _, ev := range a {
		if ev.Type == "response.output_text.delta" {
			b.WriteString(ev.Delta)
		}
	}
	return b.String()
}

// callID is the call_id of the answer's function call, "" when none.
func (a answer) callID() string {
	for _, ev := range a {
		if ev.Type == "response.output_item.done" {
			var it struct {
				Type   string `json:"type"`
				CallID string `json:"call_id"`
			}
			_ = json.Unmarshal(ev.Item, &it)
			if it.Type == "function_call" {
				return it.CallID
			}
		}
	}
	return ""
}

// count is how many events of type typ the answer has.
func (a answer) count(typ string) int {
	n := 0
	for _, ev := range a {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

func (a answer) last() wsEvent { return a[len(a)-1] }

// createFrame is a Codex-shaped response.create: the base prompt is a
// developer message, as in current Codex.
func createFrame(prev, input string, extra ...string) string {
	f := `{"type":"response.create","model":"gpt-5","stream":true,"store":false,"tools":[{"type":"function","name":"get_goal","parameters":{"type":"object","properties":{}}}],"input":` + input
	if prev != "" {
		f += `,"previous_response_id":"` + prev + `"`
	}
	for _, e := range extra {
		f += "," + e
	}
	return f + "}"
}

const (
	developerItem = `{"type":"message","role":"developer","content":[{"type":"input_text","text":"You are Codex. Follow the rules."}]}`
	userItem      = `{"type":"message","role":"user","content":[{"type":"input_text","text":"what is the goal?"}]}`
)

func toolOutputItems(callID string) string {
	return `[{"type":"function_call_output","call_id":"` + callID + `","output":"{\"goal\":null}"}]`
}

// toolSession plays Codex's opening of a session on c: a warmup, a turn
// answered with a tool call, and the tool's output as an increment. It
// returns the last answer.
func toolSession(t *testing.T, c *websocket.Conn) (turn, tool answer) {
	t.Helper()
	warm := wsSend(t, c, createFrame("", "["+developerItem+"]", `"generate":false`))
	if warm.last().Type != "response.completed" || warm.id() == "" {
		t.Fatalf("warmup answered %s", warm.last().raw)
	}
	turn = wsSend(t, c, createFrame(warm.id(), "["+userItem+"]"))
	if turn.callID() == "" {
		t.Fatalf("the turn was not answered with a tool call: %s", turn.last().raw)
	}
	tool = wsSend(t, c, createFrame(turn.id(), toolOutputItems(turn.callID())))
	if tool.last().Type != "response.completed" {
		t.Fatalf("the tool turn ended with %s", tool.last().raw)
	}
	return turn, tool
}

// frames are the WebSocket messages an upstream received.
func frames(s *fakeupstream.Server) []fakeupstream.Request {
	var out []fakeupstream.Request
	for _, r := range s.Requests() {
		if r.WebSocket {
			out = append(out, r)
		}
	}
	return out
}

// inputOf lists a request body's input items as type or type/role.
func inputOf(t *testing.T, body []byte) string {
	t.Helper()
	var b struct {
		Input []struct{ Type, Role string }
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	var out []string
	for _, it := range b.Input {
		s := it.Type
		if it.Role != "" {
			s += "/" + it.Role
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func hasMember(t *testing.T, body []byte, name string) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	_, ok := m[name]
	return ok
}

const wholeConversation = "message/developer message/user function_call function_call_output"

// TestWebSocketIncrementalToChatGPTAccount: a ChatGPT account that takes
// WebSockets gets the session on one upstream connection, and the tool
// turn's follow-up as an increment (previous_response_id and the new
// item), as Codex would send it there directly.
func TestWebSocketIncrementalToChatGPTAccount(t *testing.T) {
	chat := startUpstream(t, "chat", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket(), fakeupstream.WithToolCall("get_goal", "{}"))
	p := startProxy(t, "accounts:\n"+chatgptAccount("chat", chat, "ACCESS", "acct-123", 1), env)
	c := wsDial(t, p.URL, "", "sess-incremental")
	turn, tool := toolSession(t, c)
	if got := tool.text(); got != "Hello from chat." {
		t.Errorf("tool turn text = %q", got)
	}
	// The account's windows, which an HTTP client reads in the answer's
	// x-codex-* headers, arrive in-band.
	if turn.count("codex.rate_limits") != 1 || !strings.Contains(string(turn[0].raw), `"used_percent":10`) {
		t.Errorf("no codex.rate_limits event first; the answer began with %s", turn[0].raw)
	}

	got := frames(chat)
	if len(got) != 2 {
		t.Fatalf("upstream got %d frames, want 2 (the warmup is the proxy's)", len(got))
	}
	if got[0].PreviousResponseID != "" || inputOf(t, got[0].Body) != "message/developer message/user" {
		t.Errorf("first frame: previous_response_id %q, input %s; want a complete request", got[0].PreviousResponseID, inputOf(t, got[0].Body))
	}
	if !got[1].Incremental || got[1].PreviousResponseID != turn.id() || inputOf(t, got[1].Body) != "function_call_output" {
		t.Errorf("second frame: incremental %v, previous_response_id %q (want %q), input %s; want the increment",
			got[1].Incremental, got[1].PreviousResponseID, turn.id(), inputOf(t, got[1].Body))
	}
	if got[1].Header.Get("Authorization") != "Bearer "+accessToken || got[1].Header.Get("Chatgpt-Account-Id") != "acct-123" {
		t.Errorf("upstream WebSocket not opened with the account's credential")
	}
	if n := len(chat.Requests()) - len(got); n != 1 {
		t.Errorf("upstream saw %d other requests, want 1 upgrade", n)
	}
	logs := p.Logs.String()
	for _, want := range []string{"reason=prewarm", "transport=websocket", "target=ws://"} {
		if !strings.Contains(logs, want) {
			t.Errorf("proxy log has no %q:\n%s", want, logs)
		}
	}
}

// TestWebSocketHTTPAccountGetsCompleteRequest: an openai account is
// served over HTTP, so each WebSocket request reaches it complete, and no
// previous_response_id it never issued.
func TestWebSocketHTTPAccountGetsCompleteRequest(t *testing.T) {
	api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA), fakeupstream.WithToolCall("get_goal", "{}"))
	p := startProxy(t, "accounts:\n"+openaiAccount("api", api, "KEY_A", 1), env)
	c := wsDial(t, p.URL, "", "sess-http")
	_, tool := toolSession(t, c)
	if got := tool.text(); got != "Hello from api." {
		t.Errorf("tool turn text = %q", got)
	}
	posts := postsOf(api)
	if len(posts) != 2 {
		t.Fatalf("upstream got %d POSTs, want 2", len(posts))
	}
	if got := inputOf(t, posts[1].Body); got != wholeConversation {
		t.Errorf("follow-up input = %s, want %s", got, wholeConversation)
	}
	for _, name := range []string{"previous_response_id", "type", "generate"} {
		if hasMember(t, posts[1].Body, name) {
			t.Errorf("the POST carries %s", name)
		}
	}
	if posts[1].Header.Get("Openai-Beta") != "" || posts[1].Header.Get("Sec-Websocket-Key") != "" {
		t.Errorf("WebSocket headers reached the HTTP upstream: %v", posts[1].Header)
	}
}

// TestWebSocketUpstreamRefusesUpgrade: a ChatGPT account whose endpoint
// refuses WebSockets is served over HTTP, and the refusal is remembered:
// the next connection does not try again.
func TestWebSocketUpstreamRefusesUpgrade(t *testing.T) {
	chat := startUpstream(t, "chat", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithToolCall("get_goal", "{}"))
	p := startProxy(t, "accounts:\n"+chatgptAccount("chat", chat, "ACCESS", "acct-123", 1), env)
	for i := range 2 {
		c := wsDial(t, p.URL, "", fmt.Sprintf("sess-refused-%d", i))
		_, tool := toolSession(t, c)
		if got := tool.text(); got != "Hello from chat." {
			t.Errorf("connection %d: text = %q", i, got)
		}
	}
	if n := chat.RefusedUpgrades(); n != 1 {
		t.Errorf("upstream refused %d upgrades, want 1 (the refusal remembered)", n)
	}
	posts := postsOf(chat)
	if len(posts) != 4 || inputOf(t, posts[3].Body) != wholeConversation {
		t.Errorf("upstream got %d POSTs, the last with input %s; want 4, complete", len(posts), inputOf(t, posts[len(posts)-1].Body))
	}
}

// TestWebSocketOverloadMovesTheConversation: the conversation's account
// overloads after response.created on the next request: the client never
// sees that opening, the other account gets the whole conversation, and
// neither a previous_response_id nor a turn state of the first account.
func TestWebSocketOverloadMovesTheConversation(t *testing.T) {
	ups := map[string]*fakeupstream.Server{}
	accounts := "accounts:\n"
	for _, name := range []string{"one", "two"} {
		ups[name] = startUpstream(t, name, fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket(),
			fakeupstream.WithToolCall("get_goal", "{}"), fakeupstream.WithTurnState())
		accounts += chatgptAccount(name, ups[name], "ACCESS", "acct-123", 1)
	}
	p := startProxy(t, accounts, env)
	c := wsDial(t, p.URL, "", "sess-move")
	warm := wsSend(t, c, createFrame("", "["+developerItem+"]", `"generate":false`))
	turn := wsSend(t, c, createFrame(warm.id(), "["+userItem+"]"))
	first := ""
	for name, s := range ups {
		if len(frames(s)) == 1 {
			first = name
		}
	}
	other := map[string]string{"one": "two", "two": "one"}[first]
	if first == "" || turn.callID() == "" {
		t.Fatalf("the turn was not served by one account: %s", turn.last().raw)
	}
	ups[first].Script(fakeupstream.OverloadedAfterOpening())

	tool := wsSend(t, c, createFrame(turn.id(), toolOutputItems(turn.callID())))
	if got, want := tool.text(), "Hello from "+other+"."; got != want {
		t.Fatalf("follow-up text = %q, want %q (events %d, last %s)", got, want, len(tool), tool.last().raw)
	}
	if n := tool.count("response.created"); n != 1 {
		t.Errorf("the client saw %d response.created, want 1 (the failed opening held back)", n)
	}
	moved := frames(ups[other])
	if len(moved) != 1 {
		t.Fatalf("%s got %d frames, want 1", other, len(moved))
	}
	if moved[0].PreviousResponseID != "" || inputOf(t, moved[0].Body) != wholeConversation {
		t.Errorf("%s got previous_response_id %q and input %s; want the whole conversation", other, moved[0].PreviousResponseID, inputOf(t, moved[0].Body))
	}
	if f := ups[other].ForeignTurnStates(); len(f) != 0 {
		t.Errorf("%s received foreign turn states %v", other, f)
	}
	waitForLog(t, p, "failover from "+first+": overloaded")
}

// TestWebSocketUpstreamConnectionReplaced: an upstream connection at its
// age limit (websocket_connection_limit_reached), or dropped (a 1006), is
// replaced before the first event, and the request sent complete on the
// new one; the client sees an ordinary answer.
func TestWebSocketUpstreamConnectionReplaced(t *testing.T) {
	cases := []struct {
		name  string
		opts  []fakeupstream.Option
		fault func(s *fakeupstream.Server)
	}{
		{"connection limit reached", []fakeupstream.Option{fakeupstream.WithWebSocketLimit(1)}, func(*fakeupstream.Server) {}},
		{"upstream dropped the connection", []fakeupstream.Option{fakeupstream.WithWebSocket()}, (*fakeupstream.Server).CloseWebSockets},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]fakeupstream.Option{fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithToolCall("get_goal", "{}")}, tc.opts...)
			chat := startUpstream(t, "chat", opts...)
			p := startProxy(t, "accounts:\n"+chatgptAccount("chat", chat, "ACCESS", "acct-123", 1), env)
			c := wsDial(t, p.URL, "", "sess-replaced")
			warm := wsSend(t, c, createFrame("", "["+developerItem+"]", `"generate":false`))
			turn := wsSend(t, c, createFrame(warm.id(), "["+userItem+"]"))
			tc.fault(chat)
			tool := wsSend(t, c, createFrame(turn.id(), toolOutputItems(turn.callID())))
			if got := tool.text(); got != "Hello from chat." {
				t.Fatalf("text = %q (last event %s)\n%s", got, tool.last().raw, p.Logs)
			}
			got := frames(chat)
			last := got[len(got)-1]
			if last.PreviousResponseID != "" || inputOf(t, last.Body) != wholeConversation {
				t.Errorf("the request on the new connection: previous_response_id %q, input %s; want complete", last.PreviousResponseID, inputOf(t, last.Body))
			}
			if strings.Contains(p.Logs.String(), "level=ERROR") {
				t.Errorf("the proxy logged an error:\n%s", p.Logs)
			}
		})
	}
}

// TestWebSocketClientCloseIsNotAFailure: a client that closes its
// connection mid-answer ends the upstream request, and its account is not
// blamed: the conversation's next request stays on it.
func TestWebSocketClientCloseIsNotAFailure(t *testing.T) {
	gate := make(chan struct{})
	ups := map[string]*fakeupstream.Server{}
	accounts := "accounts:\n"
	for _, name := range []string{"one", "two"} {
		ups[name] = startUpstream(t, name, fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket())
		ups[name].Script(fakeupstream.Fault{Hang: gate, HangAfter: 6}) // after output reached the client
		accounts += chatgptAccount(name, ups[name], "ACCESS", "acct-123", 1)
	}
	p := startProxy(t, accounts, env)
	c := wsDial(t, p.URL, "", "sess-close")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(createFrame("", "["+userItem+"]"))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err != nil { // output is flowing
		t.Fatal(err)
	}
	_ = c.CloseNow()
	waitForLog(t, p, `transport=websocket error="client`)
	close(gate)

	c2 := wsDial(t, p.URL, "", "sess-close")
	again := wsSend(t, c2, createFrame("", "["+userItem+"]"))
	var served string
	fmt.Sscanf(again.text(), "Hello from %s", &served)
	served = strings.TrimSuffix(served, ".")
	waitFor(t, func() bool { return strings.Count(p.Logs.String(), "msg=request") >= 2 })
	logs := p.Logs.String()
	var last string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "msg=request") {
			last = l
		}
	}
	if !strings.Contains(last, "account="+served+" ") || !strings.Contains(last, "reason=sticky") {
		t.Errorf("the conversation's next request was not sticky to %s: %s", served, last)
	}
	if strings.Contains(logs, "reason=failover") {
		t.Errorf("a client close counted against the account:\n%s", logs)
	}
}

// waitFor waits until cond holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForLog waits until the proxy's log holds want.
func waitForLog(t *testing.T, p *running, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy never logged %q:\n%s", want, p.Logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWebSocketBounds: the connection limit, the idle timeout, a rotated
// client key and a frame the proxy cannot continue each get a clear
// answer.
func TestWebSocketBounds(t *testing.T) {
	api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA))
	config := func(key string) string {
		return fmt.Sprintf(`client_keys:
  - name: laptop
    key: %s
max_body_bytes: 65536
limits:
  websocket_connections: 1
timeouts:
  websocket_idle: 300ms
accounts:
`, key) + openaiAccount("api", api, "KEY_A", 1)
	}
	p := startProxy(t, config(clientKey), env)

	t.Run("connection limit", func(t *testing.T) {
		c := wsDial(t, p.URL, clientKey, "sess-limit")
		defer c.CloseNow()
		_, resp, err := wsTryDial(p.URL, clientKey, "sess-limit-2")
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("second connection: err %v, resp %v; want 503", err, resp)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if body.Error.Code != "proxy_busy" || !strings.Contains(body.Error.Message, "limits.websocket_connections") {
			t.Errorf("503 body = %+v", body)
		}
	})

	// The one slot frees once the proxy has seen the last connection
	// close: dial until it has.
	dial := func(session string) *websocket.Conn {
		var c *websocket.Conn
		waitFor(t, func() bool {
			var err error
			c, _, err = wsTryDial(p.URL, clientKey, session)
			return err == nil
		})
		t.Cleanup(func() { _ = c.CloseNow() })
		return c
	}
	t.Run("idle connection closed", func(t *testing.T) {
		c := dial("sess-idle")
		_, _, err := c.Read(context.Background())
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure || !strings.Contains(err.Error(), "websocket_idle") {
			t.Fatalf("idle connection ended with %v, want a normal close naming websocket_idle", err)
		}
	})

	t.Run("message larger than limits.websocket_message_bytes", func(t *testing.T) {
		c := dial("sess-too-large")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		big := createFrame("", `[{"type":"message","role":"user","content":"`+strings.Repeat("x", 70000)+`"}]`)
		_ = c.Write(ctx, websocket.MessageText, []byte(big))
		_, _, err := c.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("connection ended with %v, want 1009 (message too big)", err)
		}
		waitForLog(t, p, "WebSocket message larger than limits.websocket_message_bytes")
	})

	t.Run("unknown previous response", func(t *testing.T) {
		c := dial("sess-unknown")
		a := wsSend(t, c, createFrame("resp_never_seen", "["+userItem+"]"))
		if ev := a.last(); ev.Type != "error" || ev.Status != 400 || ev.Error.Code != "previous_response_not_found" {
			t.Errorf("answer = %s", ev.raw)
		}
		_ = c.CloseNow()
	})

	t.Run("rotated client key", func(t *testing.T) {
		c := dial("sess-rotate")
		if a := wsSend(t, c, createFrame("", "["+userItem+"]")); a.text() != "Hello from api." {
			t.Fatalf("before rotation: %s", a.last().raw)
		}
		if err := p.rewrite(t, config("client-key-rotated-0123456789")); err != nil {
			t.Fatal(err)
		}
		a := wsSend(t, c, createFrame("", "["+userItem+"]"))
		if ev := a.last(); ev.Type != "error" || ev.Status != 401 || ev.Error.Code != "invalid_api_key" {
			t.Errorf("after rotation: %s", ev.raw)
		}
		_, _, err := c.Read(context.Background())
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("connection ended with %v, want a policy-violation close", err)
		}
	})
	assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, clientKey)
}

// TestWebSocketShutdown: at shutdown an idle WebSocket is closed at once
// as going away (the server does not track connections it handed over),
// and the proxy stops without waiting out its grace.
func TestWebSocketShutdown(t *testing.T) {
	api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA))
	// A grace far longer than the test may take: waiting it out would be
	// the hang this test looks for.
	p := startProxy(t, "accounts:\n"+openaiAccount("api", api, "KEY_A", 1), env, withShutdownGrace(10*time.Minute))
	c := wsDial(t, p.URL, "", "sess-shutdown")
	if a := wsSend(t, c, createFrame("", "["+userItem+"]")); a.text() != "Hello from api." {
		t.Fatalf("answer: %s", a.last().raw)
	}
	// Codex reads all the time, so it answers a close at once.
	ended := make(chan error, 1)
	go func() {
		_, _, err := c.Read(context.Background())
		ended <- err
	}()
	start := time.Now()
	p.stop()
	took := time.Since(start)
	t.Logf("proxy stopped %v after the signal", took)
	if took > time.Minute {
		t.Errorf("shutdown waited %v for an idle WebSocket: it waited out its grace", took)
	}
	if err := <-ended; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("the idle connection ended with %v, want going away", err)
	}
}

// TestWebSocketUpstreamRefusesTokenInBand: an upstream WebSocket that
// answers a request with an in-band 401 (the token it was opened with
// expired) is let go, and the request goes over HTTP, where a refused
// token gets the usual refresh and classification.
func TestWebSocketUpstreamRefusesTokenInBand(t *testing.T) {
	chat := startUpstream(t, "chat", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket())
	chat.Script(fakeupstream.Fault{Status: http.StatusUnauthorized})
	p := startProxy(t, "accounts:\n"+chatgptAccount("chat", chat, "ACCESS", "acct-123", 1), env)
	c := wsDial(t, p.URL, "", "sess-401")
	a := wsSend(t, c, createFrame("", "["+userItem+"]"))
	if got := a.text(); got != "Hello from chat." {
		t.Fatalf("answer = %s", a.last().raw)
	}
	if f, posts := len(frames(chat)), len(postsOf(chat)); f != 1 || posts != 1 {
		t.Errorf("upstream got %d WebSocket requests and %d POSTs, want 1 and 1", f, posts)
	}
	waitFor(t, func() bool { return chat.OpenWebSockets() == 0 })
}

// TestWebSocketUpstreamSilentBeforeFirstEvent: an upstream WebSocket that
// takes a request and says nothing is given up after timeouts.stream_idle,
// as a silent HTTP upstream is, and the request goes over HTTP.
func TestWebSocketUpstreamSilentBeforeFirstEvent(t *testing.T) {
	chat := startUpstream(t, "chat", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket())
	never := make(chan struct{})
	defer close(never)
	chat.Script(fakeupstream.Fault{Hang: never, HangBeforeHeaders: true})
	p := startProxy(t, "timeouts:\n  stream_idle: 300ms\naccounts:\n"+chatgptAccount("chat", chat, "ACCESS", "acct-123", 1), env)
	c := wsDial(t, p.URL, "", "sess-silent")
	a := wsSend(t, c, createFrame("", "["+userItem+"]"))
	if got := a.text(); got != "Hello from chat." {
		t.Fatalf("answer = %s\n%s", a.last().raw, p.Logs)
	}
	if f, posts := len(frames(chat)), len(postsOf(chat)); f != 1 || posts != 1 {
		t.Errorf("upstream got %d WebSocket requests and %d POSTs, want 1 and 1", f, posts)
	}
	waitForLog(t, p, "upstream sent nothing for 300ms")
}

// TestWebSocketUpstreamEventTooLarge: an upstream WebSocket message past
// limits.max_event_bytes ends the answer as an oversized SSE event does:
// after output, response.failed with upstream_event_too_large.
func TestWebSocketUpstreamEventTooLarge(t *testing.T) {
	reply := strings.Repeat("word ", 16000) // 80 KB: output_text.done and response.completed carry it whole
	chat := startUpstream(t, "chat", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket(), fakeupstream.WithReply(reply))
	p := startProxy(t, "limits:\n  max_event_bytes: 65536\naccounts:\n"+chatgptAccount("chat", chat, "ACCESS", "acct-123", 1), env)
	c := wsDial(t, p.URL, "", "sess-big-event")
	a := wsSend(t, c, createFrame("", "["+userItem+"]"))
	last := a.last()
	var failed struct {
		Response struct {
			Error struct{ Code string }
		}
	}
	_ = json.Unmarshal(last.raw, &failed)
	if last.Type != "response.failed" || failed.Response.Error.Code != "upstream_event_too_large" {
		t.Fatalf("answer ended with %.300s", last.raw)
	}
	if a.count("response.output_text.delta") == 0 {
		t.Errorf("no output reached the client before the oversized event")
	}
}
