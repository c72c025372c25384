package fakeupstream

import (
	"net/http"
	"strings"
	"testing"
)

// completedUsage posts a streaming request and returns the usage of its
// response.completed.
func completedUsage(t *testing.T, s *Server, body string, h http.Header) (input, cached int) {
	t.Helper()
	resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", body, h)
	defer resp.Body.Close()
	evs, err := newSSEReader(resp.Body).readAll()
	if err != nil || len(evs) == 0 {
		t.Fatalf("stream: %v", err)
	}
	last := evs[len(evs)-1].Data
	return num(t, last, "response.usage.input_tokens"), num(t, last, "response.usage.input_tokens_details.cached_tokens")
}

func TestPromptCache(t *testing.T) {
	sid := func(id string) http.Header { return http.Header{"Session-Id": {id}} }
	long := strings.Repeat("x", 4000)
	tests := []struct {
		name       string
		first      string
		firstHdr   http.Header
		second     string
		secondHdr  http.Header
		moved      bool // the second request goes to another account
		wantCached func(firstInput, secondInput int) int
	}{
		{
			name: "same prompt_cache_key hits the cache", first: streamBody("gpt-5", "conv-1"), second: streamBody("gpt-5", "conv-1") + " ",
			wantCached: func(first, _ int) int { return first },
		},
		{
			name: "hit is capped at the current input", first: `{"stream":true,"prompt_cache_key":"conv-2","pad":"` + long + `"}`, second: streamBody("gpt-5", "conv-2"),
			wantCached: func(_, second int) int { return second },
		},
		{
			name: "other prompt_cache_key misses", first: streamBody("gpt-5", "conv-3"), second: streamBody("gpt-5", "conv-4"),
			wantCached: func(int, int) int { return 0 },
		},
		{
			name: "session-id header without prompt_cache_key", first: `{"stream":true}`, firstHdr: sid("s-1"), second: `{"stream":true,"input":"x"}`, secondHdr: sid("s-1"),
			wantCached: func(first, _ int) int { return first },
		},
		{
			name: "conversation moved to another account misses", first: streamBody("gpt-5", "conv-5"), second: streamBody("gpt-5", "conv-5"), moved: true,
			wantCached: func(int, int) int { return 0 },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := start(t, New("alpha"))
			second := a
			if tc.moved {
				second = start(t, New("beta"))
			}
			in1, cached1 := completedUsage(t, a, tc.first, tc.firstHdr)
			if cached1 != 0 {
				t.Errorf("first request cached %d", cached1)
			}
			if want := max(1, len(tc.first)/4); in1 != want {
				t.Errorf("input_tokens %d, want %d", in1, want)
			}
			in2, cached2 := completedUsage(t, second, tc.second, tc.secondHdr)
			if want := tc.wantCached(in1, in2); cached2 != want {
				t.Errorf("second request cached %d, want %d (inputs %d, %d)", cached2, want, in1, in2)
			}
		})
	}
}

// TestOutputCountsReasoning: like the real APIs, every route's output
// tokens count the reasoning inside them (output = visible + reasoning), so
// output is never less than reasoning and total is input plus output.
func TestOutputCountsReasoning(t *testing.T) {
	responses := start(t, New("alpha"))
	tools := start(t, New("beta", WithToolCall("exec_command", `{"cmd":"ls"}`)))
	chat := startChat(t)
	thinking := startChat(t, WithThinking())
	// Each returns the usage object of one answer, in its route's names.
	streamUsage := func(s *Server) func(t *testing.T) map[string]any {
		return func(t *testing.T) map[string]any {
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", ""), nil)
			defer resp.Body.Close()
			evs, err := newSSEReader(resp.Body).readAll()
			if err != nil || len(evs) == 0 {
				t.Fatalf("stream: %v", err)
			}
			u, _ := get(evs[len(evs)-1].Data, "response.usage").(map[string]any)
			return u
		}
	}
	chatUsage := func(s *Server) func(t *testing.T) map[string]any {
		return func(t *testing.T) map[string]any {
			return chatStreamOf(t, s, chatBody(t, nil)).usage()
		}
	}
	tests := []struct {
		name                   string
		usage                  func(t *testing.T) map[string]any
		in, out, reasoning     string // the route's field paths
		wantReasoning, visible int    // visible: the words of the answer
	}{
		{"responses text", streamUsage(responses), "input_tokens", "output_tokens", "output_tokens_details.reasoning_tokens", reasoningTokens, 3},
		{"responses tool call", streamUsage(tools), "input_tokens", "output_tokens", "output_tokens_details.reasoning_tokens", reasoningTokens, 1},
		{"responses compact", func(t *testing.T) map[string]any {
			resp := do(t, testCtx(t), http.MethodPost, responses.URL()+"/v1/responses/compact", `{"model":"gpt-5","input":[]}`, nil)
			defer resp.Body.Close()
			u, _ := decode(t, resp.Body)["usage"].(map[string]any)
			return u
		}, "input_tokens", "output_tokens", "output_tokens_details.reasoning_tokens", reasoningTokens, 1},
		{"chat without thinking", chatUsage(chat), "prompt_tokens", "completion_tokens", "completion_tokens_details.reasoning_tokens", 0, 3},
		{"chat thinking", chatUsage(thinking), "prompt_tokens", "completion_tokens", "completion_tokens_details.reasoning_tokens", reasoningTokens, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.usage(t)
			if u == nil {
				t.Fatal("no usage")
			}
			reasoning := 0
			if get(u, tc.reasoning) != nil {
				reasoning = num(t, u, tc.reasoning)
			}
			in, out := num(t, u, tc.in), num(t, u, tc.out)
			if reasoning != tc.wantReasoning || out != tc.visible+reasoning {
				t.Errorf("usage %v: want %s = %d visible + %d reasoning", u, tc.out, tc.visible, tc.wantReasoning)
			}
			if total := num(t, u, "total_tokens"); total != in+out {
				t.Errorf("total_tokens %d, want input %d + output %d", total, in, out)
			}
		})
	}
}
