package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestRebuildGolden rebuilds realistic chunk sequences and compares the
// Responses streams with golden files.
func TestRebuildGolden(t *testing.T) {
	acctFixedIDs(t)
	for _, tc := range []struct {
		name, input, request string
		json, passthrough    bool
		terminal             string // the last event's type; "" for a stream that must end without one
	}{
		{name: "text", input: "text.chunks.sse", terminal: "response.completed"},
		{name: "reasoning", input: "reasoning.chunks.sse", terminal: "response.completed"},
		{name: "two_tools", input: "two_tools.chunks.sse", request: "tool.request.json", terminal: "response.completed"},
		{name: "apply_patch", input: "apply_patch.chunks.sse", request: "apply_patch.request.json", terminal: "response.completed"},
		{name: "cut_mid_tool", input: "cut_mid_tool.chunks.sse", request: "tool.request.json"},
		{name: "error", input: "error.chunks.sse", terminal: "response.failed"},
		{name: "length", input: "length.chunks.sse", terminal: "response.incomplete"},
		{name: "json_answer", input: "json_answer.chunks.json", request: "tool.request.json", json: true, terminal: "response.completed"},
		{name: "compaction", input: "compaction.chunks.sse", request: "compaction.request.json", terminal: "response.completed"},
		{name: "passthrough", input: "text.chunks.sse", passthrough: true, terminal: "response.completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plan *Plan
			if tc.request != "" {
				plan = acctPlan(t, tc.request)
			}
			ct := "text/event-stream; charset=utf-8"
			if tc.json {
				ct = "application/json"
			}
			out := acctRebuild(t, acctRead(t, tc.input), ct, plan, RebuildOptions{Passthrough: tc.passthrough})
			acctGolden(t, tc.name+".golden.sse", out)
			evs := acctEvents(t, out)
			last := evs[len(evs)-1].Type
			switch {
			case tc.terminal == "":
				for _, e := range evs {
					if strings.HasPrefix(e.Type, "response.") && slices.Contains([]string{"response.completed", "response.failed", "response.incomplete"}, e.Type) {
						t.Errorf("a cut stream got %s", e.Type)
					}
					if e.Type == "response.output_item.done" || e.Type == "response.function_call_arguments.done" {
						t.Errorf("a cut tool call got %s", e.Type)
					}
				}
			case last != tc.terminal:
				t.Errorf("last event %s, want %s", last, tc.terminal)
			}
		})
	}
}

