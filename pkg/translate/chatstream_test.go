package translate

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// frontEvents splits a Responses SSE stream into its events as the relay
// passes them on.
func frontEvents(t testing.TB, stream []byte) [][]byte {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(stream))
	var events [][]byte
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return events
		}
		if err != nil {
			t.Fatal(err)
		}
		if sse.Type(ev) != "" {
			events = append(events, append([]byte(nil), ev...))
		}
	}
}

// frontRun feeds events one call each and returns what the client reads.
func frontRun(req ChatRequest, events [][]byte) []byte {
	s := NewChatStream(req)
	var out []byte
	for _, ev := range events {
		out = append(out, s.Event(ev)...)
	}
	return out
}

// frontGatherRun builds the chat.completion the relay answers a
// non-streaming client with: every event through ChatGather, then the
// terminal event's response object.
func frontGatherRun(t *testing.T, events [][]byte) ([]byte, error) {
	t.Helper()
	var g ChatGather
	for _, ev := range events {
		g.Event(ev)
		switch sse.Type(ev) {
		case "response.completed", "response.incomplete", "response.failed":
			return g.Completion(jsonscan.Member(sse.Data(ev), "response"))
		}
	}
	return nil, errors.New("no terminal event")
}

// frontStreamReq is the request a golden stream answers: one whose name
// says "usage" asked for the usage chunk.
func frontStreamReq(name string) ChatRequest {
	return ChatRequest{Model: "gpt-5.5", Stream: true, IncludeUsage: strings.Contains(name, "usage")}
}

// TestChatStreamGolden translates captured and hand-made Responses streams
// (testdata/front/streams/*.sse: fake-* are pkg/fakeupstream's, captured
// by TestChatStreamFake -update; chatgpt-* have the ChatGPT backend's
// shapes) event by event, and all at once as the relay writes a held
// opening, and compares the chat stream and the gathered chat.completion
// with their golden files.
func TestChatStreamGolden(t *testing.T) {
	for _, in := range frontGlob(t, "streams/*.sse") {
		if strings.HasSuffix(in, ".chat.sse") {
			continue
		}
		name := strings.TrimSuffix(in, ".sse")
		t.Run(name, func(t *testing.T) {
			stream, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			req := frontStreamReq(name)
			events := frontEvents(t, stream)
			out := frontRun(req, events)
			frontGolden(t, name+".chat.sse", out)

			whole := NewChatStream(req).Event(stream)
			if !bytes.Equal(whole, out) {
				t.Errorf("all events in one call differ from one by one:\n%s\nvs\n%s", whole, out)
			}
			chunks := frontChunks(t, out)
			if chunks[len(chunks)-1] != nil {
				t.Errorf("the stream does not end with [DONE]")
			}

			completion, err := frontGatherRun(t, events)
			if err != nil {
				frontGolden(t, name+".completion.json", []byte("error: "+err.Error()+"\n"))
				return
			}
			frontGolden(t, name+".completion.json", frontIndent(t, completion))
		})
	}
}

