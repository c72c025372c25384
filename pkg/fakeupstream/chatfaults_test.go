package fakeupstream

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestChatStatusFaults(t *testing.T) {
	cases := []struct {
		name   string
		fault  Fault
		status int
		code   any
		param  any
		header map[string]string
	}{
		{name: "rate limited", fault: RateLimited(1500 * time.Millisecond), status: 429, code: "rate_limit_exceeded", header: map[string]string{"Retry-After": "2", "Retry-After-Ms": "1500"}},
		{name: "quota exceeded", fault: QuotaExceeded(chatClock.Add(time.Hour)), status: 429},
		{name: "context length exceeded", fault: ContextLengthExceeded(131072), status: 400, code: "context_length_exceeded", param: "messages"},
		{name: "overloaded", fault: Fault{Status: 503}, status: 503, code: "server_is_overloaded"},
		{name: "status with headers", fault: Fault{Status: 500, Header: http.Header{"X-Upstream": {"down"}}}, status: 500, header: map[string]string{"X-Upstream": "down"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startChat(t)
			s.Script(tc.fault)
			resp := postChat(t, s, chatBody(t, nil), nil)
			b := readBodyBytes(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			e := checkErrorShape(t, b)
			if tc.code != nil && e["code"] != tc.code {
				t.Errorf("code %v, want %v", e["code"], tc.code)
			}
			if tc.param != nil && e["param"] != tc.param {
				t.Errorf("param %v, want %v", e["param"], tc.param)
			}
			for k, v := range tc.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			// The fault is used up: the next request succeeds.
			if c := chatStreamOf(t, s, chatBody(t, nil)); !c.done() {
				t.Error("the request after the fault did not complete")
			}
		})
	}
	t.Run("context length message", func(t *testing.T) {
		body := ContextLengthExceeded(131072).Body
		if !strings.Contains(body, "This model's maximum context length is 131072 tokens.") {
			t.Errorf("body %s", body)
		}
	})
}

func TestChatStreamFaults(t *testing.T) {
	args := `{"cmd":"go test ./...","workdir":"/src"}`
	type want struct {
		cut       bool     // the connection drops (no clean end)
		done      bool     // data: [DONE] arrives
		finish    []string // the finish reasons seen
		usage     bool     // a usage chunk arrives
		errorCode any      // the error chunk's code; nil for no error chunk
		chunks    int      // how many JSON chunks arrive, -1 to skip
	}
	cases := []struct {
		name  string
		tool  bool
		fault Fault
		want  want
		check func(t *testing.T, c chatRead)
	}{
		{name: "no fault", fault: Fault{}, want: want{done: true, finish: []string{"stop"}, usage: true, chunks: -1}},
		{
			name: "cut mid tool call", tool: true, fault: CutMidToolCall(),
			want: want{cut: true, chunks: 3},
			check: func(t *testing.T, c chatRead) {
				calls := c.toolCallDeltas()
				if len(calls) != 2 || calls[0]["id"] == nil {
					t.Fatalf("calls %v, want the opening and one piece", calls)
				}
				if got := get(calls[1], "function.arguments").(string); got == "" || !strings.HasPrefix(args, got) || got == args {
					t.Errorf("arguments so far %q, want a strict prefix of %q", got, args)
				}
			},
		},
		{name: "cut mid tool call on a text turn", fault: CutMidToolCall(), want: want{cut: true, chunks: 4}},
		{
			name: "done without finish reason", fault: DoneWithoutFinishReason(),
			want: want{done: true, chunks: 4},
			check: func(t *testing.T, c chatRead) {
				if got := c.joined("content"); got != "Hello from deep." {
					t.Errorf("text %q, want all of it", got)
				}
			},
		},
		{name: "done without finish reason on a tool turn", tool: true, fault: DoneWithoutFinishReason(), want: want{done: true, chunks: -1}},
		{
			name: "error chunk mid-stream", fault: ErrorChunk(2, "server_error", "The model crashed."),
			want: want{done: true, errorCode: "server_error", chunks: 3},
			check: func(t *testing.T, c chatRead) {
				e := c.chunks[2]["error"].(map[string]any)
				jsonEqual(t, e, `{"message":"The model crashed.","type":"server_error","param":null,"code":"server_error"}`)
				if got := c.joined("content"); got != "Hello " {
					t.Errorf("text before the error %q", got)
				}
			},
		},
		{name: "error chunk first", fault: ErrorChunk(0, "server_is_overloaded", "Busy."), want: want{done: true, errorCode: "server_is_overloaded", chunks: 1}},
		{name: "error chunk after all content", fault: ErrorChunk(99, "server_error", "late"), want: want{done: true, errorCode: "server_error", chunks: 5}},
		{name: "first event failed after opening", fault: Fault{FirstEventFailed: true, FailAfterOpening: true}, want: want{done: true, errorCode: "server_is_overloaded", chunks: 2}},
		{name: "cut after two chunks", fault: Fault{CutAfter: 2}, want: want{cut: true, chunks: 2}},
		{name: "cut after headers", fault: Fault{CutAfter: -1}, want: want{cut: true, chunks: 0}},
		{name: "cut after one text delta", fault: CutAfterDeltas(1), want: want{cut: true, chunks: 2}},
		{name: "cut after more deltas than the text has", fault: CutAfterDeltas(50), want: want{cut: true, chunks: 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{}
			if tc.tool {
				opts = append(opts, WithToolCall("exec_command", args))
			}
			s := startChat(t, opts...)
			s.Script(tc.fault)
			c := chatStreamOf(t, s, chatBody(t, nil))
			if got := c.err != nil; got != tc.want.cut {
				t.Errorf("cut = %v (err %v), want %v", got, c.err, tc.want.cut)
			}
			if c.done() != tc.want.done {
				t.Errorf("[DONE] = %v, want %v: %v", c.done(), tc.want.done, c.data)
			}
			if got := c.finishReasons(); strings.Join(got, ",") != strings.Join(tc.want.finish, ",") {
				t.Errorf("finish reasons %v, want %v", got, tc.want.finish)
			}
			if got := c.usage() != nil; got != tc.want.usage {
				t.Errorf("usage = %v, want %v", got, tc.want.usage)
			}
			var code any
			for _, ch := range c.chunks {
				if e, ok := ch["error"]; ok {
					code = get(e, "code")
				}
			}
			if code != tc.want.errorCode {
				t.Errorf("error chunk code %v, want %v", code, tc.want.errorCode)
			}
			if tc.want.chunks >= 0 && len(c.chunks) != tc.want.chunks {
				t.Errorf("%d chunks, want %d: %v", len(c.chunks), tc.want.chunks, c.data)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestChatJSONFaults(t *testing.T) {
	cases := []struct {
		name   string
		fault  Fault
		status int
		cut    bool
	}{
		{name: "error chunk becomes a status", fault: ErrorChunk(0, "server_is_overloaded", "Busy."), status: 503},
		{name: "quota failure becomes 429", fault: ErrorChunk(0, "rate_limit_exceeded", "Slow down."), status: 429},
		{name: "mid-stream error becomes a status", fault: ErrorChunk(3, "server_error", "boom"), status: 500},
		{name: "cut mid tool call cuts the body", fault: CutMidToolCall(), status: 200, cut: true},
		{name: "cut after", fault: Fault{CutAfter: 3}, status: 200, cut: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startChat(t, WithToolCall("exec", `{"cmd":"ls"}`))
			s.Script(tc.fault)
			resp := postChat(t, s, chatBody(t, map[string]any{"stream": false}), nil)
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			_, err := io.ReadAll(resp.Body)
			if got := err != nil; got != tc.cut {
				t.Errorf("read error %v, want a cut: %v", err, tc.cut)
			}
		})
	}
}

func TestChatUnterminatedLast(t *testing.T) {
	s := startChat(t)
	s.Script(Fault{UnterminatedLast: true})
	b := readBodyBytes(t, postChat(t, s, chatBody(t, nil), nil))
	if !strings.HasSuffix(string(b), "}\n\ndata: [DONE]\n") {
		t.Errorf("stream ends %q, want [DONE] without its blank line", b[max(0, len(b)-40):])
	}
}

func TestChatEchoCredential(t *testing.T) {
	s := startChat(t, WithAPIKey("sk-secret"))
	s.Script(Fault{EchoCredential: true})
	resp := postChat(t, s, chatBody(t, nil), http.Header{"Authorization": {"Bearer sk-secret"}})
	if got := resp.Header.Get("X-Echo-Auth"); got != "Bearer sk-secret" {
		t.Errorf("X-Echo-Auth %q", got)
	}
	if c := readChat(t, resp); !strings.HasSuffix(c.joined("content"), " sk-secret") {
		t.Errorf("text %q does not quote the key", c.joined("content"))
	}
}

func TestChatHangAfterChunks(t *testing.T) {
	gate := make(chan struct{})
	s := startChat(t)
	s.Script(Fault{Hang: gate, HangAfter: 1})
	resp := postChat(t, s, chatBody(t, nil), nil)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || !strings.Contains(line, `"role":"assistant"`) {
		t.Fatalf("first line %q, %v: want the role chunk before the gate opens", line, err)
	}
	close(gate)
	rest, err := io.ReadAll(r)
	if err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("after the gate: %v, %q", err, rest)
	}
}

func TestChatTrickle(t *testing.T) {
	s := startChat(t)
	s.Script(Fault{Trickle: time.Millisecond, TrickleAfter: 1})
	resp := postChat(t, s, chatBody(t, nil), nil)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the blank line
		t.Fatal(err)
	}
	head := make([]byte, len(`data: {"id":"chatcmpl-`)+3)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(head), `data: {"id":"chatcmpl-`) {
		t.Errorf("trickled %q, want the start of a chunk", head)
	}
	more := make([]byte, 200)
	if _, err := io.ReadFull(r, more); err != nil {
		t.Fatal(err) // the bytes keep coming, one at a time
	}
	if strings.Contains(string(more), "\n") {
		t.Errorf("trickled bytes end an event: %q", more)
	}
}