// acctChunk is a chat.completion.chunk SSE event with one choice.
func acctChunk(delta, finish string) string {
	if finish != "" {
		finish = `"` + finish + `"`
	} else {
		finish = "null"
	}
	return `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + "}]}\n\n"
}

const acctUsageChunk = `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}` + "\n\n"

// acctFinal is the terminal event of a rebuilt stream and its response.
func acctFinal(evs []acctEvent) (string, map[string]any) {
	for i := len(evs) - 1; i >= 0; i-- {
		switch evs[i].Type {
		case "response.completed", "response.incomplete", "response.failed":
			r, _ := evs[i].Data["response"].(map[string]any)
			return evs[i].Type, r
		}
	}
	return "", nil
}

// TestRebuildQuirks feeds the chunk shapes real chat-only providers send.
func TestRebuildQuirks(t *testing.T) {
	plan := acctPlan(t, "tool.request.json")
	for _, tc := range []struct {
		name   string
		stream string
		opts   RebuildOptions
		check  func(t *testing.T, evs []acctEvent)
	}{
		{"role-only chunk then EOF announces nothing", acctChunk(`{"role":"assistant","content":""}`, ""), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			if got := acctTypes(evs); !slices.Equal(got, []string{"response.created", "response.in_progress"}) {
				t.Errorf("events %q", got)
			}
		}},
		{"whole tool call in one chunk without index (Ollama)", acctChunk(`{"role":"assistant","content":"","tool_calls":[{"id":"call_o","function":{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}}]}`, "") + acctChunk(`{}`, "tool_calls") + acctUsageChunk, RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			acctWantOutput(t, evs, `function_call exec_command call_o {"cmd":"ls"}`)
		}},
		{"continuation without index or id continues the last call", acctChunk(`{"tool_calls":[{"id":"call_1","function":{"name":"exec_command","arguments":"{\"cmd\":"}}]}`, "") + acctChunk(`{"tool_calls":[{"function":{"arguments":"\"pwd\"}"}}]}`, "") + acctChunk(`{}`, "tool_calls"), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			acctWantOutput(t, evs, `function_call exec_command call_1 {"cmd":"pwd"}`)
		}},
		{"index reused with a new id is a new call", acctChunk(`{"tool_calls":[{"index":0,"id":"a","function":{"name":"exec_command","arguments":"{}"}}]}`, "") + acctChunk(`{"tool_calls":[{"index":0,"id":"b","function":{"name":"write_stdin","arguments":"{}"}}]}`, "tool_calls"), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			acctWantOutput(t, evs, `function_call exec_command a {}`, `function_call write_stdin b {}`)
		}},
		{"finish_reason stop with tool calls completes them", acctChunk(`{"tool_calls":[{"index":0,"id":"s","function":{"name":"exec_command","arguments":""}}]}`, "stop"), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			acctWantOutput(t, evs, `function_call exec_command s {}`)
		}},
		{"usage absent: completed at [DONE] with zeros", acctChunk(`{"content":"hi"}`, "stop") + "data: [DONE]\n\n", RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			typ, r := acctFinal(evs)
			u, _ := r["usage"].(map[string]any)
			if typ != "response.completed" || u["input_tokens"] != 0.0 || u["total_tokens"] != 0.0 {
				t.Errorf("%s usage %v", typ, u)
			}
		}},
		{"[DONE] missing: EOF after finish completes", acctChunk(`{"content":"hi"}`, "") + acctChunk(`{}`, "stop"), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			if typ, _ := acctFinal(evs); typ != "response.completed" {
				t.Errorf("terminal %q", typ)
			}
		}},
		{"usage in the finish chunk, cached and reasoning tokens", `data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_cache_hit_tokens":60,"completion_tokens_details":{"reasoning_tokens":5}}}` + "\n\n", RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			_, r := acctFinal(evs)
			b, _ := json.Marshal(r["usage"])
			if string(b) != `{"input_tokens":100,"input_tokens_details":{"cached_tokens":60},"output_tokens":20,"output_tokens_details":{"reasoning_tokens":5},"total_tokens":120}` {
				t.Errorf("usage %s", b)
			}
		}},
		{"reasoning field (vLLM, Ollama, OpenRouter)", acctChunk(`{"reasoning":"hmm","content":null}`, "") + acctChunk(`{"content":"ok"}`, "stop"), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			acctWantOutput(t, evs, "reasoning hmm", "message ok")
		}},
		{"a thinking model's straight answer leaves an empty reasoning item", acctChunk(`{"role":"assistant","content":null,"reasoning_content":""}`, "") + acctChunk(`{"content":"hi","reasoning_content":null}`, "stop"), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			_, r := acctFinal(evs)
			b, _ := json.Marshal(r["output"])
			if !strings.Contains(string(b), `"id":"rs_chat_`) || !strings.Contains(string(b), `"summary":[]`) {
				t.Errorf("output %s", b)
			}
		}},
		{"other choices are ignored", `data: {"choices":[{"index":1,"delta":{"content":"no"}},{"index":0,"delta":{"content":"yes"}}]}` + "\n\n" + acctChunk(`{}`, "stop"), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			acctWantOutput(t, evs, "message yes")
		}},
		{"an item past MaxEvent fails the answer", strings.Repeat(acctChunk(`{"content":"`+strings.Repeat("y", 150)+`"}`, ""), 3), RebuildOptions{MaxEvent: 300}, func(t *testing.T, evs []acctEvent) {
			typ, r := acctFinal(evs)
			if e, _ := r["error"].(map[string]any); typ != "response.failed" || e["code"] != "upstream_event_too_large" {
				t.Errorf("%s %v", typ, r["error"])
			}
		}},
		{"a chunk past MaxEvent fails the answer", acctChunk(`{"content":"`+strings.Repeat("x", 300)+`"}`, ""), RebuildOptions{MaxEvent: 200}, func(t *testing.T, evs []acctEvent) {
			if typ, _ := acctFinal(evs); typ != "response.failed" {
				t.Errorf("terminal %q", typ)
			}
		}},
		{"a chunk past MaxEvent fails a passed-through answer too", acctChunk(`{"content":"a"}`, "") + acctChunk(`{"content":"`+strings.Repeat("x", 300)+`"}`, ""), RebuildOptions{MaxEvent: 200, Passthrough: true}, func(t *testing.T, evs []acctEvent) {
			if typ, _ := acctFinal(evs); typ != "response.failed" {
				t.Errorf("terminal %q", typ)
			}
		}},
		{"numeric error code", `data: {"error":{"code":429,"message":"slow down"}}` + "\n\n", RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			_, r := acctFinal(evs)
			if e, _ := r["error"].(map[string]any); e["code"] != "429" || e["message"] != "slow down" {
				t.Errorf("error %v", r["error"])
			}
		}},
		{"flat error object (vLLM)", `data: {"object":"error","message":"max_tokens too large","type":"BadRequestError","code":400}` + "\n\n", RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			_, r := acctFinal(evs)
			if e, _ := r["error"].(map[string]any); e["code"] != "400" || e["message"] != "max_tokens too large" {
				t.Errorf("error %v", r["error"])
			}
		}},
		{"a JSON answer under an event-stream type", "{\n \"choices\": [{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"pretty\"},\"finish_reason\":\"stop\"}],\n\n \"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n", RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			acctWantOutput(t, evs, "message pretty")
		}},
		{"a context overflow in words becomes context_length_exceeded", `data: {"object":"error","message":"This model's maximum context length is 32768 tokens. However, you requested 40000 tokens.","type":"BadRequestError","code":400}` + "\n\n", RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			_, r := acctFinal(evs)
			if e, _ := r["error"].(map[string]any); e["code"] != "context_length_exceeded" {
				t.Errorf("error %v", r["error"])
			}
		}},
		{"keep-alive comments are skipped", ": keep-alive\n\n" + acctChunk(`{"content":"a"}`, "stop"), RebuildOptions{}, func(t *testing.T, evs []acctEvent) {
			acctWantOutput(t, evs, "message a")
		}},
		{"passthrough holds the terminal event for [DONE]", acctChunk(`{"content":"a"}`, "stop") + acctUsageChunk + "data: [DONE]\n\n", RebuildOptions{Passthrough: true}, func(t *testing.T, evs []acctEvent) {
			types := acctTypes(evs)
			if len(types) < 2 || types[len(types)-1] != "response.completed" || types[len(types)-2] != PassthroughEvent || string(evs[len(evs)-2].Raw) != "[DONE]" {
				t.Errorf("events %q", types)
			}
		}},
		{"passthrough adds the [DONE] a provider left out", acctChunk(`{"content":"a"}`, "stop"), RebuildOptions{Passthrough: true}, func(t *testing.T, evs []acctEvent) {
			if n := len(evs); n < 2 || string(evs[n-2].Raw) != "[DONE]" || evs[n-1].Type != "response.completed" {
				t.Errorf("events %q", acctTypes(evs))
			}
		}},
		{"passthrough error chunk passes, then fails", `data: {"error":{"message":"bad","code":"x"}}` + "\n\ndata: [DONE]\n\n", RebuildOptions{Passthrough: true}, func(t *testing.T, evs []acctEvent) {
			if got := acctTypes(evs); !slices.Equal(got, []string{"response.created", "response.in_progress", PassthroughEvent, PassthroughEvent, "response.failed"}) {
				t.Errorf("events %q", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := acctRebuild(t, []byte(tc.stream), "text/event-stream", plan, tc.opts)
			tc.check(t, acctEvents(t, out))
		})
	}
}

