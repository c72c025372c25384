package e2e_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// Issue 21's cost: a translated stream is passed on event by event, and
// what one holds is bounded by limits.max_event_bytes.

// streamGuard bounds the wait for a line that must come while the upstream
// hangs: a proxy that buffered would never send it, and the test would
// hang. It bounds a hang, not a speed; nothing waits it out when things
// go right.
const streamGuard = time.Minute

// openStream posts body to url and returns the stream's lines as they
// arrive; the channel closes at the end of the body.
func openStream(t *testing.T, url, body string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Session_id", "flush")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(resp))
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// readUntil reads lines until one contains want and returns what it read,
// or fails the test when the stream ends or streamGuard passes first.
func readUntil(t *testing.T, lines <-chan string, want string) string {
	t.Helper()
	var seen strings.Builder
	guard := time.After(streamGuard)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before %q:\n%s", want, seen.String())
			}
			seen.WriteString(line + "\n")
			if strings.Contains(line, want) {
				return seen.String()
			}
		case <-guard:
			t.Fatalf("%q did not reach the client while the upstream hung (buffered?); it had:\n%s", want, seen.String())
		}
	}
}

// readRest reads the stream to its end.
func readRest(lines <-chan string) string {
	var rest strings.Builder
	for line := range lines {
		rest.WriteString(line + "\n")
	}
	return rest.String()
}

