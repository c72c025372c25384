package sse

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// realisticStream is shaped like an upstream Responses API stream: created,
// ~200 text deltas, then a completed event whose output holds the whole text
// (outputSize bytes of it) on one data line.
func realisticStream(deltas, outputSize int) string {
	var b strings.Builder
	b.WriteString("event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"model\":\"gpt-5.5\"}}\n\n")
	b.WriteString(": keep-alive\n\n")
	for i := range deltas {
		fmt.Fprintf(&b, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":%d,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"word%d \\\"q\\\" \"}\n\n", i+1, i)
	}
	text := strings.Repeat("All tests pass; the \\\"fix\\\" is in.\\n", outputSize/36+1)[:outputSize]
	text = strings.TrimRight(text, "\\")
	fmt.Fprintf(&b, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":%d,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5.5-2026\",\"output\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"%s\"}]}],\"usage\":{\"input_tokens\":51234,\"input_tokens_details\":{\"cached_tokens\":48000},\"output_tokens\":1200,\"output_tokens_details\":{\"reasoning_tokens\":300},\"total_tokens\":52434}}}\n\n", deltas+1, text)
	return b.String()
}

// chunkReader returns its data in pieces of random size, like a network.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(1+c.rng.IntN(c.max), len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// readAll collects every event (copied) and the final error.
func readAll(r *Reader) ([]string, error) {
	var evs []string
	for {
		ev, err := r.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, string(ev))
	}
}
