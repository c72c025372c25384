package sse

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// FuzzReader checks that no input panics the reader or the event parsers,
// that the events add up to the input byte for byte whatever the read
// sizes, and that every event but the last ends with a blank line.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		realisticStream(3, 200),
		"data: a\r\n\r\ndata: b\r\rdata: c\n\n",
		": c\n\n\n\ndata",
		"data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":1}}}\r",
	} {
		f.Add([]byte(s), uint64(1), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, maxChunk uint8) {
		src := &chunkReader{data: bytes.Clone(in), rng: rand.New(rand.NewPCG(seed, seed)), max: int(maxChunk) + 1}
		r := NewReader(src)
		var all []byte
		var last []byte
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if len(ev) == 0 {
				t.Fatal("empty event")
			}
			if last != nil && !endsWithBlankLine(last) {
				t.Fatalf("event %q is not the last and does not end with a blank line", last)
			}
			last = bytes.Clone(ev)
			all = append(all, ev...)
			_ = Type(ev)
			_ = Data(ev)
			_, _ = Completion(ev)
		}
		if !bytes.Equal(all, in) {
			t.Fatalf("events add up to %q, input was %q", all, in)
		}
		_, _ = ResponseJSON(in)
	})
}

// endsWithBlankLine reports whether the event's last line is blank: its
// final line terminator directly follows another one (or nothing).
func endsWithBlankLine(ev []byte) bool {
	switch {
	case bytes.HasSuffix(ev, []byte("\r\n")):
		ev = ev[:len(ev)-2]
	case bytes.HasSuffix(ev, []byte("\n")), bytes.HasSuffix(ev, []byte("\r")):
		ev = ev[:len(ev)-1]
	default:
		return false
	}
	return len(ev) == 0 || ev[len(ev)-1] == '\n' || ev[len(ev)-1] == '\r'
}
