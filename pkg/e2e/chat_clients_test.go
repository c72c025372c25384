package e2e_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// The real clients of the Chat Completions front door each run against the
// two kinds of account the front door translates for: a ChatGPT account (the
// Codex backend: stream and store:false required) and an openai account.
var chatAccountKinds = []string{"chatgpt", "openai"}

// The tool every client's scripted model calls, and its arguments.
const (
	weatherTool = "get_weather"
	weatherArgs = `{"city":"Paris"}`
)

// startChatPool starts a fake upstream account of the given kind (its reply
// is "Hello from <kind>.") and a proxy with a client key in front of it.
func startChatPool(t *testing.T, kind string, opts ...fakeupstream.Option) (*fakeupstream.Server, *running) {
	t.Helper()
	var up *fakeupstream.Server
	var account string
	switch kind {
	case "chatgpt":
		up = startUpstream(t, kind, append(opts, fakeupstream.WithChatGPT(accessToken, "acct-123"))...)
		account = chatgptAccount(kind, up, "ACCESS", "acct-123", 1)
	case "openai":
		up = startUpstream(t, kind, append(opts, fakeupstream.WithAPIKey(keyA))...)
		account = openaiAccount(kind, up, "KEY_A", 1)
	default:
		t.Fatalf("no account kind %q", kind)
	}
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+account, env)
	return up, p
}

// sentRequest is what a test checks of a Responses request the fake upstream
// received from the front door's translation.
type sentRequest struct {
	Path            string `json:"-"`
	Raw             string `json:"-"`
	Model           string
	Stream          *bool
	Store           *bool
	MaxOutputTokens *int `json:"max_output_tokens"`
	Reasoning       struct{ Effort string }
	Tools           []struct {
		Type, Name string
	}
	Text struct {
		Format struct {
			Type, Name string
			Strict     *bool
			Schema     json.RawMessage
		}
	}
	Input []struct {
		Type, Role, Name string
		CallID           string `json:"call_id"`
		Arguments        string
		Output           json.RawMessage
	}
}

// lastInput is the type of the request's last input item ("message" when a
// message item leaves its type out).
func (r sentRequest) lastInput() string {
	if len(r.Input) == 0 {
		return ""
	}
	if last := r.Input[len(r.Input)-1]; last.Type != "" {
		return last.Type
	}
	return "message"
}

// hasTool reports whether the request offered the function tool name.
func (r sentRequest) hasTool(name string) bool {
	for _, tool := range r.Tools {
		if tool.Type == "function" && tool.Name == name {
			return true
		}
	}
	return false
}

// toolRound is what the request sends back of the tool call callID: the
// function_call item's name and arguments and its function_call_output's
// output ("" for what is missing).
func (r sentRequest) toolRound(callID string) (name, arguments, output string) {
	for _, in := range r.Input {
		switch {
		case in.Type == "function_call" && in.CallID == callID:
			name, arguments = in.Name, in.Arguments
		case in.Type == "function_call_output" && in.CallID == callID:
			output = string(in.Output)
		}
	}
	return name, arguments, output
}

// sentRequests checks that up received exactly n requests, each a POST to
// its Responses endpoint with stream:true and store:false (the rules of the
// ChatGPT backend, which the translation follows for every account), and
// returns them.
func sentRequests(t *testing.T, up *fakeupstream.Server, kind string, n int) []sentRequest {
	t.Helper()
	want := map[string]string{"chatgpt": "/backend-api/codex/responses", "openai": "/v1/responses"}[kind]
	reqs := up.Requests()
	if len(reqs) != n {
		t.Fatalf("%s received %d requests, want %d", kind, len(reqs), n)
	}
	sent := make([]sentRequest, len(reqs))
	for i, r := range reqs {
		s := &sent[i]
		if err := json.Unmarshal(r.Body, s); err != nil {
			t.Fatalf("request %d: %v\n%s", i, err, r.Body)
		}
		s.Path, s.Raw = r.Path, string(r.Body)
		if r.Method != "POST" || r.Path != want {
			t.Errorf("request %d: %s %s, want POST %s", i, r.Method, r.Path, want)
		}
		if s.Stream == nil || !*s.Stream || s.Store == nil || *s.Store {
			t.Errorf("request %d: stream %v store %v, want stream:true store:false\n%s", i, deref(s.Stream), deref(s.Store), r.Body)
		}
		if s.Model != "gpt-5" {
			t.Errorf("request %d: model %q, want gpt-5", i, s.Model)
		}
	}
	return sent
}

// deref prints a JSON boolean that may be absent.
func deref(b *bool) string {
	if b == nil {
		return "absent"
	}
	if *b {
		return "true"
	}
	return "false"
}

// checkOutputCap checks what became of a client's max_tokens (or
// max_completion_tokens) of n: an openai account gets it as
// max_output_tokens, while a ChatGPT account must not get the field at all
// (the Codex backend answers 400 "Unsupported parameter: max_output_tokens").
func checkOutputCap(t *testing.T, kind string, s sentRequest, n int) {
	t.Helper()
	switch got := s.MaxOutputTokens; {
	case kind == "chatgpt" && got != nil:
		t.Errorf("max_output_tokens %d sent to a ChatGPT account, which refuses the field", *got)
	case kind == "openai" && got == nil:
		t.Errorf("no max_output_tokens, want %d: %s", n, s.Raw)
	case kind == "openai" && *got != n:
		t.Errorf("max_output_tokens %d, want %d", *got, n)
	}
}

