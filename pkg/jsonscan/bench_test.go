package jsonscan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchBodies are request bodies of the shapes the relay validates on
// every request: the load test's (one 64 KiB plain text), the loadbench
// one (code with an escaped quote every 80 bytes), a Codex conversation
// (short items, escapes every few dozen bytes, base64 reasoning) and the
// captured Codex requests.
func benchBodies(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	plain, _ := json.Marshal(map[string]any{
		"model": "gpt-5.1-codex-max", "stream": true, "store": false,
		"input": []any{
			map[string]any{"type": "message", "role": "developer", "content": []any{map[string]any{"type": "input_text", "text": strings.Repeat("x", 64<<10)}}},
			map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": "hi"}}},
		},
	})
	out["plain-64KiB"] = plain
	line := `func main() { fmt.Println(\"hello, world\") } // padding the conversation so far. `
	out["code-64KiB"] = []byte(`{"model":"gpt-5","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"` +
		strings.Repeat(line, (64<<10)/len(line)) + `"}]}],"stream":true}`)
	var conv bytes.Buffer
	conv.WriteString(`{"model":"gpt-5.5","stream":true,"input":[`)
	for turn := 0; conv.Len() < 64<<10; turn++ {
		if turn > 0 {
			conv.WriteByte(',')
		}
		conv.WriteString(`{"type":"message","role":"user","content":[{"type":"input_text","text":"please fix the failing test in pkg/foo"}]}`)
		conv.WriteString(`,{"type":"reasoning","summary":[],"encrypted_content":"` + strings.Repeat("gAAAAABo", 256) + `"}`)
		conv.WriteString(`,{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"go test ./...\",\"workdir\":\"/home/dev\"}","call_id":"call_1"}`)
		conv.WriteString(`,{"type":"function_call_output","call_id":"call_1","output":"` + strings.Repeat(`ok  \tgithub.com/x/y\t0.01s\n`, 40) + `"}`)
	}
	conv.WriteString(`],"prompt_cache_key":"01a2149e-2545-7823-9ddf-83359584797f"}`)
	out["conversation-64KiB"] = conv.Bytes()
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "codex-samples", "*.json"))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var s struct {
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(raw, &s); err != nil || len(s.Body) == 0 || s.Body[0] != '{' {
			continue
		}
		out["sample-"+strings.TrimSuffix(filepath.Base(p), ".json")] = s.Body
	}
	for name, b := range out {
		if !json.Valid(b) {
			tb.Fatalf("bench body %s is not valid JSON", name)
		}
	}
	return out
}

// BenchmarkObjectFields is the validating walk session.Parse makes over a
// request body: every member of the top level seen, the whole body checked.
func BenchmarkObjectFields(b *testing.B) {
	bodies := benchBodies(b)
	for _, name := range sortedKeys(bodies) {
		body := bodies[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := ObjectFields(body, func(k, v []byte) bool { return true }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
