package e2e_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// chatAccount is the YAML of an openai account served by s that speaks
// only Chat Completions, under the provider's own model name.
func chatAccount(name string, s *fakeupstream.Server, keyVar string, weight int) string {
	return openaiAccount(name, s, keyVar, weight) + "    api: chat_completions\n    model_map: {\"*\": deepseek-chat}\n"
}

// chatPosts are the Chat Completions requests s received.
func chatPosts(s *fakeupstream.Server) []fakeupstream.Request {
	var out []fakeupstream.Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/chat/completions") {
			out = append(out, r)
		}
	}
	return out
}

// chatMessage is what the tests look at in a chat request's message.
type chatMessage struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	ReasoningContent *string         `json:"reasoning_content"`
	ToolCallID       string          `json:"tool_call_id"`
	ToolCalls        []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// chatRequest decodes the parts of a chat request the tests check.
func chatRequest(t *testing.T, body []byte) (model string, messages []chatMessage, tools []string) {
	t.Helper()
	var b struct {
		Model    string        `json:"model"`
		Messages []chatMessage `json:"messages"`
		Tools    []struct {
			Function struct{ Name string } `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("chat request is not JSON: %v", err)
	}
	for _, tool := range b.Tools {
		tools = append(tools, tool.Function.Name)
	}
	return b.Model, b.Messages, tools
}

// roles is the messages' roles in order, a tool-calling assistant as
// assistant+calls.
func roles(ms []chatMessage) string {
	var out []string
	for _, m := range ms {
		r := m.Role
		if len(m.ToolCalls) > 0 {
			r += "+calls"
		}
		out = append(out, r)
	}
	return strings.Join(out, " ")
}

// TestCodexOnChatOnlyAccount: the real Codex CLI against an account whose
// provider speaks only Chat Completions (a fake that refuses /responses
// and keeps a chat provider's rules: no developer role, a tool message
// only after its call). Over HTTP and over the WebSocket: a turn and its
// resume, a tool turn that runs a command, and an apply_patch turn whose
// patch lands on disk.
func TestCodexOnChatOnlyAccount(t *testing.T) {
	bin := codexBinary(t)
	for _, transport := range []string{"http", "websocket"} {
		setup := func(t *testing.T, opts ...fakeupstream.Option) (*fakeupstream.Server, *running, string) {
			ds := startUpstream(t, "ds", append([]fakeupstream.Option{fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly()}, opts...)...)
			p := startProxy(t, "accounts:\n"+chatAccount("ds", ds, "KEY_A", 1), env)
			home := codexHome(t, p.URL)
			if transport == "websocket" {
				editCodexConfig(t, home, `wire_api = "responses"`, "wire_api = \"responses\"\nsupports_websockets = true")
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("proxy logs:\n%s", p.Logs)
					for _, r := range chatPosts(ds) {
						t.Logf("ds received %s", r.Body)
					}
				}
			})
			return ds, p, home
		}
		checkTransport := func(t *testing.T, p *running, run codexRun, home string) {
			t.Helper()
			relay.Settle()
			logs := p.Logs.String()
			if !strings.Contains(logs, "api=chat_completions") || !strings.Contains(logs, "upstream_model=deepseek-chat") {
				t.Errorf("the log does not say the account was sent Chat Completions under its model name")
			}
			if transport == "websocket" {
				checkNoWebSocketFallback(t, run, home)
				if !strings.Contains(logs, "transport=websocket") {
					t.Errorf("Codex did not come over the WebSocket")
				}
			}
			assertNoSecrets(t, "proxy logs", logs, keyA)
		}

		t.Run(transport+"/turn and resume", func(t *testing.T) {
			ds, p, home := setup(t)
			work := t.TempDir()
			first := runCodex(t, bin, home, work, "any", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
			if got := servedBy(first.Stdout); got != "ds" {
				t.Fatalf("turn 1 answered %q, want the chat account's reply\n%s", got, first)
			}
			second := runCodex(t, bin, home, work, "any", "exec", "resume", "--skip-git-repo-check", "--strict-config", "--last", "again")
			if got := servedBy(second.Stdout); got != "ds" {
				t.Fatalf("the resumed turn answered %q\n%s", got, second)
			}
			posts := chatPosts(ds)
			if len(posts) < 2 {
				t.Fatalf("the account got %d chat requests, want 2", len(posts))
			}
			model, ms, _ := chatRequest(t, posts[len(posts)-1].Body)
			if model != "deepseek-chat" {
				t.Errorf("model = %q, want deepseek-chat (model_map)", model)
			}
			if !strings.HasPrefix(roles(ms), "system") || !strings.Contains(string(posts[len(posts)-1].Body), "Hello from ds.") || !strings.Contains(string(ms[len(ms)-1].Content), "again") {
				t.Errorf("the resumed turn's messages (%s) do not carry the first turn's answer and the new prompt", roles(ms))
			}
			checkTransport(t, p, second, home)
		})

		t.Run(transport+"/tool turn runs a command", func(t *testing.T) {
			ds, p, home := setup(t, fakeupstream.WithToolCall("exec_command", `{"cmd":"echo proxy-exec-ok"}`))
			run := runCodex(t, bin, home, t.TempDir(), "any", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never",
				"--dangerously-bypass-approvals-and-sandbox", "run the check")
			if got := servedBy(run.Stdout); got != "ds" {
				t.Fatalf("answered %q\n%s", got, run)
			}
			posts := chatPosts(ds)
			if len(posts) != 2 {
				t.Fatalf("the account got %d chat requests, want 2 (the call, then its output)", len(posts))
			}
			_, ms, tools := chatRequest(t, posts[1].Body)
			if !strings.Contains(strings.Join(tools, " "), "exec_command") {
				t.Errorf("tools sent: %v; want exec_command among them", tools)
			}
			last := ms[len(ms)-1]
			if last.Role != "tool" || !strings.Contains(string(last.Content), "proxy-exec-ok") || !strings.HasSuffix(roles(ms), "assistant+calls tool") {
				t.Errorf("second request's messages: %s, last %s %s; want the call and the command's output", roles(ms), last.Role, last.Content)
			}
			checkTransport(t, p, run, home)
		})

		t.Run(transport+"/apply_patch turn", func(t *testing.T) {
			patch := "*** Begin Patch\n*** Add File: hello.txt\n+patched through a chat-only account\n*** End Patch\n"
			args, _ := json.Marshal(map[string]string{"input": patch})
			ds, p, home := setup(t, fakeupstream.WithToolCall("apply_patch", string(args)))
			// Codex offers its freeform apply_patch tool to the models it
			// knows (gpt-5.5 among them), not to a fallback's metadata.
			editCodexConfig(t, home, `model = "gpt-5"`, `model = "gpt-5.5"`)
			work := t.TempDir()
			run := runCodex(t, bin, home, work, "any", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never",
				"--dangerously-bypass-approvals-and-sandbox", "add the file")
			if got := servedBy(run.Stdout); got != "ds" {
				t.Fatalf("answered %q\n%s", got, run)
			}
			data, err := os.ReadFile(filepath.Join(work, "hello.txt"))
			if err != nil || strings.TrimSpace(string(data)) != "patched through a chat-only account" {
				t.Fatalf("the patch did not land: %q, %v\n%s", data, err, run)
			}
			posts := chatPosts(ds)
			if len(posts) != 2 {
				t.Fatalf("the account got %d chat requests, want 2", len(posts))
			}
			_, ms, tools := chatRequest(t, posts[0].Body)
			if !strings.Contains(strings.Join(tools, " "), "apply_patch") {
				t.Errorf("tools sent: %v; want apply_patch as a function", tools)
			}
			_, ms, _ = chatRequest(t, posts[1].Body)
			if !strings.HasSuffix(roles(ms), "assistant+calls tool") {
				t.Errorf("second request's messages: %s; want the patch call and its result", roles(ms))
			}
			checkTransport(t, p, run, home)
		})
	}
}

// TestCodexCompactsOnChatOnlyAccount: Codex treating the provider as
// OpenAI compacts on the server; on a chat-only account the proxy makes
// that a summary turn on the account, answers with its own compaction
// item, and puts the summary back as a message on the next turn.
func TestCodexCompactsOnChatOnlyAccount(t *testing.T) {
	bin := codexBinary(t)
	ds := startUpstream(t, "ds", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly())
	p := startProxy(t, "accounts:\n"+chatAccount("ds", ds, "KEY_A", 1), env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
		}
	})
	home := codexHomeFromReadme(t, p.URL)
	work := t.TempDir()
	runCodex(t, bin, home, work, "any", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
	second := runCodex(t, bin, home, work, "any", "exec", "resume", "--skip-git-repo-check", "--strict-config", "--last", "again")
	if !strings.Contains(second.Stderr, "context compacted") || servedBy(second.Stdout) != "ds" {
		t.Fatalf("Codex did not compact and answer on the chat account\n%s", second)
	}
	posts := chatPosts(ds)
	if len(posts) != 3 {
		t.Fatalf("the account got %d chat requests, want 3 (turn 1, the summary turn, turn 2)", len(posts))
	}
	_, summary, _ := chatRequest(t, posts[1].Body)
	if last := summary[len(summary)-1]; last.Role != "user" || !strings.Contains(string(last.Content), "handoff summary") {
		t.Errorf("the compaction was not made a summary turn: last message %s %s", last.Role, last.Content)
	}
	if !strings.Contains(string(posts[1].Body), `"tool_choice":"none"`) {
		t.Errorf("the summary turn may call tools")
	}
	_, ms, _ := chatRequest(t, posts[2].Body)
	carried := false
	for _, m := range ms {
		carried = carried || (m.Role == "user" && strings.Contains(string(m.Content), "The conversation so far was compacted") && strings.Contains(string(m.Content), "Hello from ds."))
	}
	if !carried {
		t.Errorf("turn 2 does not carry the summary back (%s)", roles(ms))
	}
	t.Logf("Codex printed: %q", strings.TrimSpace(lineWith(second.Stderr, "context compacted")))
}

// TestChatAccountFailures: an account that speaks only Chat Completions
// fails as the loop expects: a 429 before output fails over (and is the
// client's own 429 when every account is limited), an error chunk before
// output fails over, a stream cut mid-tool-call never completes the call,
// and context_length_exceeded reaches the client as it came.
func TestChatAccountFailures(t *testing.T) {
	const body = `{"model":"gpt-5","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}],"tools":[{"type":"function","name":"get_goal","parameters":{"type":"object","properties":{}}}]}`
	t.Run("429 then another account", func(t *testing.T) {
		a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly())
		b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB), fakeupstream.WithChatOnly())
		a.Script(fakeupstream.RateLimited(30 * time.Second))
		p := startProxy(t, "accounts:\n"+chatAccount("a", a, "KEY_A", 100)+chatAccount("b", b, "KEY_B", 0), env)
		code, _, out := postTo(t, p.URL+"/v1/responses", body)
		if code != http.StatusOK || !strings.Contains(out, "Hello from b.") || !strings.Contains(out, "response.completed") {
			t.Fatalf("%d %s", code, out)
		}
		a.Script(fakeupstream.RateLimited(30*time.Second), fakeupstream.RateLimited(30*time.Second))
		b.Script(fakeupstream.RateLimited(30 * time.Second))
		code, h, out := postTo(t, p.URL+"/v1/responses", strings.Replace(body, `"hi"`, `"other"`, 1))
		if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
			t.Errorf("every account limited: %d Retry-After %q %s", code, h.Get("Retry-After"), out)
		}
	})
	t.Run("402 out of balance fails over and cools the account", func(t *testing.T) {
		a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly())
		b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB), fakeupstream.WithChatOnly())
		a.Script(fakeupstream.Fault{Status: http.StatusPaymentRequired,
			Body: `{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}`})
		p := startProxy(t, "accounts:\n"+chatAccount("a", a, "KEY_A", 100)+chatAccount("b", b, "KEY_B", 0), env)
		code, _, out := postTo(t, p.URL+"/v1/responses", body)
		if code != http.StatusOK || !strings.Contains(out, "Hello from b.") {
			t.Fatalf("%d %s", code, out)
		}
		_, _, status := getJSON(t, p.URL+"/_proxy/status", "")
		if !strings.Contains(string(status), "out of balance or credits") {
			t.Errorf("the spent account is not cooling down with its reason: %s", status)
		}
	})
	t.Run("error chunk before output fails over", func(t *testing.T) {
		a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly())
		b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB), fakeupstream.WithChatOnly())
		a.Script(fakeupstream.ErrorChunk(0, "server_error", "The server is overloaded"))
		p := startProxy(t, "accounts:\n"+chatAccount("a", a, "KEY_A", 100)+chatAccount("b", b, "KEY_B", 0), env)
		code, _, out := postTo(t, p.URL+"/v1/responses", body)
		if code != http.StatusOK || !strings.Contains(out, "Hello from b.") || strings.Contains(out, "overloaded") {
			t.Fatalf("%d %s", code, out)
		}
	})
	t.Run("cut mid-tool-call", func(t *testing.T) {
		a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly(), fakeupstream.WithToolCall("get_goal", `{"verbose":true,"why":"to see"}`))
		a.Script(fakeupstream.CutMidToolCall())
		p := startProxy(t, "accounts:\n"+chatAccount("a", a, "KEY_A", 1), env)
		code, _, out := postTo(t, p.URL+"/v1/responses", body)
		if code != http.StatusOK || !strings.Contains(out, "response.failed") || strings.Contains(out, "event: response.completed") ||
			strings.Contains(out, "response.output_item.done") || strings.Contains(out, "function_call_arguments.done") {
			t.Fatalf("a cut call must never be completed: %d\n%s\n%s", code, out, p.Logs)
		}
	})
	t.Run("a request no translation can carry is the client's 400", func(t *testing.T) {
		a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly())
		p := startProxy(t, "accounts:\n"+chatAccount("a", a, "KEY_A", 1), env)
		code, _, out := postTo(t, p.URL+"/v1/responses", `{"model":"gpt-5","stream":true,"input":5}`)
		if code != http.StatusBadRequest || !strings.Contains(out, `"type":"invalid_request_error"`) || len(chatPosts(a)) != 0 {
			t.Fatalf("%d %s (the account got %d requests)", code, out, len(chatPosts(a)))
		}
		_, _, status := getJSON(t, p.URL+"/_proxy/status", "")
		if !strings.Contains(string(status), `"state": "healthy"`) {
			t.Errorf("the account was blamed: %s", status)
		}
	})
	t.Run("context_length_exceeded", func(t *testing.T) {
		a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly())
		a.Script(fakeupstream.ContextLengthExceeded(65536))
		p := startProxy(t, "accounts:\n"+chatAccount("a", a, "KEY_A", 1), env)
		code, _, out := postTo(t, p.URL+"/v1/responses", body)
		if code != http.StatusBadRequest || !strings.Contains(out, `"code":"context_length_exceeded"`) {
			t.Fatalf("%d %s", code, out)
		}
	})
}

