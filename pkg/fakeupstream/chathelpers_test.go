package fakeupstream

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// chatClock is the fixed time chat tests run at.
var chatClock = time.Unix(1_765_000_000, 0)

// startChat starts a chat-only server with a fixed clock.
func startChat(t *testing.T, opts ...Option) *Server {
	t.Helper()
	return start(t, New("deep", append([]Option{WithChatOnly(), WithClock(func() time.Time { return chatClock })}, opts...)...))
}

func userMsg(text string) map[string]any { return map[string]any{"role": "user", "content": text} }

// callMsg is an assistant message calling tools with the given ids.
func callMsg(ids ...string) map[string]any {
	calls := []any{}
	for _, id := range ids {
		calls = append(calls, map[string]any{"id": id, "type": "function", "function": map[string]any{"name": "exec", "arguments": "{}"}})
	}
	return map[string]any{"role": "assistant", "content": nil, "tool_calls": calls}
}

func toolMsg(id string) map[string]any {
	return map[string]any{"role": "tool", "tool_call_id": id, "content": "ok"}
}

// chatBody is a streaming chat request asking for usage, with fields added,
// replaced, or (a nil value) removed.
func chatBody(t *testing.T, fields map[string]any) string {
	t.Helper()
	return bodyWith(t, map[string]any{
		"model":          "deepseek-chat",
		"stream":         true,
		"stream_options": map[string]any{"include_usage": true},
		"messages":       []any{map[string]any{"role": "system", "content": "be brief"}, userMsg("say hi")},
	}, fields)
}

// postChat sends body to the server's /v1/chat/completions.
func postChat(t *testing.T, s *Server, body string, h http.Header) *http.Response {
	t.Helper()
	return do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/chat/completions", body, h)
}

// chatRead is a chat stream as a client reads it.
type chatRead struct {
	data   []string         // every event's data, [DONE] included
	chunks []map[string]any // the JSON ones, decoded, in order
	err    error            // what ended the stream: nil for a clean EOF
}

// done reports whether the stream ended with data: [DONE].
func (c chatRead) done() bool { return len(c.data) > 0 && c.data[len(c.data)-1] == "[DONE]" }

// finishReasons lists the non-null finish_reasons of the stream.
func (c chatRead) finishReasons() []string {
	var out []string
	for _, ch := range c.chunks {
		for _, choice := range asSlice(ch["choices"]) {
			if fr, ok := get(choice, "finish_reason").(string); ok {
				out = append(out, fr)
			}
		}
	}
	return out
}

// deltas returns every delta of the stream's first choice.
func (c chatRead) deltas() []map[string]any {
	var out []map[string]any
	for _, ch := range c.chunks {
		for _, choice := range asSlice(ch["choices"]) {
			if d, ok := get(choice, "delta").(map[string]any); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// joined concatenates a string field of every delta.
func (c chatRead) joined(field string) string {
	var b strings.Builder
	for _, d := range c.deltas() {
		if s, ok := d[field].(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

// toolCallDeltas returns every tool_calls entry of the stream, in order.
func (c chatRead) toolCallDeltas() []map[string]any {
	var out []map[string]any
	for _, d := range c.deltas() {
		for _, tc := range asSlice(d["tool_calls"]) {
			out = append(out, tc.(map[string]any))
		}
	}
	return out
}

// usage is the stream's usage chunk's usage, nil when there is none.
func (c chatRead) usage() map[string]any {
	for _, ch := range c.chunks {
		if u, ok := ch["usage"].(map[string]any); ok {
			return u
		}
	}
	return nil
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// readChat reads a chat stream to its end.
func readChat(t *testing.T, resp *http.Response) chatRead {
	t.Helper()
	defer resp.Body.Close()
	var out chatRead
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok && err == nil {
			out.data = append(out.data, rest)
			if rest != "[DONE]" {
				var m map[string]any
				if jerr := json.Unmarshal([]byte(rest), &m); jerr != nil {
					t.Fatalf("chunk is not JSON: %v\n%s", jerr, rest)
				}
				out.chunks = append(out.chunks, m)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) || line != "" {
				out.err = err
			}
			return out
		}
	}
}

// chatStreamOf posts body and reads the stream, which must answer 200.
func chatStreamOf(t *testing.T, s *Server, body string) chatRead {
	t.Helper()
	resp := postChat(t, s, body, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readBodyBytes(t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
	return readChat(t, resp)
}
