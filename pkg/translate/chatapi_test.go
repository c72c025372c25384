package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestResponsesToChatGolden translates captured-shape Codex requests and
// compares the chat requests with golden files.
func TestResponsesToChatGolden(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    ChatOptions
		dropped []string
	}{
		{"plain", ChatOptions{Model: "deepseek-chat"}, []string{"tool:web_search", "tool:tool_search", "item:reasoning"}},
		{"tool", ChatOptions{Model: "deepseek-chat"}, []string{"tool:web_search", "tool:tool_search", "item:reasoning", "item:orphan_function_call_output", "item:local_shell_call", "item:web_search_call"}},
		{"apply_patch", ChatOptions{Model: "deepseek-reasoner"}, []string{"tool:web_search", "tool:tool_search"}},
		{"namespace", ChatOptions{}, nil},
		{"compaction", ChatOptions{Model: "kimi-k2"}, []string{"tool:web_search", "tool:tool_search", "item:compaction"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, plan, err := ResponsesToChat(acctRead(t, tc.name+".request.json"), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", " "); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			pretty.WriteByte('\n')
			acctGolden(t, tc.name+".chat.golden.json", pretty.Bytes())
			if !slices.Equal(plan.Dropped(), tc.dropped) {
				t.Errorf("Dropped() = %q, want %q", plan.Dropped(), tc.dropped)
			}
			if plan.Compaction() != (tc.name == "compaction") {
				t.Errorf("Compaction() = %v", plan.Compaction())
			}
		})
	}
}