// chatUsage is a chat.completion's usage.
type chatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens *int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens *int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

// check fails the test when the usage is missing, empty or does not add up.
func (u *chatUsage) check(t *testing.T, what string) {
	t.Helper()
	switch {
	case u == nil:
		t.Errorf("%s: no usage", what)
	case u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens:
		t.Errorf("%s: usage %+v", what, *u)
	case u.PromptTokensDetails.CachedTokens == nil || u.CompletionTokensDetails.ReasoningTokens == nil:
		t.Errorf("%s: usage without cached or reasoning tokens: %+v", what, *u)
	}
}

// The official Node SDK's chat.completions.create through the front door, on
// both kinds of account: plain and streamed (with the usage chunk), two tool
// round trips (one streamed), and a json_schema response_format. Each checks
// what the SDK got and what the account received.
func TestChatNodeSDK(t *testing.T) {
	node, pkg := nodeSDK(t)
	run := func(t *testing.T, p *running, mode string, v any) {
		runNodeScript(t, p, node, "chat_node_sdk.js", v, "MODE="+mode, "SDK_PKG="+pkg, "PROXY_URL="+p.URL, "CLIENT_KEY="+clientKey)
	}
	for _, kind := range chatAccountKinds {
		reply := "Hello from " + kind + "."
		t.Run(kind+"/chat", func(t *testing.T) {
			up, p := startChatPool(t, kind)
			var got struct {
				Plain, PlainRole, PlainObject, PlainModel, PlainFinish string
				PlainUsage                                             *chatUsage
				Deltas, Object, Finish                                 string
				Chunks, IDs, UsageChunkChoices                         int
				Usage                                                  *chatUsage
			}
			run(t, p, "chat", &got)
			if got.Plain != reply || got.PlainRole != "assistant" || got.PlainObject != "chat.completion" || got.PlainModel != "gpt-5" || got.PlainFinish != "stop" {
				t.Errorf("not streamed: %+v", got)
			}
			got.PlainUsage.check(t, "not streamed")
			if got.Deltas != reply || got.Object != "chat.completion.chunk" || got.Finish != "stop" || got.IDs != 1 || got.Chunks < 3 {
				t.Errorf("streamed: %+v", got)
			}
			// include_usage: the usage comes in a last chunk of its own, with no choices.
			got.Usage.check(t, "streamed")
			if got.UsageChunkChoices != 0 {
				t.Errorf("the usage chunk has %d choices, want 0", got.UsageChunkChoices)
			}
			sent := sentRequests(t, up, kind, 2)
			if !strings.Contains(sent[0].Raw, "Be brief.") {
				t.Errorf("the system message did not reach the account: %s", sent[0].Raw)
			}
			checkOutputCap(t, kind, sent[0], 256)
			assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, accessToken, clientKey)
		})
		t.Run(kind+"/tool", func(t *testing.T) {
			up, p := startChatPool(t, kind, fakeupstream.WithToolCall(weatherTool, weatherArgs))
			type call struct{ ID, Name, Arguments string }
			var got struct {
				Call                       call
				FirstFinish, Answer        string
				StreamCalls                int
				StreamCall                 call
				NameBeforeArgs             bool
				StreamFinish, StreamAnswer string
			}
			run(t, p, "tool", &got)
			for name, c := range map[string]call{"not streamed": got.Call, "streamed": got.StreamCall} {
				if c.Name != weatherTool || c.Arguments != weatherArgs || !strings.HasPrefix(c.ID, "call_") {
					t.Errorf("%s tool call %+v, want %s(%s)", name, c, weatherTool, weatherArgs)
				}
			}
			if got.FirstFinish != "tool_calls" || got.StreamFinish != "tool_calls" || got.StreamCalls != 1 || !got.NameBeforeArgs {
				t.Errorf("tool calls: %+v", got)
			}
			if got.Answer != reply || got.StreamAnswer != reply {
				t.Errorf("answers after the tool: %q, %q, want %q", got.Answer, got.StreamAnswer, reply)
			}
			sent := sentRequests(t, up, kind, 4)
			for i, s := range sent {
				if !s.hasTool(weatherTool) {
					t.Errorf("request %d offers no function %s: %s", i, weatherTool, s.Raw)
				}
			}
			for i, id := range map[int]string{1: got.Call.ID, 3: got.StreamCall.ID} {
				if sent[i-1].lastInput() == "function_call_output" {
					t.Errorf("request %d ends with a tool output: %s", i-1, sent[i-1].Raw)
				}
				if name, args, out := sent[i].toolRound(id); name != weatherTool || args != weatherArgs || !strings.Contains(out, "clear") {
					t.Errorf("request %d sends back %s(%s) = %q for %s: %s", i, name, args, out, id, sent[i].Raw)
				}
			}
		})
		t.Run(kind+"/json_schema", func(t *testing.T) {
			up, p := startChatPool(t, kind, fakeupstream.WithReply(`{"answer":"yes"}`))
			var got struct {
				Content string
				Parsed  struct{ Answer string }
			}
			run(t, p, "json", &got)
			if got.Parsed.Answer != "yes" {
				t.Errorf("answer %+v", got)
			}
			f := sentRequests(t, up, kind, 1)[0].Text.Format
			if f.Type != "json_schema" || f.Name != "answer" || f.Strict == nil || !*f.Strict || !strings.Contains(string(f.Schema), `"answer"`) {
				t.Errorf("text.format %+v: not the request's json_schema", f)
			}
		})
	}
}
