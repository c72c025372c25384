package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// TestChatToResponsesGolden translates the bodies real clients send (the
// official openai Node SDK and the Vercel AI SDK, captured against a local
// server) and compares the Responses body and what was learned with
// testdata/front/requests/*.responses.json.
func TestChatToResponsesGolden(t *testing.T) {
	for _, in := range frontGlob(t, "requests/*.chat.json") {
		name := strings.TrimSuffix(in, ".chat.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			out, req, err := ChatToResponses(body)
			if err != nil {
				t.Fatalf("ChatToResponses: %v", err)
			}
			reqJSON, _ := json.Marshal(req)
			golden := fmt.Appendf(nil, `{"request":%s,"body":%s}`, reqJSON, out)
			frontGolden(t, name+".responses.json", frontIndent(t, golden))
		})
	}
}

// frontMember is the compact raw JSON of the top-level member name of out.
func frontMember(t *testing.T, out []byte, name string) string {
	t.Helper()
	v := jsonscan.Member(out, name)
	if v == nil {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestChatToResponsesMappings(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	body := func(extra string, msgs ...string) string {
		if len(msgs) == 0 {
			msgs = []string{user}
		}
		return `{"model":"gpt-5","messages":[` + strings.Join(msgs, ",") + `]` + extra + `}`
	}
	tests := []struct {
		name, body, member, want string
	}{
		{"system becomes developer", body("", `{"role":"system","content":"be brief"}`, user), "input",
			`[{"type":"message","role":"developer","content":[{"type":"input_text","text":"be brief"}]},{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]`},
		{"developer stays developer", body("", `{"role":"developer","content":[{"type":"text","text":"rules"}]}`), "input",
			`[{"type":"message","role":"developer","content":[{"type":"input_text","text":"rules"}]}]`},
		{"string content copied raw with escapes", body("", `{"role":"user","content":"a\"b\\u00e9\n"}`), "input",
			`[{"type":"message","role":"user","content":[{"type":"input_text","text":"a\"b\\u00e9\n"}]}]`},
		{"image_url with detail", body("", `{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"high"}}]}`), "input",
			`[{"type":"message","role":"user","content":[{"type":"input_image","image_url":"https://x/a.png","detail":"high"}]}]`},
		{"image_url without detail is auto", body("", `{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}`), "input",
			`[{"type":"message","role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,AA==","detail":"auto"}]}]`},
		{"image_url as a bare string", body("", `{"role":"user","content":[{"type":"image_url","image_url":"https://x/a.png"}]}`), "input",
			`[{"type":"message","role":"user","content":[{"type":"input_image","image_url":"https://x/a.png","detail":"auto"}]}]`},
		{"file part", body("", `{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,AA==","filename":"a.pdf"}}]}`), "input",
			`[{"type":"message","role":"user","content":[{"type":"input_file","file_data":"data:application/pdf;base64,AA==","filename":"a.pdf"}]}]`},
		{"assistant text", body("", user, `{"role":"assistant","content":"hello"}`), "input",
			`[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hello"}]}]`},
		{"assistant text parts and refusal", body("", `{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"refusal","refusal":"no"}]}`), "input",
			`[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"a"},{"type":"refusal","refusal":"no"}]}]`},
		{"assistant refusal field", body("", `{"role":"assistant","content":null,"refusal":"I can't"}`), "input",
			`[{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"I can't"}]}]`},
		{"assistant tool calls without text get no message item", body("", `{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"c2","type":"function","function":{"name":"g","arguments":""}}]}`), "input",
			`[{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"},{"type":"function_call","call_id":"c2","name":"g","arguments":"{}"}]`},
		{"assistant text then tool call", body("", `{"role":"assistant","content":"let me look","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}`), "input",
			`[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"let me look"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}]`},
		{"custom tool call", body("", `{"role":"assistant","tool_calls":[{"id":"c1","type":"custom","custom":{"name":"apply_patch","input":"*** Begin Patch"}}]}`), "input",
			`[{"type":"custom_tool_call","call_id":"c1","name":"apply_patch","input":"*** Begin Patch"}]`},
		{"tool message", body("", `{"role":"tool","tool_call_id":"c1","content":"42"}`), "input",
			`[{"type":"function_call_output","call_id":"c1","output":"42"}]`},
		{"tool message with text parts", body("", `{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"4"},{"type":"text","text":"2"}]}`), "input",
			`[{"type":"function_call_output","call_id":"c1","output":[{"type":"input_text","text":"4"},{"type":"input_text","text":"2"}]}]`},
		{"function tool flattened, strict false by default", body(`,"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{}}}}]`), "tools",
			`[{"type":"function","name":"f","description":"d","parameters":{"type":"object","properties":{}},"strict":false}]`},
		{"function tool strict kept", body(`,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":true}}]`), "tools",
			`[{"type":"function","name":"f","parameters":{"type":"object"},"strict":true}]`},
		{"function tool without parameters", body(`,"tools":[{"type":"function","function":{"name":"now"}}]`), "tools",
			`[{"type":"function","name":"now","parameters":{"type":"object","properties":{}},"strict":false}]`},
		{"custom tool", body(`,"tools":[{"type":"custom","custom":{"name":"apply_patch","description":"patch","format":{"type":"text"}}}]`), "tools",
			`[{"type":"custom","name":"apply_patch","description":"patch","format":{"type":"text"}}]`},
		{"tool_choice auto", body(`,"tool_choice":"auto"`), "tool_choice", `"auto"`},
		{"tool_choice none", body(`,"tool_choice":"none"`), "tool_choice", `"none"`},
		{"tool_choice required", body(`,"tool_choice":"required"`), "tool_choice", `"required"`},
		{"tool_choice named function", body(`,"tool_choice":{"type":"function","function":{"name":"f"}}`), "tool_choice", `{"type":"function","name":"f"}`},
		{"tool_choice allowed_tools", body(`,"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"f"}}]}}`), "tool_choice",
			`{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"f"}]}`},
		{"parallel_tool_calls", body(`,"parallel_tool_calls":false`), "parallel_tool_calls", `false`},
		{"json_object", body(`,"response_format":{"type":"json_object"}`), "text", `{"format":{"type":"json_object"}}`},
		{"json_schema flattened", body(`,"response_format":{"type":"json_schema","json_schema":{"name":"a","description":"d","schema":{"type":"object"},"strict":true}}`), "text",
			`{"format":{"type":"json_schema","name":"a","description":"d","schema":{"type":"object"},"strict":true}}`},
		{"response_format text and verbosity", body(`,"response_format":{"type":"text"},"verbosity":"low"`), "text", `{"format":{"type":"text"},"verbosity":"low"}`},
		{"reasoning_effort", body(`,"reasoning_effort":"high"`), "reasoning", `{"effort":"high"}`},
		{"max_tokens", body(`,"max_tokens":300`), "max_output_tokens", `300`},
		{"max_completion_tokens wins over max_tokens", body(`,"max_tokens":300,"max_completion_tokens":500`), "max_output_tokens", `500`},
		{"max_tokens raised to the minimum", body(`,"max_tokens":1`), "max_output_tokens", `16`},
		{"temperature", body(`,"temperature":0.2`), "temperature", `0.2`},
		{"top_p", body(`,"top_p":0.9`), "top_p", `0.9`},
		{"prompt_cache_key", body(`,"prompt_cache_key":"conv-1"`), "prompt_cache_key", `"conv-1"`},
		{"metadata", body(`,"metadata":{"k":"v"}`), "metadata", `{"k":"v"}`},
		{"store false even when asked true", body(`,"store":true`), "store", `false`},
		{"stream true even when asked false", body(`,"stream":false`), "stream", `true`},
		{"user not sent upstream", body(`,"user":"u1"`), "user", ``},
		{"stop not sent upstream", body(`,"stop":["\n"]`), "stop", ``},
		{"null members are absent", body(`,"tools":null,"tool_choice":null,"temperature":null`), "tools", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := ChatToResponses([]byte(tt.body))
			if err != nil {
				t.Fatalf("ChatToResponses: %v", err)
			}
			if !json.Valid(out) {
				t.Fatalf("output is not JSON: %s", out)
			}
			if got := frontMember(t, out, tt.member); got != tt.want {
				t.Errorf("%s\n got: %s\nwant: %s", tt.member, got, tt.want)
			}
		})
	}
}

func TestChatToResponsesRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want ChatRequest
	}{
		{"plain", `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`, ChatRequest{Model: "gpt-5"}},
		{"stream with usage and user", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"user":"u-1","messages":[{"role":"user","content":"hi"}]}`,
			ChatRequest{Model: "m", Stream: true, IncludeUsage: true, User: "u-1"}},
		{"defaults ask nothing native", `{"model":"m","n":1,"logprobs":false,"top_logprobs":0,"modalities":["text"],"audio":null,"messages":[{"role":"user","content":"hi"}]}`,
			ChatRequest{Model: "m"}},
		{"n above one", `{"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]}`, ChatRequest{Model: "m", NativeOnly: []string{"n"}}},
		{"logprobs", `{"model":"m","logprobs":true,"top_logprobs":3,"messages":[{"role":"user","content":"hi"}]}`, ChatRequest{Model: "m", NativeOnly: []string{"logprobs", "top_logprobs"}}},
		{"audio output", `{"model":"m","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},"messages":[{"role":"user","content":"hi"}]}`,
			ChatRequest{Model: "m", NativeOnly: []string{"modalities", "audio"}}},
		{"legacy functions", `{"model":"m","functions":[{"name":"f"}],"function_call":"auto","messages":[{"role":"user","content":"hi"}]}`,
			ChatRequest{Model: "m", NativeOnly: []string{"functions", "function_call"}}},
		{"audio input part", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"transcribe"},{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}}]}]}`,
			ChatRequest{Model: "m", NativeOnly: []string{"input_audio"}}},
		{"web search", `{"model":"m","web_search_options":{},"messages":[{"role":"user","content":"hi"}]}`, ChatRequest{Model: "m", NativeOnly: []string{"web_search_options"}}},
		{"dropped with notes", `{"model":"m","stop":"\n","seed":7,"prediction":{"type":"content","content":"x"},"frobnicate":1,"messages":[{"role":"user","content":"hi"}]}`,
			ChatRequest{Model: "m", Notes: []string{frontDropped["stop"], frontDropped["seed"], frontDropped["prediction"], "frobnicate dropped: not a Chat Completions field the translation knows"}}},
		{"empty stop is no note", `{"model":"m","stop":[],"messages":[{"role":"user","content":"hi"}]}`, ChatRequest{Model: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, req, err := ChatToResponses([]byte(tt.body))
			if err != nil {
				t.Fatalf("ChatToResponses: %v", err)
			}
			if len(out) == 0 {
				t.Error("no body: a native-only request still gets one")
			}
			if !reflect.DeepEqual(req, tt.want) {
				t.Errorf("request\n got: %+v\nwant: %+v", req, tt.want)
			}
		})
	}
}

func TestChatToResponsesRefusals(t *testing.T) {
	msg := func(m string) string { return `{"model":"m","messages":[` + m + `]}` }
	tests := []struct {
		name, body, param string
	}{
		{"not JSON", `{"model":`, ""},
		{"not an object", `["model"]`, ""},
		{"no model", `{"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{"model not a string", `{"model":5,"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{"no messages", `{"model":"m"}`, "messages"},
		{"messages not an array", `{"model":"m","messages":{"role":"user"}}`, "messages"},
		{"messages empty", `{"model":"m","messages":[]}`, "messages"},
		{"message not an object", msg(`"hi"`), "messages[0]"},
		{"message without role", msg(`{"role":"user","content":"a"},{"content":"hi"}`), "messages[1].role"},
		{"unknown role", msg(`{"role":"robot","content":"hi"}`), "messages[0].role"},
		{"deprecated function role", msg(`{"role":"function","name":"f","content":"1"}`), "messages[0].role"},
		{"user without content", msg(`{"role":"user"}`), "messages[0].content"},
		{"content a number", msg(`{"role":"user","content":5}`), "messages[0].content"},
		{"part without type", msg(`{"role":"user","content":[{"text":"a"}]}`), "messages[0].content[0].type"},
		{"unknown part type", msg(`{"role":"user","content":[{"type":"text","text":"a"},{"type":"video","video":{}}]}`), "messages[0].content[1].type"},
		{"text part without text", msg(`{"role":"user","content":[{"type":"text"}]}`), "messages[0].content[0].text"},
		{"image without url", msg(`{"role":"user","content":[{"type":"image_url","image_url":{}}]}`), "messages[0].content[0].image_url.url"},
		{"image in a system message", msg(`{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]}`), "messages[0].content[0].type"},
		{"assistant image part", msg(`{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"x"}}]}`), "messages[0].content[0].type"},
		{"tool call without id", msg(`{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}`), "messages[0].tool_calls[0].id"},
		{"tool call without name", msg(`{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}`), "messages[0].tool_calls[0].function.name"},
		{"tool call arguments an object", msg(`{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}`), "messages[0].tool_calls[0].function.arguments"},
		{"tool message without tool_call_id", msg(`{"role":"tool","content":"1"}`), "messages[0].tool_call_id"},
		{"tool of unknown type", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search"}]}`, "tools[0].type"},
		{"function tool without name", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{}}]}`, "tools[0].function.name"},
		{"bad tool_choice", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"always"}`, "tool_choice"},
		{"bad response_format", `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}}`, "response_format.type"},
		{"json_schema without name", `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"schema":{}}}}`, "response_format.json_schema.name"},
		{"max_tokens not a number", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"5"}`, "max_tokens"},
		{"stream not a boolean", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, "stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := ChatToResponses([]byte(tt.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error; out %s", err, err, out)
			}
			if e.Param != tt.param {
				t.Errorf("Param = %q, want %q (message %q)", e.Param, tt.param, e.Message)
			}
			if e.Message == "" || e.Code == "" {
				t.Errorf("empty message or code: %+v", e)
			}
			if out != nil {
				t.Errorf("out = %s, want nil", out)
			}
		})
	}
}

// frontConversation is a chat request of about size bytes: a long coding
// conversation of user turns, assistant tool calls and tool outputs.
func frontConversation(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"gpt-5.5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are a coding agent."}`)
	tools := `,"tools":[{"type":"function","function":{"name":"shell","description":"Run a command","parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}}}]`
	out := strings.Repeat(`ok  \tgithub.com/x/y\t0.1s\n`, 40)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `,{"role":"user","content":"turn %d: please fix the failing test in pkg/foo"}`, i)
		fmt.Fprintf(&b, `,{"role":"assistant","content":null,"tool_calls":[{"id":"call_%d","type":"function","function":{"name":"shell","arguments":"{\"cmd\":\"go test ./...\"}"}}]}`, i)
		fmt.Fprintf(&b, `,{"role":"tool","tool_call_id":"call_%d","content":"%s"}`, i, out)
		fmt.Fprintf(&b, `,{"role":"assistant","content":"Fixed: the test passes now."}`)
	}
	b.WriteString(`]` + tools + `}`)
	return b.Bytes()
}

func TestFrontConversationTranslates(t *testing.T) {
	body := frontConversation(64 << 10)
	if !json.Valid(body) {
		t.Fatal("the benchmark's conversation is not JSON")
	}
	out, _, err := ChatToResponses(body)
	if err != nil || !json.Valid(out) {
		t.Fatalf("err %v, valid %v", err, json.Valid(out))
	}
}

func BenchmarkChatToResponses(b *testing.B) {
	body := frontConversation(1 << 20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ChatToResponses(body); err != nil {
			b.Fatal(err)
		}
	}
}