// acctChat is the part of a chat request the mapping tests look at.
type acctChat struct {
	Model    string `json:"model"`
	Messages []struct {
		Role             string          `json:"role"`
		Content          json.RawMessage `json:"content"`
		ReasoningContent string          `json:"reasoning_content"`
		ToolCallID       string          `json:"tool_call_id"`
		ToolCalls        []struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
			Strict      bool            `json:"strict"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	Parallel            json.RawMessage `json:"parallel_tool_calls"`
	ResponseFormat      json.RawMessage `json:"response_format"`
	ReasoningEffort     string          `json:"reasoning_effort"`
	MaxTokens           json.RawMessage `json:"max_tokens"`
	MaxCompletionTokens json.RawMessage `json:"max_completion_tokens"` // a client's; the account half writes max_tokens
	Temperature         json.RawMessage `json:"temperature"`
	TopP                json.RawMessage `json:"top_p"`
	Stream              bool            `json:"stream"`
	StreamOptions       map[string]bool `json:"stream_options"`
}

// TestResponsesToChatMapping checks one mapping per case.
func TestResponsesToChatMapping(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		check func(t *testing.T, c acctChat)
	}{
		{"string input is a user message", `{"model":"m","input":"hi"}`, func(t *testing.T, c acctChat) {
			acctWantMessages(t, c, "user:hi")
		}},
		{"instructions and leading developer messages merge into one system message", `{"model":"m","instructions":"A","input":[{"type":"message","role":"developer","content":"B"},{"type":"message","role":"system","content":[{"type":"input_text","text":"C"}]},{"role":"user","content":"u"},{"type":"message","role":"developer","content":"later"}]}`, func(t *testing.T, c acctChat) {
			acctWantMessages(t, c, "system:A\n\nB\n\nC", "user:u", "system:later")
		}},
		{"text parts join with a blank line", `{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]}]}`, func(t *testing.T, c acctChat) {
			acctWantMessages(t, c, "user:a\n\nb")
		}},
		{"escapes pass through untouched", `{"model":"m","input":[{"role":"user","content":"q\"\\\n\u00e9\ud83d\ude00"}]}`, func(t *testing.T, c acctChat) {
			acctWantMessages(t, c, "user:q\"\\\né😀")
		}},
		{"an image makes user content parts", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"see"},{"type":"input_image","image_url":"https://x/y.png","detail":"low"}]}]}`, func(t *testing.T, c acctChat) {
			if got := string(c.Messages[0].Content); got != `[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]` {
				t.Errorf("content = %s", got)
			}
		}},
		{"assistant text and the calls after it are one message", `{"model":"m","input":[{"role":"user","content":"u"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"t"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call","call_id":"c2","name":"f","arguments":"{\"a\":1}"},{"type":"function_call_output","call_id":"c1","output":"o1"},{"type":"function_call_output","call_id":"c2","output":"o2"}],"tools":[{"type":"function","name":"f"}]}`, func(t *testing.T, c acctChat) {
			acctWantMessages(t, c, "user:u", "assistant:t[c1 f {}][c2 f {\"a\":1}]", "tool(c1):o1", "tool(c2):o2")
		}},
		{"a call without output gets a stand-in, an output without call is dropped", `{"model":"m","input":[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"zz","output":"x"},{"role":"user","content":"u"}]}`, func(t *testing.T, c acctChat) {
			acctWantMessages(t, c, "assistant:[c1 f {}]", "tool(c1):aborted: the call got no output", "user:u")
		}},
		{"a message between calls and their outputs waits for the outputs", `{"model":"m","input":[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"role":"user","content":"notice"},{"type":"message","role":"assistant","content":"more"},{"type":"function_call_output","call_id":"c1","output":"o1"},{"role":"user","content":"next"}]}`, func(t *testing.T, c acctChat) {
			acctWantMessages(t, c, "assistant:[c1 f {}]", "tool(c1):o1", "user:notice", "assistant:more", "user:next")
		}},
		{"custom tool call becomes a function call with input", `{"model":"m","input":[{"type":"custom_tool_call","call_id":"p","name":"apply_patch","input":"*** Begin Patch\n\"x\""},{"type":"custom_tool_call_output","call_id":"p","output":"ok"}],"tools":[{"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}}]}`, func(t *testing.T, c acctChat) {
			acctWantMessages(t, c, "assistant:[p apply_patch {\"input\":\"*** Begin Patch\\n\\\"x\\\"\"}]", "tool(p):ok")
			if !strings.Contains(string(c.Tools[0].Function.Parameters), `lark grammar:\nstart: x`) {
				t.Errorf("parameters = %s", c.Tools[0].Function.Parameters)
			}
		}},
		{"our reasoning replays as reasoning_content, another backend's is dropped", `{"model":"m","input":[{"type":"reasoning","id":"rs_other","summary":[{"type":"summary_text","text":"no"}],"encrypted_content":"x"},{"type":"reasoning","id":"rs_chat_1_2","summary":[{"type":"summary_text","text":"think"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"o"}]}`, func(t *testing.T, c acctChat) {
			if c.Messages[0].ReasoningContent != "think" {
				t.Errorf("reasoning_content = %q", c.Messages[0].ReasoningContent)
			}
		}},
		{"with reasoning of ours, every assistant message carries reasoning_content", `{"model":"m","input":[{"role":"user","content":"a"},{"type":"reasoning","id":"rs_chat_1_1","summary":[]},{"type":"message","role":"assistant","content":"b"},{"role":"user","content":"c"},{"type":"message","role":"assistant","content":"d"}]}`, func(t *testing.T, c acctChat) {
			if bytes.Count(acctLastOut, []byte(`"reasoning_content":""`)) != 2 {
				t.Errorf("out %s", acctLastOut)
			}
		}},
		{"tool output images move to a user message after the tool messages", `{"model":"m","input":[{"type":"function_call","call_id":"a","name":"f","arguments":"{}"},{"type":"function_call","call_id":"b","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"a","output":[{"type":"input_text","text":"shot"},{"type":"input_image","image_url":"data:image/png;base64,AA"}]},{"type":"function_call_output","call_id":"b","output":"x"},{"role":"user","content":"u"}]}`, func(t *testing.T, c acctChat) {
			if len(c.Messages) != 5 || c.Messages[3].Role != "user" || !strings.Contains(string(c.Messages[3].Content), "image_url") {
				t.Errorf("messages = %+v", c.Messages)
			}
		}},
		{"tool_choice object names the flat function", `{"model":"m","input":"x","tools":[{"type":"namespace","name":"ns","tools":[{"type":"function","name":"f"}]}],"tool_choice":{"type":"function","namespace":"ns","name":"f"}}`, func(t *testing.T, c acctChat) {
			if string(c.ToolChoice) != `{"type":"function","function":{"name":"ns__f"}}` {
				t.Errorf("tool_choice = %s", c.ToolChoice)
			}
		}},
		{"a tool in tools and in additional_tools is declared once", `{"model":"m","input":[{"type":"additional_tools","tools":[{"type":"function","name":"f","description":"second"}]},{"role":"user","content":"x"}],"tools":[{"type":"function","name":"f","description":"first"}]}`, func(t *testing.T, c acctChat) {
			if len(c.Tools) != 1 || c.Tools[0].Function.Description != "first" {
				t.Errorf("tools %+v", c.Tools)
			}
		}},
		{"no tools, no tool_choice", `{"model":"m","input":"x","tools":[{"type":"web_search"}],"tool_choice":"auto","parallel_tool_calls":true}`, func(t *testing.T, c acctChat) {
			if c.ToolChoice != nil || c.Tools != nil {
				t.Errorf("tool_choice %s tools %v", c.ToolChoice, c.Tools)
			}
		}},
		{"text.format json_object, effort, max_output_tokens", `{"model":"m","input":"x","text":{"format":{"type":"json_object"}},"reasoning":{"effort":"high"},"max_output_tokens":100}`, func(t *testing.T, c acctChat) {
			if string(c.ResponseFormat) != `{"type":"json_object"}` || c.ReasoningEffort != "high" || string(c.MaxTokens) != "100" {
				t.Errorf("got %s %q %s", c.ResponseFormat, c.ReasoningEffort, c.MaxTokens)
			}
		}},
		{"stream and usage always asked for", `{"model":"m","input":"x","stream":false}`, func(t *testing.T, c acctChat) {
			if !c.Stream || !c.StreamOptions["include_usage"] {
				t.Errorf("stream %v options %v", c.Stream, c.StreamOptions)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := ResponsesToChat([]byte(tc.body), ChatOptions{})
			if err != nil {
				t.Fatal(err)
			}
			acctLastOut = out
			var c acctChat
			if err := json.Unmarshal(out, &c); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			tc.check(t, c)
		})
	}
}

