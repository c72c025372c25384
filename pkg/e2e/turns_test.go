package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// These tests drive the real Codex CLI through failures in the orderings
// real upstreams fail in, and check what Codex itself sees and does: a
// failure before any output must not reach it at all, a failure after
// output makes it retry and the retry must land on another account, and a
// tool turn that fails over must not carry one account's turn state to
// another.

// keyC is the third upstream account's API key.
const keyC = "sk-upstream-c-0123456789abcdef"

// codexPool starts three API-key accounts behind a proxy: first, of weight
// 1, takes every new conversation; spare-a and spare-b, of weight 0
// (standby), serve only what first cannot. On failure it logs the proxy's
// logs and what each account received.
func codexPool(t *testing.T, first string, opts ...fakeupstream.Option) (map[string]*fakeupstream.Server, *running) {
	t.Helper()
	ups := map[string]*fakeupstream.Server{
		first:     startUpstream(t, first, append([]fakeupstream.Option{fakeupstream.WithAPIKey(keyA)}, opts...)...),
		"spare-a": startUpstream(t, "spare-a", append([]fakeupstream.Option{fakeupstream.WithAPIKey(keyB)}, opts...)...),
		"spare-b": startUpstream(t, "spare-b", append([]fakeupstream.Option{fakeupstream.WithAPIKey(keyC)}, opts...)...),
	}
	penv := maps.Clone(env)
	penv["KEY_C"] = keyC
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+
		openaiAccount(first, ups[first], "KEY_A", 1)+
		openaiAccount("spare-a", ups["spare-a"], "KEY_B", 0)+
		openaiAccount("spare-b", ups["spare-b"], "KEY_C", 0), penv)
	logOnFailure(t, p, ups)
	return ups, p
}

// logOnFailure logs, when the test fails, the proxy's logs and every
// request each account received.
func logOnFailure(t *testing.T, p *running, ups map[string]*fakeupstream.Server) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
			t.Logf("routes:\n%s", routes(ups))
		}
	})
}

// turnPosts returns the turns s received: POST /responses requests and
// WebSocket requests.
func turnPosts(s *fakeupstream.Server) []fakeupstream.Request {
	var out []fakeupstream.Request
	for _, r := range s.Requests() {
		if (r.Method == http.MethodPost || r.WebSocket) && strings.HasSuffix(r.Path, "/responses") {
			out = append(out, r)
		}
	}
	return out
}