// TestCodexMovesOffChatOnlyAccount: a conversation begun on a thinking
// chat-only account (its reasoning rebuilt as rs_chat_ items Codex replays)
// moves to a ChatGPT account when the first is limited: the ChatGPT
// account, which refuses items it cannot read, serves the turn.
func TestCodexMovesOffChatOnlyAccount(t *testing.T) {
	bin := codexBinary(t)
	ds := startUpstream(t, "ds", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly(), fakeupstream.WithThinking())
	gpt := startUpstream(t, "gpt", fakeupstream.WithChatGPT(accessToken, "acct-123"))
	p := startProxy(t, "accounts:\n"+chatAccount("ds", ds, "KEY_A", 100)+chatgptAccount("gpt", gpt, "ACCESS", "acct-123", 0), env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
			t.Logf("gpt received %s", describe(gpt.Requests()))
		}
	})
	home := codexHome(t, p.URL)
	work := t.TempDir()
	first := runCodex(t, bin, home, work, "any", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
	if got := servedBy(first.Stdout); got != "ds" {
		t.Fatalf("turn 1 answered %q\n%s", got, first)
	}
	ds.Script(fakeupstream.RateLimited(time.Hour))
	second := runCodex(t, bin, home, work, "any", "exec", "resume", "--skip-git-repo-check", "--strict-config", "--last", "again")
	if got := servedBy(second.Stdout); got != "gpt" {
		t.Fatalf("turn 2 answered %q, want the ChatGPT account\n%s", got, second)
	}
	posts := postsOf(gpt)
	if len(posts) == 0 {
		t.Fatal("the ChatGPT account got no request")
	}
	t.Logf("the ChatGPT account got %d request(s); the last input: %s", len(posts), inputOf(t, posts[len(posts)-1].Body))
	if strings.Contains(string(posts[len(posts)-1].Body), "rs_chat_") {
		t.Errorf("the ChatGPT account was sent the chat account's reasoning items")
	}
}