// While the upstream hangs mid-answer, the client already has the
// translated delta the upstream sent before it hung, in both directions
// and through the passthrough; once it goes on, the stream completes.
func TestTranslatedStreamsFlushEachEvent(t *testing.T) {
	const (
		responsesBody = `{"model":"gpt-5","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}],"tools":[{"type":"function","name":"get_goal","parameters":{"type":"object","properties":{}}}]}`
		chatBody      = `{"model":"gpt-5","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	)
	tests := []struct {
		name    string
		chat    bool // the account speaks only Chat Completions
		tool    bool // the upstream answers with a get_goal call
		path    string
		body    string
		fault   fakeupstream.Fault
		want    string // what must arrive while the upstream hangs
		wantEnd string
	}{
		{
			name: "chat client, Responses account", path: "/v1/chat/completions", body: chatBody,
			// created, in_progress, output_item.added, content_part.added, the first delta
			fault: fakeupstream.Fault{HangAfter: 5},
			want:  `"content":"first "`, wantEnd: "data: [DONE]",
		},
		{
			name: "Responses client, chat-only account", chat: true, path: "/v1/responses", body: responsesBody,
			fault: fakeupstream.Fault{HangAfter: 2}, // the role chunk, the first content chunk
			want:  `"delta":"first "`, wantEnd: "event: response.completed",
		},
		{
			name: "Responses client, chat-only account, a tool call", chat: true, tool: true, path: "/v1/responses", body: responsesBody,
			fault: fakeupstream.Fault{HangAfter: 3}, // role, the call's opening, its first piece of arguments
			want:  `"type":"response.function_call_arguments.delta"`, wantEnd: "event: response.completed",
		},
		{
			name: "chat client, chat-only account (passthrough)", chat: true, path: "/v1/chat/completions", body: chatBody,
			fault: fakeupstream.Fault{HangAfter: 2},
			want:  `"content":"first "`, wantEnd: "data: [DONE]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []fakeupstream.Option{fakeupstream.WithAPIKey(keyA), fakeupstream.WithReply("first second third.")}
			account := openaiAccount
			if tt.chat {
				opts = append(opts, fakeupstream.WithChatOnly())
				account = chatAccount
			}
			if tt.tool {
				opts = append(opts, fakeupstream.WithToolCall("get_goal", `{"verbose":true,"why":"to see the goal"}`))
			}
			a := startUpstream(t, "a", opts...)
			hang := make(chan struct{})
			f := tt.fault
			f.Hang = hang
			a.Script(f)
			p := startProxy(t, "accounts:\n"+account("a", a, "KEY_A", 1), env)
			lines := openStream(t, p.URL+tt.path, tt.body)
			head := readUntil(t, lines, tt.want)
			if strings.Contains(head, tt.wantEnd) {
				t.Fatalf("the stream ended while the upstream hung:\n%s", head)
			}
			close(hang)
			if rest := readRest(lines); !strings.Contains(rest, tt.wantEnd) {
				t.Fatalf("after the upstream went on, no %q:\n%s%s\n%s", tt.wantEnd, head, rest, p.Logs)
			}
		})
	}
}

// What one translated stream holds is bounded by limits.max_event_bytes
// (64 KiB here, the least it may be): a chunk past it, or a message's text
// or a call's arguments grown past it piece by piece, ends the answer with
// response.failed upstream_event_too_large (or, at the chat door, an error
// chunk and [DONE]) and never completes the item.
func TestTranslatedStreamsAreBounded(t *testing.T) {
	const (
		limit         = 64 << 10
		responsesBody = `{"model":"gpt-5","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}],"tools":[{"type":"function","name":"get_goal","parameters":{"type":"object","properties":{}}}]}`
		chatBody      = `{"model":"gpt-5","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	)
	huge := strings.Repeat("x", limit+1024) // one word: one delta, one chunk
	tests := []struct {
		name  string
		chat  bool   // the account speaks only Chat Completions
		reply string // the upstream's text
		args  string // when set, the upstream answers with a get_goal call with these arguments
		path  string
		body  string
		// want are in the stream; never are not.
		want, never []string
	}{
		{
			name: "a chunk past the bound", chat: true, reply: "first " + huge, path: "/v1/responses", body: responsesBody,
			want:  []string{`"delta":"first "`, "event: response.failed", `"code":"upstream_event_too_large"`, "a chunk larger than 65536 bytes"},
			never: []string{"response.output_text.done", "response.output_item.done", "response.completed"},
		},
		{
			name: "a message's text past the bound", chat: true, reply: strings.Repeat("word ", limit/5+100), path: "/v1/responses", body: responsesBody,
			want:  []string{"event: response.failed", `"code":"upstream_event_too_large"`, "grew past 65536 bytes"},
			never: []string{"response.output_text.done", "response.output_item.done", "response.completed"},
		},
		{
			name: "a tool call's arguments past the bound", chat: true,
			args: `{"why":"` + strings.Repeat("a", limit+1024) + `"}`, path: "/v1/responses", body: responsesBody,
			want:  []string{"response.function_call_arguments.delta", "event: response.failed", `"code":"upstream_event_too_large"`, "grew past 65536 bytes"},
			never: []string{"response.function_call_arguments.done", "response.output_item.done", "response.completed"},
		},
		{
			name: "an event past the bound at the chat door", reply: "first " + huge, path: "/v1/chat/completions", body: chatBody,
			want:  []string{`"content":"first "`, `data: {"error":`, `"code":"upstream_event_too_large"`, "data: [DONE]"},
			never: []string{`"finish_reason":"stop"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []fakeupstream.Option{fakeupstream.WithAPIKey(keyA), fakeupstream.WithReply(tt.reply)}
			account := openaiAccount
			if tt.chat {
				opts = append(opts, fakeupstream.WithChatOnly())
				account = chatAccount
			}
			if tt.args != "" {
				opts = append(opts, fakeupstream.WithToolCall("get_goal", tt.args))
			}
			a := startUpstream(t, "a", opts...)
			p := startProxy(t, "limits:\n  max_event_bytes: 65536\naccounts:\n"+account("a", a, "KEY_A", 1), env)
			out := readRest(openStream(t, p.URL+tt.path, tt.body))
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in the stream", w)
				}
			}
			for _, n := range tt.never {
				if strings.Contains(out, n) {
					t.Errorf("%q in the stream", n)
				}
			}
			if t.Failed() {
				t.Logf("stream (%d bytes):\n%.4000s\nlogs:\n%s", len(out), out, p.Logs)
			}
		})
	}
}
