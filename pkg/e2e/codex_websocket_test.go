package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// webSocketFailures are what Codex logs when the WebSocket does not serve
// it and it falls back to HTTP.
var webSocketFailures = []string{"failed to connect to Responses WebSocket", "Falling back from WebSockets", "426 Upgrade Required"}

// checkNoWebSocketFallback fails when Codex's output or logs show the
// WebSocket failing.
func checkNoWebSocketFallback(t *testing.T, run codexRun, home string) {
	t.Helper()
	all := run.Stdout + run.Stderr + codexLogs(t, home)
	for _, s := range webSocketFailures {
		if strings.Contains(all, s) {
			t.Errorf("Codex fell back from the WebSocket (%q):\n%s", s, lineWith(all, s))
		}
	}
}

// editCodexConfig rewrites home's config.toml with one replacement.
func editCodexConfig(t *testing.T, home, old, new string) {
	t.Helper()
	path := filepath.Join(home, "config.toml")
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), old) {
		t.Fatalf("config.toml has no %q", old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(cfg), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCodexWebSocketToolTurn: the real Codex CLI over the proxy's
// WebSocket, with a tool turn (Codex calls get_goal, then sends the tool's
// output as a second request on the same connection).
func TestCodexWebSocketToolTurn(t *testing.T) {
	bin := codexBinary(t)

	t.Run("custom provider with supports_websockets, ChatGPT account over an upstream WebSocket", func(t *testing.T) {
		chat := startUpstream(t, "chat", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket(), fakeupstream.WithToolCall("get_goal", "{}"))
		p := startProxy(t, "accounts:\n"+chatgptAccount("chat", chat, "ACCESS", "acct-123", 1), env)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("proxy logs:\n%s", p.Logs)
			}
		})
		home := codexHome(t, p.URL)
		editCodexConfig(t, home, `wire_api = "responses"`, "wire_api = \"responses\"\nsupports_websockets = true")
		run := runCodex(t, bin, home, t.TempDir(), "any-key", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "what is the goal?")
		if got := servedBy(run.Stdout); got != "chat" {
			t.Fatalf("served by %q\n%s", got, run)
		}
		checkNoWebSocketFallback(t, run, home)

		got := frames(chat)
		if len(got) != 2 {
			t.Fatalf("the account got %d WebSocket requests, want 2 (the tool call, then its output)\n%s", len(got), describe(chat.Requests()))
		}
		if got[0].PreviousResponseID != "" || !strings.Contains(inputOf(t, got[0].Body), "message/user") {
			t.Errorf("first request: previous_response_id %q, input %s; want complete", got[0].PreviousResponseID, inputOf(t, got[0].Body))
		}
		if !got[1].Incremental || inputOf(t, got[1].Body) != "function_call_output" {
			t.Errorf("second request: incremental %v, input %s; want only the tool's output after previous_response_id", got[1].Incremental, inputOf(t, got[1].Body))
		}
		t.Logf("upstream WebSocket requests: %d bytes, then %d bytes (incremental)", len(got[0].Body), len(got[1].Body))
		if n := len(postsOf(chat)); n != 0 {
			t.Errorf("the account also got %d POSTs", n)
		}
		logs := p.Logs.String()
		for _, want := range []string{"reason=prewarm", "transport=websocket", "target=ws://"} {
			if !strings.Contains(logs, want) {
				t.Errorf("proxy log has no %q", want)
			}
		}
	})

	t.Run("built-in provider, HTTP-only openai account gets complete requests", func(t *testing.T) {
		api := startUpstream(t, "api", fakeupstream.WithAPIKey(keyA), fakeupstream.WithToolCall("get_goal", "{}"))
		p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+openaiAccount("api", api, "KEY_A", 1), env)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("proxy logs:\n%s", p.Logs)
			}
		})
		home := codexHome(t, p.URL)
		// No custom provider: the built-in one, pointed at the proxy; it
		// takes the key from CODEX_API_KEY.
		editCodexConfig(t, home, `model_provider = "proxy"`, fmt.Sprintf("openai_base_url = %q", p.URL+"/v1"))
		run := runCodexEnv(t, bin, home, t.TempDir(), "", map[string]string{"CODEX_API_KEY": clientKey},
			"exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "what is the goal?")
		if got := servedBy(run.Stdout); got != "api" {
			t.Fatalf("served by %q\n%s", got, run)
		}
		checkNoWebSocketFallback(t, run, home)
		posts := postsOf(api)
		if len(posts) != 2 {
			t.Fatalf("the account got %d POSTs, want 2\n%s", len(posts), describe(api.Requests()))
		}
		if got := inputOf(t, posts[1].Body); !strings.HasSuffix(got, "message/user reasoning function_call function_call_output") || !strings.HasPrefix(got, "message/developer") {
			t.Errorf("second POST input = %s; want the whole conversation", got)
		}
		for _, name := range []string{"previous_response_id", "type", "generate"} {
			if hasMember(t, posts[1].Body, name) {
				t.Errorf("the POST carries %s", name)
			}
		}
		if !strings.Contains(p.Logs.String(), "transport=websocket") {
			t.Errorf("Codex did not come over the WebSocket")
		}
		assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, clientKey)
	})
}

