package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// The Vercel AI SDK releases the front door is tested against (pinned in
// .ci/run as well). ai 7 needs Node 22; the 6 line and its @ai-sdk/openai 3
// run on the Node 20 the machines have. zod is the SDK's peer dependency,
// used for the tool's input schema.
var aiSDKPackages = []pinned{{"ai", "6.0.333"}, {"@ai-sdk/openai", "3.0.141"}, {"zod", "4.6.7"}}

// The Vercel AI SDK in chat mode (openai.chat(model): Chat Completions, not
// Responses) through the front door's /chat/completions route, on both kinds
// of account: generateText and streamText, each calling a tool whose execute
// function's result goes back for the answer.
func TestChatAISDK(t *testing.T) {
	prefix := npmPrefix(t, "PROXY_TEST_AI_SDK", aiSDKPackages...)
	node := nodeBinary(t, "PROXY_TEST_AI_SDK")
	for _, kind := range chatAccountKinds {
		t.Run(kind, func(t *testing.T) {
			reply := "Hello from " + kind + "."
			up, p := startChatPool(t, kind, fakeupstream.WithToolCall(weatherTool, weatherArgs))
			type call struct {
				Name  string
				Input struct{ City string }
			}
			type result struct {
				Text, Deltas, FinishReason string
				Steps                      int
				ToolCalls                  []call
				Usage                      struct{ Input, Output int }
			}
			var got struct {
				Generate, Stream result
				Executed         []string
			}
			runNodeScript(t, p, node, "chat_ai_sdk.js", &got,
				"NODE_PATH="+filepath.Join(prefix, "node_modules"), "PROXY_URL="+p.URL, "CLIENT_KEY="+clientKey)
			for name, r := range map[string]result{"generateText": got.Generate, "streamText": got.Stream} {
				if r.Text != reply || r.FinishReason != "stop" || r.Steps != 2 {
					t.Errorf("%s: %+v, want %q after 2 steps", name, r, reply)
				}
				if len(r.ToolCalls) != 1 || r.ToolCalls[0].Name != weatherTool || r.ToolCalls[0].Input.City != "Paris" {
					t.Errorf("%s: tool calls %+v", name, r.ToolCalls)
				}
				if r.Usage.Input <= 0 || r.Usage.Output <= 0 {
					t.Errorf("%s: usage %+v", name, r.Usage)
				}
			}
			if got.Stream.Deltas != reply {
				t.Errorf("streamText deltas %q, want %q", got.Stream.Deltas, reply)
			}
			if strings.Join(got.Executed, ",") != "Paris,Paris" {
				t.Errorf("the tool ran for %q, want Paris twice", got.Executed)
			}
			// generateText, then streamText: a tool call and its result each.
			sent := sentRequests(t, up, kind, 4)
			for i, s := range sent {
				if !s.hasTool(weatherTool) {
					t.Errorf("request %d offers no function %s: %s", i, weatherTool, s.Raw)
				}
				if out := s.lastInput(); (i%2 == 1) != (out == "function_call_output") {
					t.Errorf("request %d ends with a %s: %s", i, out, s.Raw)
				}
			}
		})
	}
}
