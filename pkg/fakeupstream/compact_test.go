package fakeupstream

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestCompactionTrigger: a /responses request whose input ends with a
// compaction_trigger item (Codex's server-side compaction, "remote
// compaction v2") is answered with exactly one compaction output item naming
// the account, in the stream and in response.completed; the same request
// without the trigger, or with it earlier in the input, gets the usual
// message.
func TestCompactionTrigger(t *testing.T) {
	s := start(t, New("alpha", WithChatGPT("tok", "acct")))
	h := http.Header{"Authorization": {"Bearer tok"}, "Chatgpt-Account-Id": {"acct"}}
	const user = `{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}`
	tests := []struct {
		name       string
		input      string
		compaction bool
	}{
		{name: "trigger last", input: user + `,{"type":"compaction_trigger"}`, compaction: true},
		{name: "no trigger", input: user},
		{name: "trigger not last", input: `{"type":"compaction_trigger"},` + user},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"model":"gpt-5","stream":true,"store":false,"input":[%s]}`, tc.input)
			resp := do(t, testCtx(t), "POST", s.URL()+"/backend-api/codex/responses", body, h)
			defer resp.Body.Close()
			evs, err := newSSEReader(resp.Body).readAll()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, %v", resp.StatusCode, err)
			}
			var done []any
			var completed []any
			for _, e := range evs {
				switch e.Name {
				case "response.output_item.done":
					done = append(done, e.Data["item"])
				case "response.completed":
					completed, _ = get(e.Data, "response.output").([]any)
				}
			}
			if len(done) != 1 || len(completed) != 1 {
				t.Fatalf("%d output_item.done, %d items completed; want one each", len(done), len(completed))
			}
			for _, item := range []any{done[0], completed[0]} {
				typ, _ := get(item, "type").(string)
				enc, _ := get(item, "encrypted_content").(string)
				if tc.compaction {
					id, _ := get(item, "id").(string)
					acct, minted, ok := MintedBy(enc)
					if typ != "compaction" || !strings.HasPrefix(id, "cmp_") || !ok || acct != "alpha" || minted != id || get(item, "role") != nil || get(item, "content") != nil {
						t.Errorf("item %v, want only a compaction item alpha minted for its id", item)
					}
				} else if typ != "message" || enc != "" {
					t.Errorf("item %v, want the usual message", item)
				}
			}
		})
	}
}