// TestCodexWebSocketOverloadAfterOpening: the real Codex over the
// WebSocket, its retries off; the conversation's account (heavy, the only
// one with weight) overloads after response.created and
// response.in_progress. Codex must see nothing of it: a spare account gets
// the complete request over its own upstream WebSocket, then the tool
// turn's follow-up as an increment there.
func TestCodexWebSocketOverloadAfterOpening(t *testing.T) {
	bin := codexBinary(t)
	ups := map[string]*fakeupstream.Server{}
	accounts := "accounts:\n"
	for i, name := range []string{"heavy", "spare-a", "spare-b"} {
		ups[name] = startUpstream(t, name, fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket(), fakeupstream.WithToolCall("get_goal", "{}"))
		accounts += chatgptAccount(name, ups[name], "ACCESS", "acct-123", map[bool]int{true: 1}[i == 0])
	}
	ups["heavy"].Script(fakeupstream.Repeat(10, fakeupstream.OverloadedAfterOpening())...)
	p := startProxy(t, accounts, env)
	logOnFailure(t, p, ups)
	home := codexHome(t, p.URL) // request_max_retries = stream_max_retries = 0
	editCodexConfig(t, home, `wire_api = "responses"`, "wire_api = \"responses\"\nsupports_websockets = true")
	run := runCodex(t, bin, home, t.TempDir(), "any-key", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "what is the goal?")
	logRun(t, "tool turn", run, p, ups)
	spare := spareServing(t, run)
	assertCodexSawNoFailure(t, "tool turn", run)
	checkNoWebSocketFallback(t, run, home)

	if got := frames(ups["heavy"]); len(got) != 1 {
		t.Fatalf("heavy got %d WebSocket requests, want the conversation's first", len(got))
	}
	got := frames(ups[spare])
	if len(got) != 2 {
		t.Fatalf("%s got %d WebSocket requests, want the failover and the tool's follow-up", spare, len(got))
	}
	if got[0].PreviousResponseID != "" || !strings.Contains(inputOf(t, got[0].Body), "message/user") {
		t.Errorf("%s's first request: previous_response_id %q, input %s; want complete", spare, got[0].PreviousResponseID, inputOf(t, got[0].Body))
	}
	if !got[1].Incremental || inputOf(t, got[1].Body) != "function_call_output" {
		t.Errorf("%s's second request: incremental %v, input %s; want the increment", spare, got[1].Incremental, inputOf(t, got[1].Body))
	}
	if !strings.Contains(p.Logs.String(), "failover from heavy: overloaded") {
		t.Errorf("no failover from heavy in the proxy's log")
	}
}