// TestCodexToolTurnOnThinkingAccount: DeepSeek's thinking mode refuses a
// tool turn whose assistant message comes back without its
// reasoning_content (the fake keeps that rule): the reasoning rebuilt as a
// summary, which Codex replays, goes back as reasoning_content.
func TestCodexToolTurnOnThinkingAccount(t *testing.T) {
	bin := codexBinary(t)
	ds := startUpstream(t, "ds", fakeupstream.WithAPIKey(keyA), fakeupstream.WithChatOnly(), fakeupstream.WithThinking(),
		fakeupstream.WithToolCall("exec_command", `{"cmd":"echo ok"}`))
	p := startProxy(t, "accounts:\n"+chatAccount("ds", ds, "KEY_A", 1), env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
		}
	})
	run := runCodex(t, bin, codexHome(t, p.URL), t.TempDir(), "any", "exec", "--skip-git-repo-check", "--strict-config", "--color", "never",
		"--dangerously-bypass-approvals-and-sandbox", "run it")
	if got := servedBy(run.Stdout); got != "ds" {
		t.Fatalf("answered %q\n%s", got, run)
	}
	posts := chatPosts(ds)
	if len(posts) != 2 {
		t.Fatalf("the account got %d chat requests, want 2", len(posts))
	}
	_, ms, _ := chatRequest(t, posts[1].Body)
	for _, m := range ms {
		if len(m.ToolCalls) > 0 && (m.ReasoningContent == nil || *m.ReasoningContent == "") {
			t.Errorf("the tool-calling assistant message went back without its reasoning_content")
		}
	}
}
