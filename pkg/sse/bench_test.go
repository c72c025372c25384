package sse

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkReader reads a realistic stream (200 deltas and a completed
// event with a 50 KB output) as the relay does: split, type every event,
// take usage from the completed one.
func BenchmarkReader(b *testing.B) {
	stream := []byte(realisticStream(200, 50<<10))
	src := bytes.NewReader(stream)
	r := NewReader(src)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		src.Reset(stream)
		r.Reset(src)
		events, usage := 0, int64(0)
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			events++
			if Type(ev) == "response.completed" {
				res, ok := Completion(ev)
				if !ok {
					b.Fatal("no completion")
				}
				usage = res.Usage.TotalTokens
			}
		}
		if events != 203 || usage != 52434 {
			b.Fatalf("%d events, usage %d", events, usage)
		}
	}
}
