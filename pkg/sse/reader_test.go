package sse

import (
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReaderNext(t *testing.T) {
	long := "data: " + strings.Repeat("x", 700<<10) + "\n\n"
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"one event", "data: a\n\n", []string{"data: a\n\n"}},
		{"two events", "event: e\ndata: a\n\ndata: b\n\n", []string{"event: e\ndata: a\n\n", "data: b\n\n"}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"data: a\r\n\r\n", "data: b\r\n\r\n"}},
		{"bare cr", "data: a\r\rdata: b\r\r", []string{"data: a\r\r", "data: b\r\r"}},
		{"mixed line ends", "data: a\r\n\ndata: b\n\r\n", []string{"data: a\r\n\n", "data: b\n\r\n"}},
		{"comment is part of the event", ": ping\ndata: a\n\n", []string{": ping\ndata: a\n\n"}},
		{"comment alone", ": ping\n\n", []string{": ping\n\n"}},
		{"multi-line data", "data: a\ndata: b\n\n", []string{"data: a\ndata: b\n\n"}},
		{"extra blank lines are events", "\ndata: a\n\n\n", []string{"\n", "data: a\n\n", "\n"}},
		{"trailing event without blank line", "data: a\n\ndata: b\n", []string{"data: a\n\n", "data: b\n"}},
		{"trailing partial line", "data: a\n\ndata: b", []string{"data: a\n\n", "data: b"}},
		{"cr at eof ends a blank line", "data: a\r\r", []string{"data: a\r\r"}},
		{"line longer than any buffer", long + "data: b\n\n", []string{long, "data: b\n\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(NewReader(strings.NewReader(tt.in)))
			if err != io.EOF {
				t.Fatalf("final error %v, want io.EOF", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("events %s\nwant %s", short(got), short(tt.want))
			}
		})
	}
}

// TestReaderSplits feeds the same stream whole, one byte at a time and in
// random pieces: the events must not depend on how the bytes arrive.
func TestReaderSplits(t *testing.T) {
	streams := map[string]string{
		"realistic":  realisticStream(200, 50<<10),
		"crlf":       strings.ReplaceAll(realisticStream(20, 1<<10), "\n", "\r\n"),
		"bare cr":    strings.ReplaceAll(realisticStream(20, 1<<10), "\n", "\r"),
		"no ending":  "data: a\r\n\r\ndata: b\r",
		"blank runs": "\n\n\r\n\rdata: x\n\n\n",
	}
	for name, s := range streams {
		want, err := readAll(NewReader(strings.NewReader(s)))
		if err != io.EOF {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Join(want, "") != s {
			t.Fatalf("%s: events do not add up to the stream", name)
		}
		sources := []struct {
			name string
			r    io.Reader
		}{
			{"one byte at a time", iotest.OneByteReader(strings.NewReader(s))},
			{"random pieces", &chunkReader{data: []byte(s), rng: rand.New(rand.NewPCG(1, 2)), max: 4096}},
			{"small random pieces", &chunkReader{data: []byte(s), rng: rand.New(rand.NewPCG(3, 4)), max: 7}},
			{"data with EOF", iotest.DataErrReader(strings.NewReader(s))},
		}
		for _, src := range sources {
			t.Run(name+"/"+src.name, func(t *testing.T) {
				got, err := readAll(NewReader(src.r))
				if err != io.EOF {
					t.Fatalf("final error %v, want io.EOF", err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("got %d events, want %d: %s", len(got), len(want), short(got))
				}
			})
		}
	}
}

func TestReaderErrors(t *testing.T) {
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		src  io.Reader
		want []string
		err  error
	}{
		{"complete events come before the error", io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)), []string{"data: a\n\n"}, boom},
		{"timeout", iotest.TimeoutReader(strings.NewReader("data: a\n\n")), []string{"data: a\n\n"}, iotest.ErrTimeout},
		{"no progress", zeroReader{}, nil, io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.src)
			got, err := readAll(r)
			if !errors.Is(err, tt.err) || !strings.HasPrefix(err.Error(), "sse: ") {
				t.Fatalf("error %v, want wrapped %v", err, tt.err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("events %s, want %s", short(got), short(tt.want))
			}
			if _, again := r.Next(); !errors.Is(again, tt.err) {
				t.Fatalf("error is not sticky: %v", again)
			}
		})
	}
}

func TestReaderReset(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n\ndata: partial"))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	r.Reset(strings.NewReader("data: b\n\n"))
	got, err := readAll(r)
	if err != io.EOF || !slices.Equal(got, []string{"data: b\n\n"}) {
		t.Fatalf("after Reset: %q, %v", got, err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// short keeps failure messages readable when events are huge.
func short(evs []string) string {
	var b strings.Builder
	for _, e := range evs {
		if len(e) > 60 {
			e = e[:30] + "..." + e[len(e)-20:]
		}
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(e, "\r", `\r`), "\n", `\n`) + " | ")
	}
	return b.String()
}

func TestBuffered(t *testing.T) {
	r := NewReader(strings.NewReader("data: 1\n\ndata: 2\n\ndata: 3"))
	if ev, err := r.Next(); err != nil || string(ev) != "data: 1\n\n" {
		t.Fatalf("first: %q %v", ev, err)
	}
	if !r.Buffered() {
		t.Fatal("the second event arrived with the first but Buffered is false")
	}
	if ev, _ := r.Next(); string(ev) != "data: 2\n\n" {
		t.Fatalf("second: %q", ev)
	}
	if r.Buffered() {
		t.Fatal("an incomplete trailing event counts as buffered")
	}
}

func TestReaderMaxEvent(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		max     int
		wantErr bool
	}{
		{"event under the limit", "data: " + strings.Repeat("a", 100) + "\n\n", 1024, false},
		{"line without end past the limit", "data: " + strings.Repeat("a", 5000), 1024, true},
		{"complete event past the limit", "data: " + strings.Repeat("a", 5000) + "\n\n", 1024, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.input))
			r.SetMax(tt.max)
			_, err := r.Next()
			if got := errors.Is(err, ErrEventTooLarge); got != tt.wantErr {
				t.Fatalf("Next error %v, want ErrEventTooLarge: %v", err, tt.wantErr)
			}
			if tt.wantErr && cap(r.buf) > 2*tt.max+initialBufSize {
				t.Fatalf("buffer grew to %d bytes for a limit of %d", cap(r.buf), tt.max)
			}
		})
	}
}

// endless is an upstream that sends one line forever and never ends it.
type endless struct{ sent int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.sent += len(p)
	return len(p), nil
}

func TestReaderEndlessLineBounded(t *testing.T) {
	src := &endless{}
	r := NewReader(src)
	r.SetMax(1 << 20)
	if _, err := r.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("Next = %v, want ErrEventTooLarge", err)
	}
	if src.sent > 2<<20 {
		t.Fatalf("read %d bytes of an endless line with a 1 MiB limit", src.sent)
	}
}