// TestChatStreamFake runs the front door's chain against pkg/fakeupstream:
// the chat request translated by ChatToResponses, the fake's real-shaped
// stream translated back by ChatStream. With -update it stores the streams
// as testdata for TestChatStreamGolden.
func TestChatStreamFake(t *testing.T) {
	clock := func() time.Time { return time.Unix(1765100000, 0) }
	tests := []struct {
		name     string
		opts     []fakeupstream.Option
		include  bool // ask for reasoning items, as Codex does, to get a reasoning stream
		content  string
		toolName string
	}{
		{"text-usage", nil, false, "Hello from acct.", ""},
		{"toolcall-usage", []fakeupstream.Option{fakeupstream.WithToolCall("get_weather", `{"city":"Paris"}`)}, false, "", "get_weather"},
		{"reasoning", nil, true, "Hello from acct.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := fakeupstream.New("acct", append([]fakeupstream.Option{fakeupstream.WithClock(clock)}, tt.opts...)...)
			srv := httptest.NewServer(up)
			defer srv.Close()
			defer up.Close()

			chat := `{"model":"gpt-5.5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`
			body, req, err := ChatToResponses([]byte(chat))
			if err != nil {
				t.Fatal(err)
			}
			if tt.include {
				body, _ = jsonscan.Set(body, "include", `["reasoning.encrypted_content"]`)
			}
			resp, err := http.Post(srv.URL+"/v1/responses", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			stream, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, err %v: %s", resp.StatusCode, err, stream)
			}
			if frontUpdate() {
				if err := os.WriteFile("testdata/front/streams/fake-"+tt.name+".sse", stream, 0o644); err != nil {
					t.Fatal(err)
				}
			}

			out := frontRun(req, frontEvents(t, stream))
			var content, reasoning, name, args string
			chunks := frontChunks(t, out)
			for _, c := range chunks[:len(chunks)-1] {
				if c["object"] != "chat.completion.chunk" || !strings.HasPrefix(c["id"].(string), "chatcmpl-") || c["created"].(float64) != 1765100000 {
					t.Errorf("chunk header: %v", c)
				}
				choices := c["choices"].([]any)
				if len(choices) == 0 {
					continue
				}
				delta := choices[0].(map[string]any)["delta"].(map[string]any)
				content += str(delta["content"])
				reasoning += str(delta["reasoning_content"])
				if calls, ok := delta["tool_calls"].([]any); ok {
					call := calls[0].(map[string]any)
					fn := call["function"].(map[string]any)
					name += str(fn["name"])
					args += str(fn["arguments"])
				}
			}
			if content != tt.content || name != tt.toolName {
				t.Errorf("content %q, tool %q; want %q, %q", content, name, tt.content, tt.toolName)
			}
			if tt.toolName != "" && args != `{"city":"Paris"}` {
				t.Errorf("arguments %q", args)
			}
			if tt.include && reasoning == "" {
				t.Errorf("no reasoning_content from a reasoning item")
			}
			usage := chunks[len(chunks)-2]["usage"]
			if u, ok := usage.(map[string]any); !ok || u["total_tokens"].(float64) == 0 {
				t.Errorf("last chunk before [DONE] carries no usage: %v", chunks[len(chunks)-2])
			}
		})
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// frontEv writes one Responses SSE event as the API sends it.
func frontEv(typ, data string) []byte {
	return []byte("event: " + typ + "\ndata: " + data + "\n\n")
}

func TestChatStreamCases(t *testing.T) {
	created := frontEv("response.created", `{"type":"response.created","response":{"id":"resp_1","object":"response","created_at":7,"status":"in_progress","model":"gpt-5.5","output":[]}}`)
	text := frontEv("response.output_text.delta", `{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}`)
	completed := frontEv("response.completed", `{"type":"response.completed","response":{"id":"resp_1","status":"completed","model":"gpt-5.5","output":[],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}}`)
	failed := frontEv("response.failed", `{"type":"response.failed","response":{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"boom"}}}`)
	raw := func(data string) []byte { return []byte("event: " + frontPassthrough + "\ndata: " + data + "\n\n") }
	chunk := `{"id":"chatcmpl-n","object":"chat.completion.chunk","created":1,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`
	tests := []struct {
		name   string
		events [][]byte
		want   string
		done   bool
	}{
		{"role rides on the first output", [][]byte{created, text, text}, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-5.5","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
			`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-5.5","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}` + "\n\n", false},
		{"opening events say nothing", [][]byte{created, frontEv("response.in_progress", `{"type":"response.in_progress","response":{"id":"resp_1"}}`)}, "", false},
		{"empty answer still has a role", [][]byte{created, completed}, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-5.5","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n" + frontDone, true},
		{"failure becomes an error chunk", [][]byte{created, text, failed}, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-5.5","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
			`data: {"error":{"message":"boom","type":"server_error","param":null,"code":"server_error"}}` + "\n\n" + frontDone, true},
		{"flat error event", [][]byte{frontEv("error", `{"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null}`)},
			`data: {"error":{"message":"slow down","type":"server_error","param":null,"code":"rate_limit_exceeded"}}` + "\n\n" + frontDone, true},
		{"nothing after the end", [][]byte{created, completed, text, failed}, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-5.5","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n" + frontDone, true},
		{"passthrough chunks verbatim, derived events ignored", [][]byte{created, raw(chunk), text, raw("[DONE]"), completed}, "data: " + chunk + "\n\n" + frontDone, true},
		{"passthrough cut: the relay's failure ends it", [][]byte{raw(chunk), text, failed}, "data: " + chunk + "\n\n" +
			`data: {"error":{"message":"boom","type":"server_error","param":null,"code":"server_error"}}` + "\n\n" + frontDone, true},
		{"passthrough raw error: derived failure ignored", [][]byte{raw(`{"error":{"message":"bad","type":"invalid_request_error"}}`), failed}, `data: {"error":{"message":"bad","type":"invalid_request_error"}}` + "\n\n", false},
		{"CRLF events", [][]byte{bytes.ReplaceAll(append(append([]byte{}, created...), text...), []byte("\n"), []byte("\r\n"))},
			`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-5.5","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":null}]}` + "\n\n", false},
		{"no created: a header from the request", [][]byte{text}, `data: {"id":"chatcmpl-proxy","object":"chat.completion.chunk","created":0,"model":"gpt-5.5","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":null}]}` + "\n\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewChatStream(ChatRequest{Model: "gpt-5.5"})
			var out []byte
			for _, ev := range tt.events {
				out = append(out, s.Event(ev)...)
			}
			if string(out) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
			if s.Done() != tt.done {
				t.Errorf("Done() = %v, want %v", s.Done(), tt.done)
			}
		})
	}
}

func TestChatCompletionRefuses(t *testing.T) {
	tests := []struct{ name, response string }{
		{"not JSON", `{"id":`},
		{"failed response", `{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"boom"},"output":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out, err := ChatCompletion([]byte(tt.response)); err == nil {
				t.Errorf("no error; got %s", out)
			}
		})
	}
}

// BenchmarkChatStreamEvent is the cost of one text delta event, the bulk
// of every stream.
func BenchmarkChatStreamEvent(b *testing.B) {
	s := NewChatStream(ChatRequest{Model: "gpt-5.5", IncludeUsage: true})
	s.Event(frontEv("response.created", `{"type":"response.created","sequence_number":0,"response":{"id":"resp_0123456789abcdef","object":"response","created_at":1765100000,"status":"in_progress","model":"gpt-5.5","output":[]}}`))
	ev := frontEv("response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":12,"item_id":"msg_0123456789abcdef","output_index":1,"content_index":0,"delta":" world","logprobs":[],"obfuscation":"x1y2z3"}`)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		if s.Event(ev) == nil {
			b.Fatal("no chunk")
		}
	}
}

// BenchmarkChatStreamToolEvent is the cost of one argument delta.
func BenchmarkChatStreamToolEvent(b *testing.B) {
	s := NewChatStream(ChatRequest{Model: "gpt-5.5"})
	s.Event(frontEv("response.output_item.added", `{"type":"response.output_item.added","output_index":0,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"shell"}}`))
	ev := frontEv("response.function_call_arguments.delta", `{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":0,"delta":"{\"cmd\":"}`)
	b.ReportAllocs()
	for b.Loop() {
		if s.Event(ev) == nil {
			b.Fatal("no chunk")
		}
	}
}
