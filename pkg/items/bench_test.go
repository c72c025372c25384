package items_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/proxy-dev/proxy/pkg/items"
)

// codexBody is a Codex request of a long conversation: the captured
// 0.171.0 turn, its history grown to n turns, each with a reasoning item
// of a 2 KiB blob and an assistant message (as Codex replays them).
func codexBody(b testing.TB, n int) ([]byte, []items.Sum) {
	b.Helper()
	var req map[string]json.RawMessage
	if err := json.Unmarshal(sampleBody(b, "request-0.171-turn2-reasoning-replay.json"), &req); err != nil {
		b.Fatal(err)
	}
	var input []json.RawMessage
	_ = json.Unmarshal(req["input"], &input)
	var sums []items.Sum
	blob := bytes.Repeat([]byte("gAAAAABpZ"), 228)
	for i := 0; i < n; i++ {
		enc := fmt.Sprintf("%s%06d", blob, i)
		sums = append(sums, items.SumOf([]byte(enc)))
		rs, _ := json.Marshal(map[string]any{"type": "reasoning", "id": fmt.Sprintf("rs_%d", i), "summary": []any{map[string]any{"type": "summary_text", "text": "thinking about it"}}, "content": nil, "encrypted_content": enc})
		msg, _ := json.Marshal(map[string]any{"type": "message", "role": "assistant", "content": []any{map[string]any{"type": "output_text", "text": "an answer of some length, as assistants give"}}})
		user, _ := json.Marshal(map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": "and then?"}}})
		input = append(input, user, rs, msg)
	}
	req["input"], _ = json.Marshal(input)
	body, _ := json.Marshal(req)
	return body, sums
}

// BenchmarkClean is what a request costs when it must be looked at (a
// failover, a move, a resumed conversation): the walk of its input, the
// verdicts, and the rewrite without the other account's items. A sticky
// turn of a conversation nobody else served pays none of it (OnlyBy).
func BenchmarkClean(b *testing.B) {
	for _, turns := range []int{10, 100} {
		body, sums := codexBody(b, turns)
		recs := map[items.Sum]items.Record{}
		for i, s := range sums {
			who := "acct-a"
			if i%2 == 1 {
				who = "acct-b"
			}
			recs[s] = items.Record{Account: who}
		}
		b.Run(fmt.Sprintf("%d_turns_%dKiB", turns, len(body)>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				in, err := items.Scan(body)
				if err != nil {
					b.Fatal(err)
				}
				vs := items.Decide(in, recs, items.Target{Account: "acct-a", Own: true})
				edits := map[int][]byte{}
				for i, v := range vs {
					if v != items.Keep {
						edits[in.Items[i].Elem] = nil
					}
				}
				if len(in.Rewrite(edits)) >= len(body) {
					b.Fatal("nothing removed")
				}
			}
		})
	}
}

// BenchmarkOnlyBy is the whole cost a sticky turn pays.
func BenchmarkOnlyBy(b *testing.B) {
	notes := []string{"acct-a"}
	b.ReportAllocs()
	for b.Loop() {
		if !items.OnlyBy(notes, "acct-a") {
			b.Fatal("not only by acct-a")
		}
	}
}
