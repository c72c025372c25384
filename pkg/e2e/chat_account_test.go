package e2e_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
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
