package session

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse measures the hot path on the captured samples (header wins,
// body still walked for model and stream) and on synthetic Codex-like bodies
// without headers, where prompt_cache_key sits after the whole input.
// Allocations must not grow with the body.
func BenchmarkParse(b *testing.B) {
	for _, s := range loadSamples(b) {
		if s.body == nil {
			continue
		}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.body)))
			for b.Loop() {
				if _, err := Parse(s.header, s.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, size := range []int{64 << 10, 1 << 20, 4 << 20} {
		body := codexLikeBody(size)
		b.Run(fmt.Sprintf("synthetic-%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req, err := Parse(nil, body)
				if err != nil || req.Key.Source != SourcePromptCacheKey {
					b.Fatalf("%+v, %v", req.Key, err)
				}
			}
		})
	}
}

// TestCodexLikeBody keeps the benchmark's input honest.
func TestCodexLikeBody(t *testing.T) {
	body := codexLikeBody(64 << 10)
	req, err := Parse(nil, body)
	if err != nil || req.Model != "gpt-5.5" || !req.Stream || req.Key.Source != SourcePromptCacheKey {
		t.Fatalf("%+v, %v", req, err)
	}
	if len(body) < 64<<10 {
		t.Fatalf("body is %d bytes", len(body))
	}
}

// codexLikeBody builds a body shaped like a long Codex conversation: the big
// developer prompt, then turns of user text, encrypted reasoning, tool calls
// and answers, with prompt_cache_key at the end as Codex sends it.
func codexLikeBody(size int) []byte {
	var buf bytes.Buffer
	prompt := strings.Repeat(`You are Codex, a coding agent.\nFollow the user's instructions carefully; use \"apply_patch\" to edit files.\n`, 200)
	buf.WriteString(`{"model":"gpt-5.5","stream":true,"input":[`)
	buf.WriteString(`{"type":"additional_tools","role":"developer","tools":[{"type":"function","name":"exec_command"}]},`)
	fmt.Fprintf(&buf, `{"type":"message","role":"developer","content":[{"type":"input_text","text":"%s"}]}`, prompt)
	for turn := 0; buf.Len() < size; turn++ {
		fmt.Fprintf(&buf, `,{"type":"message","role":"user","content":[{"type":"input_text","text":"turn %d: please fix the failing test in pkg/foo"}]}`, turn)
		fmt.Fprintf(&buf, `,{"type":"reasoning","summary":[],"encrypted_content":"%s"}`, strings.Repeat("gAAAAABo", 512))
		fmt.Fprintf(&buf, `,{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"go test ./...\",\"workdir\":\"/home/dev\"}","call_id":"call_%d"}`, turn)
		fmt.Fprintf(&buf, `,{"type":"function_call_output","call_id":"call_%d","output":"%s"}`, turn, strings.Repeat(`ok  \tgithub.com/x/y\t0.01s\n`, 40))
		fmt.Fprintf(&buf, `,{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Fixed: the test now passes. \u2705","annotations":[]}]}`)
	}
	buf.WriteString(`],"tools":[],"tool_choice":"auto","parallel_tool_calls":false,"reasoning":{"effort":"medium"},"store":false,"include":["reasoning.encrypted_content"],"prompt_cache_key":"01a2149e-2545-7823-9ddf-83359584797f","text":{"verbosity":"low"}}`)
	return buf.Bytes()
}