// acctWantOutput compares the completed response's output items, written
// as "message text", "reasoning summary", "function_call name call_id
// arguments", "custom_tool_call name call_id input".
func acctWantOutput(t *testing.T, evs []acctEvent, want ...string) {
	t.Helper()
	_, r := acctFinal(evs)
	items, _ := r["output"].([]any)
	var got []string
	for _, x := range items {
		it := x.(map[string]any)
		switch it["type"] {
		case "message":
			part := it["content"].([]any)[0].(map[string]any)
			got = append(got, "message "+part["text"].(string))
		case "reasoning":
			part := it["summary"].([]any)[0].(map[string]any)
			got = append(got, "reasoning "+part["text"].(string))
		case "function_call":
			got = append(got, "function_call "+it["name"].(string)+" "+it["call_id"].(string)+" "+it["arguments"].(string))
		case "custom_tool_call":
			got = append(got, "custom_tool_call "+it["name"].(string)+" "+it["call_id"].(string)+" "+it["input"].(string))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("output:\n got %q\nwant %q", got, want)
	}
}

// TestRebuildToolNamesRoundTrip checks that a call the provider makes by
// its flat name reaches Codex under the tool's own name and namespace, and
// that Codex's next request, which replays those items, names them flat
// again as the provider knows them.
func TestRebuildToolNamesRoundTrip(t *testing.T) {
	req := acctRead(t, "namespace.request.json")
	chat, plan, err := ResponsesToChat(req, ChatOptions{Model: "glm-4.6"})
	if err != nil {
		t.Fatal(err)
	}
	var sent acctChat
	if err := json.Unmarshal(chat, &sent); err != nil {
		t.Fatal(err)
	}
	var nav, exec string
	for _, tool := range sent.Tools {
		switch {
		case strings.HasPrefix(tool.Function.Name, "browser_navigate"):
			nav = tool.Function.Name
		case tool.Function.Name == "functions__exec":
			exec = tool.Function.Name
		}
	}
	if nav == "" || exec == "" || len(nav) > 64 {
		t.Fatalf("flat names %q %q", nav, exec)
	}
	stream := acctChunk(`{"tool_calls":[{"index":0,"id":"call_n","function":{"name":"`+nav+`","arguments":"{\"url\":\"https://example.org\"}"}},{"index":1,"id":"call_e","function":{"name":"`+exec+`","arguments":"{\"input\":\"ls -la\"}"}}]}`, "tool_calls") + acctUsageChunk
	evs := acctEvents(t, acctRebuild(t, []byte(stream), "text/event-stream", plan, RebuildOptions{}))
	_, r := acctFinal(evs)
	out, _ := json.Marshal(r["output"])
	var items []struct {
		Type, Name, Namespace, Input string
	}
	if err := json.Unmarshal(out, &items); err != nil || len(items) != 2 {
		t.Fatalf("output %s", out)
	}
	const ns = "mcp__a_rather_long_server_name_for_browser_automation__"
	if items[0].Type != "function_call" || items[0].Name != "browser_navigate_to_the_given_url_and_wait_for_load" || items[0].Namespace != ns {
		t.Errorf("first item %+v", items[0])
	}
	if items[1].Type != "custom_tool_call" || items[1].Name != "exec" || items[1].Namespace != "functions" || items[1].Input != "ls -la" {
		t.Errorf("second item %+v", items[1])
	}

	// The next turn replays the items with their outputs.
	var body map[string]json.RawMessage
	_ = json.Unmarshal(req, &body)
	var input []json.RawMessage
	_ = json.Unmarshal(body["input"], &input)
	var replay []json.RawMessage
	_ = json.Unmarshal(out, &replay)
	input = append(input, replay...)
	input = append(input, json.RawMessage(`{"type":"function_call_output","call_id":"call_n","output":"ok"}`), json.RawMessage(`{"type":"custom_tool_call_output","call_id":"call_e","output":"total 0"}`))
	body["input"], _ = json.Marshal(input)
	next, _ := json.Marshal(body)
	chat2, _, err := ResponsesToChat(next, ChatOptions{Model: "glm-4.6"})
	if err != nil {
		t.Fatal(err)
	}
	var sent2 acctChat
	_ = json.Unmarshal(chat2, &sent2)
	var names []string
	for _, m := range sent2.Messages {
		for _, c := range m.ToolCalls {
			if c.ID == "call_n" || c.ID == "call_e" {
				names = append(names, c.Function.Name+" "+c.Function.Arguments)
			}
		}
	}
	if want := []string{nav + ` {"url":"https://example.org"}`, exec + ` {"input":"ls -la"}`}; !slices.Equal(names, want) {
		t.Errorf("replayed calls %q, want %q", names, want)
	}
}

// TestRebuildIsLazy checks that events leave as soon as their chunk has
// come: the upstream is a pipe that sends its second half only after the
// first delta has been read.
func TestRebuildIsLazy(t *testing.T) {
	pr, pw := io.Pipe()
	more := make(chan struct{})
	go func() {
		_, _ = io.WriteString(pw, acctChunk(`{"role":"assistant","content":"Hello"}`, ""))
		<-more
		_, _ = io.WriteString(pw, acctChunk(`{}`, "stop")+acctUsageChunk)
		_ = pw.Close()
	}()
	rc := Rebuild(pr, "text/event-stream", nil, RebuildOptions{})
	defer rc.Close()
	var got []byte
	buf := make([]byte, 512)
	for !bytes.Contains(got, []byte(`"delta":"Hello"`)) {
		n, err := rc.Read(buf)
		if err != nil {
			t.Fatalf("read before the delta: %v", err)
		}
		got = append(got, buf[:n]...)
	}
	close(more)
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rest, []byte("response.completed")) {
		t.Errorf("no completion after the rest came: %s", rest)
	}
}