// routes lists, per account, every turn (POST or WebSocket) it received with its
// session id and turn state: which account got which request.
func routes(ups map[string]*fakeupstream.Server) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(ups)) {
		fmt.Fprintf(&b, "  %s:", name)
		posts := turnPosts(ups[name])
		if len(posts) == 0 {
			b.WriteString(" nothing")
		}
		for i, r := range posts {
			fmt.Fprintf(&b, " #%d session-id=%s turn-state=%q", i+1, r.Header.Get("Session-Id"), r.Header.Get("X-Codex-Turn-State"))
			if r.WebSocket {
				fmt.Fprintf(&b, " websocket previous_response_id=%q %d bytes", r.PreviousResponseID, len(r.Body))
			}
			b.WriteString(";")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// requestLines returns the proxy's one log line per request, each shortened
// to the fields that say where it went.
func requestLines(p *running) []string {
	var out []string
	for _, l := range strings.Split(p.Logs.String(), "\n") {
		if !strings.Contains(l, " msg=request ") {
			continue
		}
		var keep []string
		for _, f := range strings.Fields(l) {
			for _, k := range []string{"account=", "reason=", "status=", "attempts=", "session="} {
				if strings.HasPrefix(f, k) {
					keep = append(keep, f)
				}
			}
		}
		if i := strings.Index(l, " detail="); i >= 0 {
			keep = append(keep, strings.TrimSpace(l[i:]))
		}
		out = append(out, strings.Join(keep, " "))
	}
	return out
}

// logRun logs what Codex printed and where each request went, for the
// record of what the real client sees.
func logRun(t *testing.T, what string, run codexRun, p *running, ups map[string]*fakeupstream.Server) {
	t.Helper()
	var printed []string
	for _, l := range strings.Split(run.Stdout+"\n"+run.Stderr, "\n") {
		l = strings.TrimSpace(l)
		// The banner's settings and the echoed prompt say nothing about
		// the outcome.
		if l == "" || l == "--------" || strings.HasPrefix(l, "workdir:") || strings.HasPrefix(l, "model:") ||
			strings.HasPrefix(l, "provider:") || strings.HasPrefix(l, "approval:") || strings.HasPrefix(l, "sandbox:") ||
			strings.HasPrefix(l, "reasoning ") || strings.HasPrefix(l, "OpenAI Codex") {
			continue
		}
		printed = append(printed, l)
	}
	t.Logf("%s: codex printed:\n    %s", what, strings.Join(printed, "\n    "))
	t.Logf("%s: proxy request log:\n    %s", what, strings.Join(requestLines(p), "\n    "))
	t.Logf("%s: accounts received:\n%s", what, routes(ups))
}

// assertCodexSawNoFailure fails when Codex's output shows it met an error
// or retried: the failure was meant to stay inside the proxy.
func assertCodexSawNoFailure(t *testing.T, what string, run codexRun) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(run.Stdout+"\n"+run.Stderr, "\n") {
		// Lines that show a path may name the test, and so the fault.
		if !strings.Contains(l, os.TempDir()) {
			lines = append(lines, strings.ToLower(l))
		}
	}
	out := strings.Join(lines, "\n")
	for _, s := range []string{"error", "overloaded", "high demand", "reconnecting", "retrying", "stream disconnected"} {
		if strings.Contains(out, s) {
			t.Errorf("%s: Codex's output mentions %q: the upstream failure reached it\n%s", what, s, run)
		}
	}
}

// spareServing returns the spare account named in Codex's reply, failing
// the test when the reply came from anything else.
func spareServing(t *testing.T, run codexRun) string {
	t.Helper()
	got := servedBy(run.Stdout)
	if got != "spare-a" && got != "spare-b" {
		t.Fatalf("the reply came from %q, want a spare account\n%s", got, run)
	}
	return got
}

// TestCodexCLIFailureAfterOpeningIsInvisible: the account a new
// conversation goes to answers every request with response.created and
// response.in_progress, then a failure. Codex's own retries are off, so
// the turn succeeds only if the proxy failed over without Codex seeing
// anything of the failed stream; the next turn (a resume) must too.
func TestCodexCLIFailureAfterOpeningIsInvisible(t *testing.T) {
	bin := codexBinary(t)
	tests := []struct {
		name  string
		fault fakeupstream.Fault
	}{
		{"response.failed server_is_overloaded", fakeupstream.OverloadedAfterOpening()},
		{"top-level error event", fakeupstream.ErrorEventAfterOpening("server_is_overloaded", "Our servers are currently overloaded. Please try again later.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ups, p := codexPool(t, "heavy")
			// More failures than the test makes requests: every request
			// heavy gets fails.
			ups["heavy"].Script(fakeupstream.Repeat(10, tt.fault)...)
			home := codexHome(t, p.URL) // request_max_retries = stream_max_retries = 0
			work := t.TempDir()

			first := runCodex(t, bin, home, work, clientKey, "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
			logRun(t, "turn 1", first, p, ups)
			spare := spareServing(t, first)
			assertCodexSawNoFailure(t, "turn 1", first)
			m := sessionID.FindStringSubmatch(first.Stderr)
			if m == nil {
				t.Fatalf("turn 1: no \"session id: ...\" in stderr\n%s", first)
			}
			conv := m[1]

			// The conversation's first request went to heavy, and failed there.
			heavy := turnPosts(ups["heavy"])
			if len(heavy) == 0 || heavy[0].Header.Get("Session-Id") != conv {
				t.Fatalf("heavy did not get the conversation's first request:\n%s", routes(ups))
			}
			if got := turnPosts(ups[spare]); len(got) != 1 || got[0].Header.Get("Session-Id") != conv {
				t.Fatalf("%s got %d requests for turn 1, want the one failover:\n%s", spare, len(got), routes(ups))
			}

			second := runCodex(t, bin, home, work, clientKey, "exec", "resume", "--skip-git-repo-check", "--strict-config", "--last", "again")
			logRun(t, "turn 2", second, p, ups)
			assertCodexSawNoFailure(t, "turn 2", second)
			if m := sessionID.FindStringSubmatch(second.Stderr); m == nil || m[1] != conv {
				t.Fatalf("turn 2 did not resume session %s\n%s", conv, second)
			}
			// A failover always lands on the conversation's same second
			// choice, so the conversation spreads over no more accounts
			// than it must.
			if got := servedBy(second.Stdout); got != spare {
				t.Fatalf("turn 2 was served by %q, turn 1 by %q\n%s", got, spare, second)
			}
			if got := turnPosts(ups[spare]); len(got) != 2 {
				t.Fatalf("%s got %d requests, want one per turn:\n%s", spare, len(got), routes(ups))
			}
			for name, s := range ups {
				if name != "heavy" && name != spare && len(s.Requests()) != 0 {
					t.Fatalf("%s got requests of a conversation served by %s:\n%s", name, spare, routes(ups))
				}
			}
			assertNoSecrets(t, "proxy logs", p.Logs.String(), clientKey, keyA, keyB, keyC)
		})
	}
}

// TestCodexCLIRetryAfterCutAvoidsTheAccount: the conversation's account
// cuts its stream after some output reached Codex, so the proxy can no
// longer hide the failure: it ends the stream with response.failed, and
// Codex (retries on) sends the turn again. The retry, same session id,
// must land on another account, and the exec must complete.
func TestCodexCLIRetryAfterCutAvoidsTheAccount(t *testing.T) {
	bin := codexBinary(t)
	ups, p := codexPool(t, "cutter")
	ups["cutter"].Script(fakeupstream.CutAfterDeltas(2)) // "Hello ", "from ", then the cut
	home := codexHomeRetries(t, p.URL, 2)

	run := runCodex(t, bin, home, t.TempDir(), clientKey, "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
	logRun(t, "cut after output", run, p, ups)
	spare := spareServing(t, run)

	cut := turnPosts(ups["cutter"])
	retry := turnPosts(ups[spare])
	if len(cut) != 1 || len(retry) != 1 {
		t.Fatalf("cutter got %d requests and %s %d, want one each (the cut try and Codex's retry):\n%s", len(cut), spare, len(retry), routes(ups))
	}
	conv := cut[0].Header.Get("Session-Id")
	if conv == "" || retry[0].Header.Get("Session-Id") != conv {
		t.Fatalf("the retry is not the same conversation:\n%s", routes(ups))
	}
	// The same turn sent again: same turn id, same input. (The bytes
	// differ: Codex's client_metadata is a map in no stable order.)
	if a, b := turnOf(t, cut[0]), turnOf(t, retry[0]); a.ID == "" || a.ID != b.ID || !bytes.Equal(a.Input, b.Input) {
		t.Errorf("Codex's retry is not the cut turn sent again: turn %q then %q, same input %v", a.ID, b.ID, bytes.Equal(a.Input, b.Input))
	}
	// The retry is Codex's, not the proxy's: the proxy passed the failure
	// on, and Codex said it would reconnect.
	if !strings.Contains(strings.ToLower(run.Stderr), "reconnecting") {
		t.Errorf("Codex did not report retrying the turn\n%s", run)
	}
	lines := requestLines(p)
	if len(lines) != 2 || !strings.Contains(lines[0], "account=cutter") || !strings.Contains(lines[1], "account="+spare) || !strings.Contains(lines[1], "reason=failover") {
		t.Errorf("proxy request log, want cutter then a failover to %s:\n%s", spare, strings.Join(lines, "\n"))
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), clientKey, keyA, keyB, keyC)
}

// codexTurn is what identifies a turn in a Codex request body.
type codexTurn struct {
	ID    string          // client_metadata.turn_id
	Input json.RawMessage // the whole input, history included
}

// turnOf reads the turn a Codex request carries.
func turnOf(t *testing.T, r fakeupstream.Request) codexTurn {
	t.Helper()
	var body struct {
		Input          json.RawMessage `json:"input"`
		ClientMetadata struct {
			TurnID string `json:"turn_id"`
		} `json:"client_metadata"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("a Codex request body is not JSON: %v", err)
	}
	return codexTurn{ID: body.ClientMetadata.TurnID, Input: body.Input}
}

// toolOutput returns the output of tool call callID in a request's input,
// "" when there is none.
func toolOutput(t *testing.T, r fakeupstream.Request, callID string) string {
	t.Helper()
	var body struct {
		Input []struct {
			Type   string          `json:"type"`
			CallID string          `json:"call_id"`
			Output json.RawMessage `json:"output"`
		} `json:"input"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("a Codex request body is not JSON: %v", err)
	}
	for _, it := range body.Input {
		if it.Type == "function_call_output" && it.CallID == callID {
			var text string
			if json.Unmarshal(it.Output, &text) == nil {
				return text
			}
			return string(it.Output) // content items rather than a string
		}
	}
	return ""
}

// toolTurnAccount is an account that starts each new turn with a call of
// Codex's get_goal tool, a tool Codex runs itself with no sandbox and no
// arguments, so a real tool turn happens offline. The call's answer issues
// a turn state, as a real upstream does when a turn starts. Only the first
// request is answered so; every later one (the turn's follow-ups) goes on
// to next.
type toolTurnAccount struct {
	next *fakeupstream.Server

	mu     sync.Mutex
	issued []string // turn states issued
	first  fakeupstream.Request
}

// toolTurnState is the turn state the first call issues.
const toolTurnState = "ts-tools-1"

// ServeHTTP answers the first POST /responses with the tool call and hands
// every other request to next.
func (a *toolTurnAccount) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	first := len(a.issued) == 0 && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/responses") &&
		r.Header.Get("Authorization") == "Bearer "+keyA
	if first {
		a.issued = append(a.issued, toolTurnState)
		body, _ := io.ReadAll(r.Body)
		a.first = fakeupstream.Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	}
	a.mu.Unlock()
	if !first {
		a.next.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Codex-Turn-State", toolTurnState)
	w.WriteHeader(http.StatusOK)
	created := time.Now().Unix()
	call := func(status, args string) string {
		return fmt.Sprintf(`{"type":"function_call","id":"fc_tools_1","call_id":"call_tools_1","name":"get_goal","arguments":%q,"status":%q}`, args, status)
	}
	resp := func(status, output, usage string) string {
		return fmt.Sprintf(`{"id":"resp_tools_1","object":"response","created_at":%d,"status":%q,"error":null,"model":"gpt-5","output":[%s],"usage":%s}`, created, status, output, usage)
	}
	events := []string{
		`{"type":"response.created","sequence_number":0,"response":` + resp("in_progress", "", "null") + `}`,
		`{"type":"response.in_progress","sequence_number":1,"response":` + resp("in_progress", "", "null") + `}`,
		`{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":` + call("in_progress", "") + `}`,
		`{"type":"response.function_call_arguments.delta","sequence_number":3,"item_id":"fc_tools_1","output_index":0,"delta":"{}"}`,
		`{"type":"response.function_call_arguments.done","sequence_number":4,"item_id":"fc_tools_1","output_index":0,"arguments":"{}"}`,
		`{"type":"response.output_item.done","sequence_number":5,"output_index":0,"item":` + call("completed", "{}") + `}`,
		`{"type":"response.completed","sequence_number":6,"response":` + resp("completed", call("completed", "{}"),
			`{"input_tokens":100,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":105}`) + `}`,
	}
	for _, e := range events {
		typ := e[len(`{"type":"`):strings.Index(e, `","`)]
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, e); err != nil {
			return
		}
		_ = http.NewResponseController(w).Flush()
	}
}

// TestCodexCLIToolTurnStateStaysWithItsAccount: a real tool turn. The
// conversation's account answers the turn's first request with a tool call
// and a turn state; Codex runs the tool and sends the follow-up with the
// turn state; that account now answers 429, and the proxy fails the
// follow-up over. The other account must not receive the first account's
// turn state, while the first account got its own back untouched.
func TestCodexCLIToolTurnStateStaysWithItsAccount(t *testing.T) {
	bin := codexBinary(t)
	tools := &toolTurnAccount{next: fakeupstream.New("tools", fakeupstream.WithAPIKey(keyA))}
	tools.next.Script(fakeupstream.RateLimited(30 * time.Second))
	srv := httptest.NewServer(tools)
	t.Cleanup(srv.Close)
	other := startUpstream(t, "other", fakeupstream.WithAPIKey(keyB), fakeupstream.WithTurnState())
	p := startProxy(t, fmt.Sprintf(`client_keys:
  - name: laptop
    key: ${CLIENT_KEY}
accounts:
  - name: tools
    type: openai
    base_url: %s/v1
    api_key: ${KEY_A}
    weight: 1
`, srv.URL)+openaiAccount("other", other, "KEY_B", 0), env)
	ups := map[string]*fakeupstream.Server{"tools (follow-ups)": tools.next, "other": other}
	logOnFailure(t, p, ups)

	run := runCodex(t, bin, codexHome(t, p.URL), t.TempDir(), clientKey, "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "what is the goal?")
	logRun(t, "tool turn", run, p, ups)
	if got := servedBy(run.Stdout); got != "other" {
		t.Fatalf("the turn's last reply came from %q, want other\n%s", got, run)
	}
	tools.mu.Lock()
	issued, start := slices.Clone(tools.issued), tools.first
	tools.mu.Unlock()
	if len(issued) != 1 {
		t.Fatalf("tools got no request: the turn did not start there")
	}

	// The follow-up reached tools first, with its own turn state as it
	// issued it (the proxy's tag taken off), and was refused there.
	follow := turnPosts(tools.next)
	if len(follow) != 1 {
		t.Fatalf("tools got %d follow-ups, want 1:\n%s", len(follow), routes(ups))
	}
	if got := follow[0].Header.Get("X-Codex-Turn-State"); got != toolTurnState {
		t.Errorf("tools' follow-up carried turn state %q, want its own %q back", got, toolTurnState)
	}
	output := toolOutput(t, follow[0], "call_tools_1")
	if output == "" || turnOf(t, follow[0]).ID != turnOf(t, start).ID {
		t.Fatalf("the request after the tool call is not the tool's follow-up in the same turn:\n%.2000s", follow[0].Body)
	}
	t.Logf("Codex ran get_goal in the turn and sent its output back: %.200s", output)

	// other served the follow-up of the same turn, with no turn state.
	got := turnPosts(other)
	if len(got) != 1 || !bytes.Equal(got[0].Body, follow[0].Body) {
		t.Fatalf("other got %d requests, want the follow-up failed over:\n%s", len(got), routes(ups))
	}
	if ts := other.TurnStatesReceived(); len(ts) != 1 || ts[0] != "" {
		t.Errorf("other received turn states %q, want none", ts)
	}
	if foreign := other.ForeignTurnStates(); len(foreign) != 0 {
		t.Errorf("tools' turn state reached other: %q", foreign)
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), clientKey, keyA, keyB)
}
