package fakeupstream

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestChatStreamGolden pins the exact bytes of chat streams, ids normalised,
// so the translation tests of other packages can rely on their shape.
func TestChatStreamGolden(t *testing.T) {
	cases := []struct {
		name   string
		opts   []Option
		fields map[string]any
	}{
		{name: "text", fields: nil},
		{name: "text_without_usage", fields: map[string]any{"stream_options": nil}},
		{name: "thinking_text", opts: []Option{WithThinking()}},
		{name: "tool_call", opts: []Option{WithToolCall("exec_command", `{"cmd":"ls -la","workdir":"/tmp"}`)}},
		{name: "thinking_tool_call", opts: []Option{WithThinking(), WithToolCall("exec_command", `{"cmd":"ls"}`)}},
		{name: "parallel_tool_calls", opts: []Option{WithToolCall("read", `{"path":"a.go"}`), WithParallelToolCalls(2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startChat(t, tc.opts...)
			resp := postChat(t, s, chatBody(t, tc.fields), nil)
			got := strings.ReplaceAll(string(readBodyBytes(t, resp)), s.idPrefix, "XXXXXXXX")
			path := filepath.Join("testdata", "chat", tc.name+".sse")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("stream differs from %s (run with -update after checking):\n got:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

func TestChatStreamText(t *testing.T) {
	s := startChat(t, WithReply("Hello there from a chat provider."))
	c := chatStreamOf(t, s, chatBody(t, nil))
	if c.err != nil {
		t.Fatalf("stream ended with %v", c.err)
	}
	first := c.chunks[0]
	id, _ := first["id"].(string)
	if !strings.HasPrefix(id, "chatcmpl-") {
		t.Fatalf("id %q, want chatcmpl-...", id)
	}
	first["id"] = "<id>"
	jsonEqual(t, first, `{"id":"<id>","object":"chat.completion.chunk","created":1765000000,"model":"deepseek-chat","system_fingerprint":"fp_fake",
		"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`)
	for i, ch := range c.chunks {
		if ch["id"] != "<id>" && ch["id"] != id {
			t.Errorf("chunk %d has id %v, want the stream's", i, ch["id"])
		}
	}
	textDeltas := 0
	for _, d := range c.deltas() {
		if s, ok := d["content"].(string); ok && s != "" {
			textDeltas++
		}
	}
	if textDeltas < 3 {
		t.Errorf("%d text deltas, want the text in several small ones", textDeltas)
	}
	if got := c.joined("content"); got != "Hello there from a chat provider." {
		t.Errorf("text %q", got)
	}
	if got := c.finishReasons(); len(got) != 1 || got[0] != "stop" {
		t.Errorf("finish reasons %v, want [stop]", got)
	}
	last := c.chunks[len(c.chunks)-1]
	if choices := asSlice(last["choices"]); choices == nil || len(choices) != 0 {
		t.Errorf("usage chunk choices %v, want []", last["choices"])
	}
	u := c.usage()
	if u == nil || num(t, u, "total_tokens") != num(t, u, "prompt_tokens")+num(t, u, "completion_tokens") || u["completion_tokens_details"] != nil {
		t.Errorf("usage %v", u)
	}
	if !c.done() {
		t.Errorf("stream does not end with [DONE]: %v", c.data)
	}
}

func TestChatStreamUsageOnlyWhenAsked(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]any
		want   bool
	}{
		{"include_usage true", nil, true},
		{"no stream_options", map[string]any{"stream_options": nil}, false},
		{"include_usage false", map[string]any{"stream_options": map[string]any{"include_usage": false}}, false},
	}
	s := startChat(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := chatStreamOf(t, s, chatBody(t, tc.fields))
			if got := c.usage() != nil; got != tc.want {
				t.Errorf("usage chunk present = %v, want %v", got, tc.want)
			}
			if !c.done() {
				t.Error("no [DONE]")
			}
		})
	}
}

func TestChatStreamToolCall(t *testing.T) {
	args := `{"cmd":"go test ./...","workdir":"/src/é"}`
	s := startChat(t, WithToolCall("exec_command", args))
	c := chatStreamOf(t, s, chatBody(t, nil))
	calls := c.toolCallDeltas()
	if len(calls) < 3 {
		t.Fatalf("%d tool_calls deltas, want the call split across several", len(calls))
	}
	open := calls[0]
	if id, _ := open["id"].(string); !strings.HasPrefix(id, "call_") {
		t.Errorf("opening id %v", open["id"])
	}
	open["id"] = "<id>"
	jsonEqual(t, open, `{"index":0,"id":"<id>","type":"function","function":{"name":"exec_command","arguments":""}}`)
	var joined strings.Builder
	for i, p := range calls[1:] {
		if p["id"] != nil || p["type"] != nil || get(p, "function.name") != nil || num(t, p, "index") != 0 {
			t.Errorf("piece %d carries more than index and arguments: %v", i, p)
		}
		joined.WriteString(get(p, "function.arguments").(string))
	}
	if joined.String() != args {
		t.Errorf("arguments %q, want %q", joined.String(), args)
	}
	if got := c.finishReasons(); len(got) != 1 || got[0] != "tool_calls" {
		t.Errorf("finish reasons %v, want [tool_calls]", got)
	}
	if c.joined("content") != "" {
		t.Errorf("a tool turn has text %q", c.joined("content"))
	}

	// The call's output comes back: the turn ends with text.
	next := chatStreamOf(t, s, chatBody(t, map[string]any{"messages": []any{userMsg("run the tests"), callMsg("call_x"), toolMsg("call_x")}}))
	if got := next.joined("content"); got != "Hello from deep." || len(next.toolCallDeltas()) != 0 {
		t.Errorf("after the tool output: text %q, calls %v", got, next.toolCallDeltas())
	}
}

func TestChatStreamParallelToolCalls(t *testing.T) {
	args := `{"path":"pkg/main.go"}`
	s := startChat(t, WithToolCall("read", args), WithParallelToolCalls(2))
	c := chatStreamOf(t, s, chatBody(t, nil))
	var order []int
	ids := map[int]string{}
	joined := map[int]string{}
	for _, p := range c.toolCallDeltas() {
		i := num(t, p, "index")
		order = append(order, i)
		if id, ok := p["id"].(string); ok {
			ids[i] = id
		}
		joined[i] += get(p, "function.arguments").(string)
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Errorf("call ids %v, want two distinct", ids)
	}
	if joined[0] != args || joined[1] != args {
		t.Errorf("arguments %v", joined)
	}
	// Interleaved: both open first, then their pieces alternate.
	if len(order) < 6 || order[0] != 0 || order[1] != 1 || order[2] != 0 || order[3] != 1 {
		t.Errorf("index order %v, want 0 1 0 1 ...", order)
	}
}

func TestChatStreamThinking(t *testing.T) {
	s := startChat(t, WithThinking())
	c := chatStreamOf(t, s, chatBody(t, nil))
	if got := c.joined("reasoning_content"); got != reasoningSummary {
		t.Errorf("reasoning %q, want %q", got, reasoningSummary)
	}
	lastReasoning, firstText := -1, -1
	for i, d := range c.deltas() {
		if _, ok := d["reasoning_content"]; ok {
			lastReasoning = i
		}
		if s, ok := d["content"].(string); ok && s != "" && firstText < 0 {
			firstText = i
		}
	}
	if lastReasoning < 0 || firstText < lastReasoning {
		t.Errorf("reasoning (last at %d) must come before the text (first at %d)", lastReasoning, firstText)
	}
	u := c.usage()
	if num(t, u, "completion_tokens_details.reasoning_tokens") != reasoningTokens {
		t.Errorf("usage %v, want reasoning_tokens %d", u, reasoningTokens)
	}
	if num(t, u, "completion_tokens") <= reasoningTokens {
		t.Errorf("completion_tokens %v must count the reasoning and the text", u["completion_tokens"])
	}
}

func TestChatModelEchoed(t *testing.T) {
	s := startChat(t)
	cases := []struct{ name, model, want string }{
		{"named", "qwen3-coder-plus", "qwen3-coder-plus"},
		{"absent", "", "gpt-5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fields := map[string]any{"model": tc.model}
			if tc.model == "" {
				fields["model"] = nil
			}
			c := chatStreamOf(t, s, chatBody(t, fields))
			for _, ch := range c.chunks {
				if ch["model"] != tc.want {
					t.Fatalf("chunk model %v, want %s", ch["model"], tc.want)
				}
			}
		})
	}
	resp := postChat(t, s, chatBody(t, map[string]any{"stream": false, "model": "glm-4.6"}), nil)
	if m := decode(t, resp.Body); m["model"] != "glm-4.6" || resp.StatusCode != http.StatusOK {
		t.Errorf("JSON model %v", m["model"])
	}
	resp.Body.Close()
}