// acctLastOut is the chat request of the mapping case being checked.
var acctLastOut []byte

// acctWantMessages compares messages written as "role:content", with tool
// calls as "[id name arguments]" and a tool message as "tool(id):content".
func acctWantMessages(t *testing.T, c acctChat, want ...string) {
	t.Helper()
	var got []string
	for _, m := range c.Messages {
		var content string
		_ = json.Unmarshal(m.Content, &content)
		s := m.Role
		if m.ToolCallID != "" {
			s += "(" + m.ToolCallID + ")"
		}
		s += ":" + content
		for _, tc := range m.ToolCalls {
			s += "[" + tc.ID + " " + tc.Function.Name + " " + tc.Function.Arguments + "]"
		}
		got = append(got, s)
	}
	if !slices.Equal(got, want) {
		t.Errorf("messages:\n got %q\nwant %q", got, want)
	}
}

func TestResponsesToChatErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, param string
	}{
		{"not an object", `[1]`, ""},
		{"no model", `{"input":"x"}`, "model"},
		{"input not a list of objects", `{"model":"m","input":[1]}`, "input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ResponsesToChat([]byte(tc.body), ChatOptions{})
			var e *Error
			if !errors.As(err, &e) || e.Param != tc.param {
				t.Fatalf("err = %v, want an *Error for %q", err, tc.param)
			}
		})
	}
}

// TestResponsesToChatModel checks that ChatOptions.Model replaces the
// client's model and the plan keeps the client's.
func TestResponsesToChatModel(t *testing.T) {
	out, plan, err := ResponsesToChat([]byte(`{"model":"gpt-5.5","input":"x"}`), ChatOptions{Model: "deepseek-chat"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte(`{"model":"deepseek-chat",`)) || plan.Model() != "gpt-5.5" {
		t.Errorf("out %s, plan model %q", out, plan.Model())
	}
}
