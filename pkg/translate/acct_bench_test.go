package translate

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
)

// acctBigRequest is a Codex request of about size bytes: the tool turn of
// testdata with its history repeated (calls, outputs of a few KB, answers),
// as a long session resends it on every turn.
func acctBigRequest(tb testing.TB, size int) []byte {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(acctRead(tb, "tool.request.json"), &body); err != nil {
		tb.Fatal(err)
	}
	var input []json.RawMessage
	_ = json.Unmarshal(body["input"], &input)
	output := strings.Repeat("drwxr-xr-x 2 dev dev 4096 Nov 25 10:00 \"dir\"\n", 80)
	for n := 0; ; n++ {
		id := "call_" + strconv.Itoa(n)
		// By hand, not from maps: Codex writes "type" first.
		q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
		call := json.RawMessage(`{"type":"function_call","call_id":` + q(id) + `,"name":"exec_command","arguments":` + q(`{"cmd":"ls -la dir`+strconv.Itoa(n)+`"}`) + `}`)
		out := json.RawMessage(`{"type":"function_call_output","call_id":` + q(id) + `,"output":` + q(output) + `}`)
		msg := json.RawMessage(`{"type":"message","role":"assistant","content":[{"type":"output_text","text":` + q("Listed dir "+strconv.Itoa(n)+"; next one.") + `}]}`)
		input = append(input, call, out, msg)
		body["input"], _ = json.Marshal(input)
		b, _ := json.Marshal(body)
		if len(b) >= size {
			return b
		}
		if n > 100000 {
			tb.Fatal("request does not grow")
		}
	}
}

// BenchmarkResponsesToChat translates a 1 MiB Codex request.
func BenchmarkResponsesToChat(b *testing.B) {
	body := acctBigRequest(b, 1<<20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ResponsesToChat(body, ChatOptions{Model: "deepseek-chat"}); err != nil {
			b.Fatal(err)
		}
	}
}

// acctRepeat yields chunk n times, then tail: an endless-looking upstream
// that costs nothing to produce.
type acctRepeat struct {
	chunk, tail []byte
	n, off      int
}

func (r *acctRepeat) Read(p []byte) (int, error) {
	if r.n == 0 {
		if len(r.tail) == 0 {
			return 0, io.EOF
		}
		k := copy(p, r.tail)
		r.tail = r.tail[k:]
		return k, nil
	}
	k := copy(p, r.chunk[r.off:])
	r.off += k
	if r.off == len(r.chunk) {
		r.off = 0
		r.n--
	}
	return k, nil
}

// BenchmarkRebuildChunk measures one text chunk through Rebuild: ns/op and
// allocs/op are per chunk.
func BenchmarkRebuildChunk(b *testing.B) {
	for _, bc := range []struct {
		name, delta string
	}{
		{"text", `{"content":"word "}`},
		{"tool_args", `{"tool_calls":[{"index":0,"function":{"arguments":"ab"}}]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			plan := acctPlan(b, "tool.request.json")
			first := acctChunk(`{"role":"assistant","content":"","tool_calls":[{"index":0,"id":"c","function":{"name":"exec_command","arguments":""}}]}`, "")
			if bc.name == "text" {
				first = acctChunk(`{"role":"assistant","content":"x"}`, "")
			}
			chunk := []byte(acctChunk(bc.delta, ""))
			up := &acctRepeat{chunk: chunk, n: b.N, tail: []byte(acctChunk(`{}`, "stop") + acctUsageChunk)}
			body := io.MultiReader(strings.NewReader(first), up)
			rc := Rebuild(io.NopCloser(body), "text/event-stream", plan, RebuildOptions{MaxEvent: 1 << 30})
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			b.ResetTimer()
			for {
				_, err := rc.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