// TestRebuildReadError checks that a broken upstream ends the rebuilt
// stream with the error and no terminal event.
func TestRebuildReadError(t *testing.T) {
	boom := errors.New("connection reset")
	body := io.MultiReader(strings.NewReader(acctChunk(`{"content":"a"}`, "")), acctErrReader{boom})
	rc := Rebuild(io.NopCloser(body), "text/event-stream", nil, RebuildOptions{})
	out, err := io.ReadAll(rc)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the upstream's", err)
	}
	if bytes.Contains(out, []byte("response.completed")) || bytes.Contains(out, []byte("output_item.done")) {
		t.Errorf("a broken stream completed: %s", out)
	}
}

type acctErrReader struct{ err error }

func (r acctErrReader) Read([]byte) (int, error) { return 0, r.err }

// TestRebuildCloseClosesBody checks that Close reaches the upstream body.
func TestRebuildCloseClosesBody(t *testing.T) {
	b := &acctCloser{Reader: strings.NewReader("")}
	if err := Rebuild(b, "", nil, RebuildOptions{}).Close(); err != nil || !b.closed {
		t.Errorf("closed %v err %v", b.closed, err)
	}
}

type acctCloser struct {
	io.Reader
	closed bool
}

func (c *acctCloser) Close() error { c.closed = true; return nil }

func TestChatUsage(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Usage
		ok         bool
	}{
		{"openai", `{"usage":{"prompt_tokens":10,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":2}}}`, Usage{10, 8, 4, 2}, true},
		{"deepseek cache hits", `{"usage":{"prompt_tokens":10,"completion_tokens":4,"prompt_cache_hit_tokens":6,"prompt_cache_miss_tokens":4}}`, Usage{10, 6, 4, 0}, true},
		{"kimi top-level cached_tokens", `{"usage":{"prompt_tokens":10,"completion_tokens":4,"cached_tokens":3}}`, Usage{10, 3, 4, 0}, true},
		{"none", `{"id":"x"}`, Usage{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ChatUsage([]byte(tc.body))
			if got != tc.want || ok != tc.ok {
				t.Errorf("ChatUsage = %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