// TestCodexWebSocketMessageBound: the proxy announces its WebSocket
// message bound (limits.websocket_message_bytes, 64 KiB here, below
// max_body_bytes) on the upgrade's 101, and the real Codex sends a turn
// larger than that over HTTP instead: the proxy never reads an oversized
// message, so never closes with 1009, and the turn is served. A small
// turn in the same setup still goes over the WebSocket.
//
// Measured with 0.171.0: Codex measures the message before sending it and
// prints one line, "warning: Falling back from WebSockets to HTTPS
// transport. websocket request exceeds the peer's message size limit"
// (its debug log: "codex_core::client: falling back to HTTP"); the rest
// of the session stays on HTTP, each request complete. Without the
// header the same message is sent, closed with 1009, and Codex prints
// the same line: what the header saves is the oversized upload and the
// close, which this test sees in the proxy's log.
func TestCodexWebSocketMessageBound(t *testing.T) {
	bin := codexBinary(t)
	chat := startUpstream(t, "chat", fakeupstream.WithChatGPT(accessToken, "acct-123"), fakeupstream.WithWebSocket())
	p := startProxy(t, "max_body_bytes: 4194304\nlimits:\n  websocket_message_bytes: 65536\naccounts:\n"+
		chatgptAccount("chat", chat, "ACCESS", "acct-123", 1), env)
	ups := map[string]*fakeupstream.Server{"chat": chat}
	logOnFailure(t, p, ups)
	turn := func(what, prompt string) (codexRun, string) {
		t.Helper()
		home := codexHome(t, p.URL)
		editCodexConfig(t, home, `wire_api = "responses"`, "wire_api = \"responses\"\nsupports_websockets = true")
		run := runCodex(t, bin, home, t.TempDir(), "any-key", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", prompt)
		logRun(t, what, run, p, ups)
		if got := servedBy(run.Stdout); got != "chat" {
			t.Fatalf("%s: served by %q\n%s", what, got, run)
		}
		return run, home
	}

	// A small turn: over the WebSocket, end to end (Codex's request is
	// about 40 KB: its instructions and tools).
	run, home := turn("small turn", "what is the goal?")
	checkNoWebSocketFallback(t, run, home)
	if n := len(frames(chat)); n != 1 {
		t.Fatalf("small turn: the account got %d WebSocket requests, want 1", n)
	}
	if got := accountTransports(p, "chat"); len(got) != 1 || got[0] != "websocket" {
		t.Fatalf("small turn: the proxy served it over %q, want the WebSocket", got)
	}

	// A turn of ~100 KB: past the bound, so over HTTP, complete.
	prompt := "what is the goal? " + strings.Repeat("lorem ipsum dolor sit amet ", 100<<10/27)
	run, home = turn("large turn", prompt)
	posts := postsOf(chat)
	if len(posts) != 1 || !strings.Contains(string(posts[0].Body), prompt) {
		t.Fatalf("large turn: the account got %d POSTs, want 1 carrying the whole prompt", len(posts))
	}
	if got := accountTransports(p, "chat"); len(got) != 2 || got[1] != "http" {
		t.Fatalf("large turn: the proxy served the turns over %q, want the second over HTTP", got)
	}
	if n := len(frames(chat)); n != 1 {
		t.Errorf("large turn: the account got %d more WebSocket requests", n-1)
	}
	if logs := p.Logs.String(); strings.Contains(logs, "WebSocket message larger than") {
		t.Errorf("the proxy read a message past its bound (Codex did not take the 101's %s):\n%s", relay.MaxMessageHeader, lineWith(logs, "WebSocket message larger than"))
	}
	all := run.Stdout + run.Stderr + codexLogs(t, home)
	for _, s := range []string{"1009", "failed to connect to Responses WebSocket", "426 Upgrade Required", "stream disconnected", "ERROR"} {
		if strings.Contains(all, s) {
			t.Errorf("large turn: Codex logged %q:\n%s", s, lineWith(all, s))
		}
	}
	// The one WebSocket line is the move the header asks for.
	const moved = "Falling back from WebSockets to HTTPS transport. websocket request exceeds the peer's message size limit"
	if n, m := strings.Count(all, "Falling back from WebSockets"), strings.Count(all, moved); n != m || m > 1 {
		t.Errorf("large turn: Codex fell back from the WebSocket for another reason:\n%s", lineWith(all, "Falling back from WebSockets"))
	}
	t.Logf("large turn (%d bytes of prompt): Codex printed %q", len(prompt), strings.TrimSpace(lineWith(all, "Falling back")))
}

// accountTransports lists, in order, how the proxy received each request
// it served with account: "websocket" or "http" (the warmups it answers
// itself name no account).
func accountTransports(p *running, account string) []string {
	var out []string
	for _, l := range strings.Split(p.Logs.String(), "\n") {
		if !strings.Contains(l, " msg=request ") || !strings.Contains(l, " account="+account+" ") {
			continue
		}
		if strings.Contains(l, " transport=websocket") {
			out = append(out, "websocket")
		} else {
			out = append(out, "http")
		}
	}
	return out
}
