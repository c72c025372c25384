package translate

import (
	"encoding/json"
	"testing"
)

// FuzzResponsesToChat checks that any request the translation accepts
// becomes valid JSON: text is copied from the request unescaped, so a slip
// would show here first.
func FuzzResponsesToChat(f *testing.F) {
	for _, name := range []string{"plain", "tool", "apply_patch", "namespace", "compaction"} {
		f.Add(acctRead(f, name+".request.json"))
	}
	f.Add([]byte(`{"model":"m","input":"x\u0000\"","tools":[{"type":"custom","name":"a.b","format":{"type":"grammar","definition":"\\\\"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, _, err := ResponsesToChat(body, ChatOptions{MaxToolName: 20})
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out of %s:\n%s", body, out)
		}
	})
}

// FuzzRebuild checks that any upstream bytes give a stream of well-formed
// events, never a panic.
func FuzzRebuild(f *testing.F) {
	for _, name := range []string{"text", "reasoning", "two_tools", "apply_patch", "cut_mid_tool", "error", "length", "compaction"} {
		f.Add(acctRead(f, name+".chunks.sse"), false)
	}
	f.Add(acctRead(f, "json_answer.chunks.json"), true)
	plan := acctPlan(f, "apply_patch.request.json")
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		ct := "text/event-stream"
		if isJSON {
			ct = "application/json"
		}
		acctEvents(t, acctRebuild(t, body, ct, plan, RebuildOptions{MaxEvent: 4096}))
	})
}
